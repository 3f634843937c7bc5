package seccomp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/ctsec/ctsec/profiles"
)

// GenOptions describes a profile for one service.
type GenOptions struct {
	Base  string   // built-in profile to start from: default, strict or runtime
	Allow []string // syscalls to allow on top of the base
	Deny  []string // syscalls to take away from the base
}

// GenComment marks the rule ctsec adds, so a reviewer sees what is not Docker's.
const GenComment = "added by ctsec profile gen"

var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_]{0,63}$`) })

// Generate derives a profile from a built-in base: denied names are taken
// out of every allowing rule, allowed names are added in one commented
// rule (and taken out of rules that deny them, which libseccomp would
// otherwise reject as conflicting). Every name must be a real syscall.
func Generate(opt GenOptions, res *Resolver) (*Profile, error) {
	data, err := profiles.Seccomp(opt.Base)
	if err != nil {
		return nil, fmt.Errorf("--base: %w", err)
	}
	p, _, err := Parse(opt.Base+".json", data)
	if err != nil {
		return nil, fmt.Errorf("loading built-in profile %q: %w", opt.Base, err)
	}
	allow, err := checkNames(opt.Allow, res)
	if err != nil {
		return nil, fmt.Errorf("allow: %w", err)
	}
	deny, err := checkNames(opt.Deny, res)
	if err != nil {
		return nil, fmt.Errorf("deny: %w", err)
	}
	for _, n := range deny {
		if slices.Contains(allow, n) {
			return nil, fmt.Errorf("%s is both allowed and denied", n)
		}
	}
	p.File = ""
	p.pos = nil
	var rules []Rule
	for _, r := range p.Syscalls {
		names := r.AllNames()
		r.Name = ""
		r.Names = slices.DeleteFunc(slices.Clone(names), func(n string) bool {
			if allows(r.Action) {
				return slices.Contains(deny, n)
			}
			return slices.Contains(allow, n)
		})
		if len(r.Names) > 0 {
			rules = append(rules, r)
		}
	}
	var add []string
	for _, n := range allow {
		if !allowedUnconditionally(rules, n) {
			add = append(add, n)
		}
	}
	if len(add) > 0 {
		rules = append(rules, Rule{Names: add, Action: ActAllow, Comment: GenComment})
	}
	p.Syscalls = rules
	return p, nil
}

func allowedUnconditionally(rules []Rule, name string) bool {
	for _, r := range rules {
		if allows(r.Action) && len(r.Args) == 0 && r.Includes.empty() && r.Excludes.empty() && slices.Contains(r.Names, name) {
			return true
		}
	}
	return false
}

// checkNames normalises a list of syscall names (sorted, unique) and refuses
// anything that is not one: names reach policy, so they are checked, not
// trusted.
func checkNames(names []string, res *Resolver) ([]string, error) {
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || slices.Contains(out, n) {
			continue
		}
		if !nameRE().MatchString(n) || !res.IsSyscallName(n) {
			msg := fmt.Sprintf("%q is not a syscall", n)
			if s := res.Suggest(n); s != "" && nameRE().MatchString(n) {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return nil, fmt.Errorf("%s", msg)
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// ReadSyscalls reads syscall names from a file in any of three shapes: a
// seccomp profile (the names its rules allow), the observation JSON of
// `ctsec profile record` ({"syscalls":[{"name":...}]}), or a plain list, one
// name per line with # comments. Every name must be a syscall res knows;
// the error for one that is not names the file and where it is.
func ReadSyscalls(path string, res *Resolver) ([]string, error) {
	data, err := ReadBounded(path, MaxProfileSize)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%s: no syscalls listed", path)
	}
	if trimmed[0] != '{' {
		return readPlainList(path, data, res)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		// Let the strict loader name the position.
		if _, _, perr := Parse(path, data); perr != nil {
			return nil, perr
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, ok := probe["defaultAction"]; ok {
		p, schema, err := Parse(path, data)
		if err != nil {
			return nil, err
		}
		for _, f := range schema {
			if f.Severity >= 3 {
				return nil, fmt.Errorf("%s: %s", f.Where(), f.Message)
			}
		}
		var names []string
		for i, r := range p.Syscalls {
			if !allows(r.Action) {
				continue
			}
			for j, n := range r.AllNames() {
				if msg := notSyscall(n, res); msg != "" {
					return nil, fmt.Errorf("%s: %s", p.finding(p.namePath(i, j, r)).Where(), msg)
				}
				names = append(names, n)
			}
		}
		return names, nil
	}
	var obs struct {
		Syscalls []struct {
			Name string `json:"name"`
		} `json:"syscalls"`
	}
	if err := json.Unmarshal(data, &obs); err != nil {
		return nil, fmt.Errorf("%s: not a seccomp profile or a ctsec observation: %w", path, err)
	}
	if _, ok := probe["syscalls"]; !ok {
		return nil, fmt.Errorf("%s: not a seccomp profile (no defaultAction) or a ctsec observation (no syscalls)", path)
	}
	var names []string
	for i, s := range obs.Syscalls {
		if s.Name == "" {
			return nil, fmt.Errorf("%s: syscalls[%d] has no name", path, i)
		}
		if msg := notSyscall(s.Name, res); msg != "" {
			return nil, fmt.Errorf("%s: syscalls[%d].name: %s", path, i, msg)
		}
		names = append(names, s.Name)
	}
	return names, nil
}

func readPlainList(path string, data []byte, res *Resolver) ([]string, error) {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' }) {
			if !nameRE().MatchString(f) {
				return nil, fmt.Errorf("%s:%d: %s is not a syscall name", path, line, quoteShort(f))
			}
			if msg := notSyscall(f, res); msg != "" {
				return nil, fmt.Errorf("%s:%d: %s", path, line, msg)
			}
			names = append(names, f)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", path, line+1, err)
	}
	return names, nil
}

// notSyscall says why name is not a syscall, or "" when it is one.
func notSyscall(name string, res *Resolver) string {
	if nameRE().MatchString(name) && res.IsSyscallName(name) {
		return ""
	}
	msg := quoteShort(name) + " is not a syscall"
	if nameRE().MatchString(name) {
		if s := res.Suggest(name); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
	}
	return msg
}

// quoteShort quotes untrusted text for an error line, cut to a readable
// length: a junk file's "name" can be a megabyte long.
func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}
