package compose

import (
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// ownKey finds key among a mapping's own entries (not merged ones).
func ownKey(m *yaml.Node, key string) (k, v *yaml.Node) {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i].Tag != "!!merge" {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// lookupKey finds key in a mapping, then in what it merges with `<<`, the
// way YAML resolves it: own keys win, then merge sources in order.
// inherited reports that the key came through a merge.
func lookupKey(m *yaml.Node, key string) (k, v *yaml.Node, inherited bool) {
	return lookupDepth(m, key, 0)
}

func lookupDepth(m *yaml.Node, key string, depth int) (k, v *yaml.Node, inherited bool) {
	if depth > 32 {
		return nil, nil, false
	}
	if k, v := ownKey(m, key); k != nil {
		return k, v, depth > 0
	}
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil, false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !isMergeKey(m.Content[i]) {
			continue
		}
		src := resolve(m.Content[i+1])
		var sources []*yaml.Node
		if src != nil && src.Kind == yaml.SequenceNode {
			sources = src.Content
		} else {
			sources = []*yaml.Node{src}
		}
		for _, s := range sources {
			if k, v, _ := lookupDepth(s, key, depth+1); k != nil {
				return k, v, true
			}
		}
	}
	return nil, nil, false
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "!!merge" || k.Style == 0)
}

// serviceNode is one service as written: its key and mapping, and the YAML
// document it sits in.
type serviceNode struct {
	Name string
	Key  *yaml.Node
	Val  *yaml.Node
	Doc  int
}

// serviceNodes lists the services of every YAML document in order.
func (d *Document) serviceNodes() []serviceNode {
	if d.nodes == nil {
		d.nodes = d.listServiceNodes()
	}
	return d.nodes
}

// serviceNode is the node of a service (the last document's, as later
// documents override earlier ones).
func (d *Document) serviceNode(name string) (serviceNode, bool) {
	if d.byName == nil {
		d.byName = map[string]serviceNode{}
		for _, sn := range d.serviceNodes() {
			d.byName[sn.Name] = sn
		}
	}
	sn, ok := d.byName[name]
	return sn, ok
}

func (d *Document) listServiceNodes() []serviceNode {
	out := []serviceNode{}
	for i, doc := range d.Docs {
		if len(doc.Content) == 0 {
			continue
		}
		_, svcs := ownKey(doc.Content[0], "services")
		svcs = resolve(svcs)
		if svcs == nil || svcs.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(svcs.Content); j += 2 {
			out = append(out, serviceNode{Name: svcs.Content[j].Value, Key: svcs.Content[j], Val: svcs.Content[j+1], Doc: i})
		}
	}
	return out
}

// Locate returns the line and column of the deepest node along path that
// exists (keys of mappings, merged keys included, and indexes of
// sequences), searching every YAML document, last first as later documents
// override earlier ones. It returns 0, 0 when not even the first element exists.
func (d *Document) Locate(path ...string) (line, col int) {
	// Most lookups are under services.<name>: go straight to the service
	// instead of scanning a long services mapping each time.
	if len(path) >= 2 && path[0] == "services" {
		if sn, ok := d.serviceNode(path[1]); ok {
			l, c, _ := locateIn(sn.Val, path[2:])
			if l == 0 {
				return sn.Key.Line, sn.Key.Column
			}
			return l, c
		}
	}
	for i := len(d.Docs) - 1; i >= 0; i-- {
		if len(d.Docs[i].Content) == 0 {
			continue
		}
		if l, c, depth := locateIn(d.Docs[i].Content[0], path); depth > 0 {
			return l, c
		}
	}
	return 0, 0
}

func locateIn(n *yaml.Node, path []string) (line, col, depth int) {
	for _, p := range path {
		n = resolve(n)
		if n == nil {
			break
		}
		switch n.Kind {
		case yaml.MappingNode:
			k, v, _ := lookupKey(n, p)
			if k == nil {
				return line, col, depth
			}
			line, col, depth = k.Line, k.Column, depth+1
			n = v
		case yaml.SequenceNode:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(n.Content) {
				return line, col, depth
			}
			line, col, depth = n.Content[i].Line, n.Content[i].Column, depth+1
			n = n.Content[i]
		default:
			return line, col, depth
		}
	}
	return line, col, depth
}

var (
	reLine       = regexp.MustCompile(`line (\d+)(?:, column (\d+))?`)
	reAdditional = regexp.MustCompile(`^(\S*)\s*additional propert(?:y|ies) '([^']+)'`)
	rePath       = regexp.MustCompile(`^'?([A-Za-z0-9_.\[\]-]+?)'?\s`)
)

// modelError maps a compose-go error back to a position: YAML errors carry
// a line; schema errors carry a dotted path, which the node tree resolves.
func (d *Document) modelError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "validating "+d.Name+": ")
	msg = strings.TrimPrefix(msg, "failed to parse "+d.Name+": ")
	msg = strings.Join(strings.Fields(msg), " ")
	if strings.HasPrefix(msg, "yaml:") {
		pe := &ParseError{File: d.Name, Msg: "invalid YAML: " + strings.TrimSpace(strings.TrimPrefix(msg, "yaml:"))}
		// The last "line N" is where the problem is; earlier ones are context.
		if all := reLine.FindAllStringSubmatch(msg, -1); len(all) > 0 {
			m := all[len(all)-1]
			pe.Line, _ = strconv.Atoi(m[1])
			pe.Column, _ = strconv.Atoi(m[2])
		}
		// "line 4: mapping key … already defined at line 3": a "line N:"
		// names the offending line, later mentions are references.
		if all := reLineColon.FindAllStringSubmatch(msg, -1); len(all) > 0 {
			pe.Line, _ = strconv.Atoi(all[len(all)-1][1])
			pe.Column = 0
		}
		return pe
	}
	var path []string
	if m := reAdditional.FindStringSubmatch(msg); m != nil {
		if m[1] != "" {
			path = splitPath(m[1])
		}
		path = append(path, m[2])
	} else if m := rePath.FindStringSubmatch(msg + " "); m != nil && strings.ContainsAny(m[1], ".[") {
		path = splitPath(m[1])
	}
	line, col := 0, 0
	if len(path) > 0 {
		line, col = d.Locate(path...)
	}
	return &ParseError{File: d.Name, Line: line, Column: col, Msg: "not a valid compose file: " + msg}
}

// splitPath turns "services.web.ports.0" or "services[web].ports" into elements.
func splitPath(p string) []string {
	p = strings.NewReplacer("[", ".", "]", "").Replace(p)
	var out []string
	for _, e := range strings.Split(p, ".") {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}
