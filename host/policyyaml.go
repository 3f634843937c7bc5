package host

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A policy file is laid over the baseline as a JSON Merge Patch (RFC 7386)
// is: a mapping merges with the baseline's mapping key by key, recursively
// (so ssh.settings and sysctl.settings merge entry by entry); any other
// value — a scalar or a list — replaces the baseline's; null removes the
// key. A module section set to null (`fail2ban: ~`) is left alone; a
// setting set to null (`X11Forwarding: ~`) is not managed.

// policyDoc is a policy YAML tree and which of its nodes came from the
// user's file (for file:line in errors).
type policyDoc struct {
	name string
	root *yaml.Node
	user map[*yaml.Node]bool
}

// mergeOver lays patch over base (both mapping nodes), returning a new
// tree; nodes from patch keep their identity, so their lines stay known.
// keyOf says when two keys at path are the same (for ssh.settings, the
// same sshd keyword in any case or by an alias).
func mergeOver(base, patch *yaml.Node, user map[*yaml.Node]bool, keyOf func(path, key string) string, path string) *yaml.Node {
	if patch.Kind != yaml.MappingNode || base == nil || base.Kind != yaml.MappingNode {
		return patch
	}
	out := *patch
	out.Content = nil
	user[&out] = true
	same := func(a, b string) bool { return keyOf(path, a) == keyOf(path, b) }
	used := map[int]bool{}
	for i := 0; i+1 < len(base.Content); i += 2 {
		bk, bv := base.Content[i], base.Content[i+1]
		j := -1
		for k := 0; k+1 < len(patch.Content); k += 2 {
			if !used[k] && same(patch.Content[k].Value, bk.Value) {
				j = k
				break
			}
		}
		if j < 0 {
			out.Content = append(out.Content, bk, bv)
			continue
		}
		used[j] = true
		pk, pv := patch.Content[j], patch.Content[j+1]
		if isNull(pv) {
			continue
		}
		out.Content = append(out.Content, pk, mergeOver(bv, pv, user, keyOf, join(path, pk.Value)))
	}
	for k := 0; k+1 < len(patch.Content); k += 2 {
		if !used[k] && !isNull(patch.Content[k+1]) {
			out.Content = append(out.Content, patch.Content[k], patch.Content[k+1])
		}
	}
	return &out
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func markAll(n *yaml.Node, set map[*yaml.Node]bool) {
	set[n] = true
	for _, c := range n.Content {
		markAll(c, set)
	}
}

// decoder fills a Go value from a policy tree, with errors in the terms of
// the policy: the file and line, the key, what is allowed there.
type decoder struct {
	doc   *policyDoc
	errs  []string
	lines map[string]int // path → line, for nodes of the user's file
}

func (d *decoder) at(n *yaml.Node) string {
	if d.doc.user[n] {
		return fmt.Sprintf("%s:%d", d.doc.name, n.Line)
	}
	return d.doc.name
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	d.errs = append(d.errs, d.at(n)+": "+msg)
}

// kindName says what a node is, in words.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if isNull(n) {
		return "nothing (null)"
	}
	return fmt.Sprintf("%q", n.Value)
}

func (d *decoder) decode(n *yaml.Node, path string, v reflect.Value) {
	if d.doc.user[n] && path != "" {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		d.fail(n, path, "anchors and aliases are not supported in a policy; write the value out")
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, path, v)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "want a mapping of names to values, got %s", kindName(n))
			return
		}
		m := reflect.MakeMap(v.Type())
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if prev, dup := seen[k.Value]; dup {
				d.fail(k, path, "%q is given twice (first at line %d)", k.Value, prev.Line)
				continue
			}
			seen[k.Value] = k
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, path+"."+k.Value, elem)
			if d.doc.user[k] {
				d.lines[path+"."+k.Value] = k.Line
			}
			m.SetMapIndex(reflect.ValueOf(k.Value), elem)
		}
		v.Set(m)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			example := "[…]"
			if n.Kind == yaml.ScalarNode && !isNull(n) {
				example = "[" + n.Value + "]"
			}
			d.fail(n, path, "want a list, got %s (write %s)", kindName(n), example)
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, fmt.Sprintf("%s[%d]", path, i), s.Index(i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || isNull(n) {
			d.fail(n, path, "want a single value, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.fail(n, path, "want a whole number, got %s", kindName(n))
			return
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || (n.Value != "true" && n.Value != "false") {
			d.fail(n, path, "want true or false, got %s", kindName(n))
			return
		}
		v.SetBool(n.Value == "true")
	default:
		d.fail(n, path, "cannot be decoded (%s)", v.Type())
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping of keys, got %s", kindName(n))
		return
	}
	fields := map[string]int{}
	var names []string
	t := v.Type()
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("yaml"); tag != "" && tag != "-" {
			fields[tag] = i
			names = append(names, tag)
		}
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		where := path
		if where == "" {
			where = "the top level"
		}
		f, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key %q in %s; allowed: %s", k.Value, where, strings.Join(names, ", "))
			if s := closest(k.Value, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errs = append(d.errs, d.at(k)+": "+strings.Replace(msg, "in the top level", "at the top level", 1))
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.fail(k, join(path, k.Value), "given twice (first at line %d)", prev.Line)
			continue
		}
		seen[k.Value] = k
		if d.doc.user[k] {
			d.lines[join(path, k.Value)] = k.Line
		}
		d.decode(val, join(path, k.Value), v.Field(f))
		if d.doc.user[k] {
			d.lines[join(path, k.Value)] = k.Line
		}
	}
}

// closest is the candidate nearest to s by edit distance, if near enough
// to be a slip of the keyboard.
func closest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	limit := 1
	switch {
	case len(s) > 8:
		limit = 3
	case len(s) > 4:
		limit = 2
	}
	if bestD <= limit {
		return best
	}
	return ""
}

// Closest is closest for the module packages (a sysctl key, a keyword).
func Closest(s string, candidates []string) string { return closest(s, candidates) }

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20 // not a slip of the keyboard
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// sortedErrors orders decoder errors by file position, so the first one
// printed is the first one in the file.
func sortedErrors(errs []string) []string {
	line := func(e string) int {
		_, rest, _ := strings.Cut(e, ":")
		n, _ := strconv.Atoi(strings.SplitN(rest, ":", 2)[0])
		return n
	}
	sort.SliceStable(errs, func(i, j int) bool { return line(errs[i]) < line(errs[j]) })
	return errs
}
