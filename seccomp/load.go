package seccomp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/ctsec/ctsec/internal/report"
)

// Rule ids of the strict schema. Each is an error (high): Docker or runc
// would accept the profile and then do something other than what it says.
const (
	RuleUnknownKey    = "seccomp/unknown-key"
	RuleDuplicateKey  = "seccomp/duplicate-key"
	RuleMissingField  = "seccomp/missing-field"
	RuleBadAction     = "seccomp/bad-action"
	RuleBadOperator   = "seccomp/bad-operator"
	RuleBadArch       = "seccomp/bad-arch"
	RuleBadFlag       = "seccomp/bad-flag"
	RuleBadCap        = "seccomp/bad-capability"
	RuleNameAndNames  = "seccomp/name-and-names"
	RuleArchesAndMap  = "seccomp/architectures-and-archmap"
	RuleArgIndex      = "seccomp/arg-index"
	RuleMinKernel     = "seccomp/min-kernel"
	RuleErrnoRet      = "seccomp/errno-ret"
	RuleNotify        = "seccomp/notify"
	RuleNoNames       = "seccomp/no-names"
	RuleDuplicateName = "seccomp/duplicate-name"
	RuleArgValue      = "seccomp/arg-value"
)

// Load reads and strictly parses a profile file. The error is for input that
// is not a profile at all (unreadable, too large, broken JSON, wrong types):
// it names the file and position. Findings are schema problems in a profile
// that did parse.
func Load(path string) (*Profile, []report.Finding, error) {
	data, err := ReadBounded(path, MaxProfileSize)
	if err != nil {
		return nil, nil, err
	}
	return Parse(path, data)
}

// ReadBounded reads at most limit bytes of a file and fails beyond that, so a
// huge or endless input (a device, /dev/zero) cannot exhaust memory.
func ReadBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading profile: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("reading profile %s: is a directory", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading profile %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, &SyntaxError{File: path, Msg: fmt.Sprintf("file is larger than the %d MiB limit for a seccomp profile", limit>>20)}
	}
	return data, nil
}

// Parse strictly parses profile JSON read from file.
func Parse(file string, data []byte) (*Profile, []report.Finding, error) {
	root, li, err := parseTree(file, data)
	if err != nil {
		return nil, nil, err
	}
	l := &loader{file: file, li: li, p: &Profile{File: file, pos: map[string]Pos{}}, count: map[findingKind]int{}, summary: map[findingKind]int{}}
	if err := l.profile(root); err != nil {
		return nil, nil, err
	}
	for k, i := range l.summary {
		f := &l.findings[i]
		f.Message = fmt.Sprintf("%d more %s findings like the ones above, from here on (the first: %s)", l.count[k]-maxPerRule, f.Rule, f.Message)
		f.Fix = ""
	}
	return l.p, l.findings, nil
}

type loader struct {
	file     string
	li       lineIndex
	p        *Profile
	findings []report.Finding
	// count and summary keep a profile of 600,000 repeated names from
	// making (and formatting) 600,000 findings: past maxPerRule of a kind,
	// one finding stands for the rest (see CapFindings).
	count   map[findingKind]int
	summary map[findingKind]int // index in findings
}

type findingKind struct {
	rule string
	sev  report.Severity
}

func (l *loader) add(rule string, sev report.Severity, n *node, path, fix, format string, args ...any) {
	k := findingKind{rule, sev}
	l.count[k]++
	if l.count[k] > maxPerRule+1 {
		return
	}
	if l.count[k] == maxPerRule+1 {
		l.summary[k] = len(l.findings)
	}
	pos := l.li.pos(n.off)
	l.findings = append(l.findings, report.Finding{
		Rule: rule, Severity: sev, Message: fmt.Sprintf(format, args...),
		File: l.file, Line: pos.Line, Column: pos.Column, Path: path, Fix: fix,
	})
}

func (l *loader) errorf(rule string, n *node, path, fix, format string, args ...any) {
	l.add(rule, report.High, n, path, fix, format, args...)
}

// typeError is fatal: with a value of the wrong JSON type there is no profile
// to check, only a file to fix.
func (l *loader) typeError(n *node, path, want string) error {
	return &SyntaxError{File: l.file, Pos: l.li.pos(n.off), Msg: fmt.Sprintf("%s: want %s, found %s", path, want, n.kindName())}
}

func (l *loader) mark(path string, n *node) { l.p.pos[path] = l.li.pos(n.off) }

// object walks an object's fields, reporting unknown and repeated keys.
// Null values are treated as absent, as encoding/json does.
func (l *loader) object(n *node, path string, known []string, field func(key string, v *node, path string) error) error {
	if n.kind != 'o' {
		return l.typeError(n, strings.TrimPrefix(path, "."), "an object")
	}
	seen := map[string]bool{}
	for i, k := range n.keys {
		kp := join(path, k)
		kn := &node{off: n.koffs[i]}
		if !contains(known, k) {
			fix := ""
			if c := closest(k, known); c != "" {
				fix = fmt.Sprintf("did you mean %q?", c)
			}
			l.errorf(RuleUnknownKey, kn, kp, fix, "unknown key %q (Docker ignores it silently)", k)
			continue
		}
		if seen[k] {
			l.errorf(RuleDuplicateKey, kn, kp, "keep one", "key %q appears twice; Docker keeps only the last", k)
		}
		seen[k] = true
		v := n.vals[i]
		l.mark(kp, v)
		if v.kind == 'z' {
			continue
		}
		if err := field(k, v, kp); err != nil {
			return err
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// elems walks an array of objects, marking each element's position.
func (l *loader) elems(n *node, path string, each func(e *node, ep string) error) error {
	if n.kind != 'a' {
		return l.typeError(n, path, "an array")
	}
	for i, e := range n.elems {
		ep := fmt.Sprintf("%s[%d]", path, i)
		l.mark(ep, e)
		if err := each(e, ep); err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) str(n *node, path string) (string, error) {
	if n.kind != 's' {
		return "", l.typeError(n, path, "a string")
	}
	return n.str, nil
}

func (l *loader) strs(n *node, path string) ([]string, error) {
	if n.kind != 'a' {
		return nil, l.typeError(n, path, "an array of strings")
	}
	out := make([]string, 0, len(n.elems))
	for i, e := range n.elems {
		ep := fmt.Sprintf("%s[%d]", path, i)
		s, err := l.str(e, ep)
		if err != nil {
			return nil, err
		}
		l.mark(ep, e)
		out = append(out, s)
	}
	return out, nil
}

func (l *loader) uint(n *node, path string, bits int) (uint64, error) {
	if n.kind != 'n' {
		return 0, l.typeError(n, path, "a number")
	}
	v, err := n.uintValue(bits)
	if err != nil {
		return 0, &SyntaxError{File: l.file, Pos: l.li.pos(n.off), Msg: fmt.Sprintf("%s: %v", path, err)}
	}
	return v, nil
}

var profileKeys = []string{"defaultAction", "defaultErrnoRet", "architectures", "archMap", "flags", "listenerPath", "listenerMetadata", "syscalls"}

func (l *loader) profile(root *node) error {
	p := l.p
	var archMapNode, archesNode *node
	err := l.object(root, "", profileKeys, func(k string, v *node, path string) error {
		var err error
		switch k {
		case "defaultAction":
			if p.DefaultAction, err = l.str(v, path); err == nil {
				l.action(v, path, p.DefaultAction)
			}
		case "defaultErrnoRet":
			var u uint64
			if u, err = l.uint(v, path, 32); err == nil {
				p.DefaultErrnoRet = errnoPtr(uint(u))
			}
		case "architectures":
			archesNode = v
			if p.Architectures, err = l.strs(v, path); err == nil {
				for i, a := range p.Architectures {
					l.scmpArch(v.elems[i], fmt.Sprintf("%s[%d]", path, i), a)
				}
			}
		case "archMap":
			archMapNode = v
			err = l.archMap(v, path)
		case "flags":
			if p.Flags, err = l.strs(v, path); err == nil {
				for i, f := range p.Flags {
					if !contains(filterFlags, f) {
						l.errorf(RuleBadFlag, v.elems[i], fmt.Sprintf("%s[%d]", path, i), "one of "+strings.Join(filterFlags, ", "),
							"unknown seccomp flag %q (runc refuses to start the container)", f)
					}
				}
			}
		case "listenerPath":
			p.ListenerPath, err = l.str(v, path)
		case "listenerMetadata":
			p.ListenerMetadata, err = l.str(v, path)
		case "syscalls":
			err = l.rules(v, path)
		}
		return err
	})
	if err != nil {
		return err
	}
	if p.DefaultAction == "" {
		l.errorf(RuleMissingField, root, "defaultAction", `add "defaultAction": "SCMP_ACT_ERRNO"`,
			"defaultAction is missing (Docker treats a profile without it as seccomp disabled or rejects it)")
	}
	if archesNode != nil && archMapNode != nil && len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
		l.errorf(RuleArchesAndMap, archMapNode, "archMap", "keep one of them",
			"both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'")
	}
	l.errnoRet(root, "defaultErrnoRet", p.DefaultAction, p.DefaultErrnoRet)
	if p.DefaultAction == ActNotify {
		l.errorf(RuleNotify, root, "defaultAction", "use SCMP_ACT_ERRNO and NOTIFY only named syscalls",
			"SCMP_ACT_NOTIFY cannot be the default action (runc refuses it)")
	}
	if p.ListenerPath == "" {
		for i, r := range p.Syscalls {
			if r.Action == ActNotify {
				path := fmt.Sprintf("syscalls[%d].action", i)
				l.errorf(RuleNotify, l.nodeAt(root, path), path, `set "listenerPath" to the agent's socket`,
					"SCMP_ACT_NOTIFY needs listenerPath (runc: seccomp listenerPath is not set)")
				break
			}
		}
	}
	return nil
}

// nodeAt gives a node carrying the offset recorded for path, for findings
// raised after the walk.
func (l *loader) nodeAt(root *node, path string) *node {
	if pos, ok := l.p.pos[path]; ok {
		return &node{off: l.li.starts[pos.Line-1] + pos.Column - 1}
	}
	return root
}

func (l *loader) action(n *node, path, act string) {
	if contains(actions, act) {
		return
	}
	fix := "one of " + strings.Join(actions, ", ")
	if c := closest(act, actions); c != "" {
		fix = fmt.Sprintf("did you mean %q?", c)
	}
	l.errorf(RuleBadAction, n, path, fix, "%q is not a seccomp action", act)
}

func (l *loader) scmpArch(n *node, path, name string) {
	a, ok := archByScmp(name)
	switch {
	case !ok:
		fix := ""
		if na, ok := archByNative(strings.ToLower(name)); ok {
			fix = fmt.Sprintf("use %q here (native names such as %q belong in includes/excludes arches)", na.scmp, na.native)
		} else if c := closest(name, scmpNames()); c != "" {
			fix = fmt.Sprintf("did you mean %q?", c)
		}
		l.errorf(RuleBadArch, n, path, fix, "%q is not a seccomp architecture", name)
	case !a.runc:
		l.errorf(RuleBadArch, n, path, "drop it", "runc does not know architecture %q and refuses the profile", name)
	}
}

func scmpNames() []string {
	out := make([]string, len(arches))
	for i, a := range arches {
		out[i] = a.scmp
	}
	return out
}

func (l *loader) archMap(n *node, path string) error {
	return l.elems(n, path, func(e *node, ep string) error {
		var m ArchMap
		err := l.object(e, ep, []string{"architecture", "subArchitectures"}, func(k string, v *node, kp string) error {
			var err error
			switch k {
			case "architecture":
				if m.Arch, err = l.str(v, kp); err == nil {
					l.scmpArch(v, kp, m.Arch)
				}
			case "subArchitectures":
				if m.SubArches, err = l.strs(v, kp); err == nil {
					for j, s := range m.SubArches {
						l.scmpArch(v.elems[j], fmt.Sprintf("%s[%d]", kp, j), s)
					}
				}
			}
			return err
		})
		if err != nil {
			return err
		}
		if m.Arch == "" {
			l.errorf(RuleMissingField, e, ep, "", "archMap entry has no architecture")
		}
		l.p.ArchMap = append(l.p.ArchMap, m)
		return nil
	})
}

var ruleKeys = []string{"names", "name", "action", "errnoRet", "args", "comment", "includes", "excludes"}

func (l *loader) rules(n *node, path string) error {
	return l.elems(n, path, func(e *node, rp string) error {
		var r Rule
		var nameNode, namesNode, actionNode *node
		err := l.object(e, rp, ruleKeys, func(k string, v *node, kp string) error {
			var err error
			switch k {
			case "names":
				namesNode = v
				r.Names, err = l.strs(v, kp)
			case "name":
				nameNode = v
				r.Name, err = l.str(v, kp)
			case "action":
				actionNode = v
				r.Action, err = l.str(v, kp)
			case "errnoRet":
				var u uint64
				if u, err = l.uint(v, kp, 32); err == nil {
					r.ErrnoRet = errnoPtr(uint(u))
				}
			case "args":
				r.Args, err = l.args(v, kp)
			case "comment":
				r.Comment, err = l.str(v, kp)
			case "includes":
				r.Includes, err = l.filter(v, kp)
			case "excludes":
				r.Excludes, err = l.filter(v, kp)
			}
			return err
		})
		if err != nil {
			return err
		}
		switch {
		case nameNode != nil && namesNode != nil && r.Name != "" && len(r.Names) > 0:
			l.errorf(RuleNameAndNames, nameNode, rp+".name", `move the name into "names"`,
				"both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'")
		case len(r.AllNames()) == 0:
			l.errorf(RuleNoNames, e, rp, `add "names": [...]`, "rule names no syscalls")
		}
		seen := map[string]bool{}
		for j, name := range r.Names {
			np := fmt.Sprintf("%s.names[%d]", rp, j)
			switch {
			case name == "":
				l.errorf(RuleNoNames, namesNode.elems[j], np, "", "empty syscall name")
			case seen[name]:
				l.add(RuleDuplicateName, report.Low, namesNode.elems[j], np, "drop the repeat", "syscall %q is listed twice in this rule", name)
			}
			seen[name] = true
		}
		if actionNode == nil {
			l.errorf(RuleMissingField, e, rp, `add "action"`, "rule has no action")
		} else {
			l.action(actionNode, rp+".action", r.Action)
			l.errnoRet(e, rp+".errnoRet", r.Action, r.ErrnoRet)
			if r.Action == ActNotify {
				for _, name := range r.AllNames() {
					if name == "write" {
						l.errorf(RuleNotify, actionNode, rp+".action", "allow write explicitly",
							"SCMP_ACT_NOTIFY cannot be used for the write syscall (the agent could never answer)")
					}
				}
			}
		}
		l.p.Syscalls = append(l.p.Syscalls, r)
		return nil
	})
}

// errnoRet checks that an errno is only given where the action uses it
// (crun rejects it elsewhere; runc ignores it) and fits the kernel's range.
func (l *loader) errnoRet(parent *node, path, act string, v *uint) {
	if v == nil {
		return
	}
	n := l.nodeAt(parent, path)
	if act != ActErrno && act != ActTrace && act != "" {
		l.errorf(RuleErrnoRet, n, path, "drop it or use SCMP_ACT_ERRNO",
			"errnoRet is only meaningful with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not %s (crun rejects it, runc ignores it)", act)
		return
	}
	if *v >= maxErrno {
		// Verified with dockerd 20.10 + runc 1.1: "error adding seccomp
		// filter rule for syscall syslog: two checks on same syscall argument".
		l.errorf(RuleErrnoRet, n, path, "use an errno below 4095, e.g. 1 (EPERM) or 38 (ENOSYS)",
			"errno %d is not below 4095: libseccomp rejects it and runc fails to start the container (moby's loader accepts it)", *v)
	}
}

// maxErrno is libseccomp's bound: an ERRNO action's data must be below
// MAX_ERRNO (4095).
const maxErrno = 4095

var argKeys = []string{"index", "value", "valueTwo", "op"}

func (l *loader) args(n *node, path string) ([]Arg, error) {
	out := make([]Arg, 0, len(n.elems))
	err := l.elems(n, path, func(e *node, ap string) error {
		var a Arg
		var hasOp, hasIndex bool
		err := l.object(e, ap, argKeys, func(k string, v *node, kp string) error {
			var err error
			var u uint64
			switch k {
			case "index":
				hasIndex = true
				if u, err = l.uint(v, kp, 32); err == nil {
					a.Index = uint(u)
					if u > 5 {
						l.errorf(RuleArgIndex, v, kp, "use 0 to 5", "argument index %d: syscalls have at most 6 arguments (0-5)", u)
					}
				}
			case "value":
				a.Value, err = l.uint(v, kp, 64)
			case "valueTwo":
				a.ValueTwo, err = l.uint(v, kp, 64)
			case "op":
				hasOp = true
				if a.Op, err = l.str(v, kp); err == nil && !contains(operators, a.Op) {
					fix := "one of " + strings.Join(operators, ", ")
					if c := closest(a.Op, operators); c != "" {
						fix = fmt.Sprintf("did you mean %q?", c)
					}
					l.errorf(RuleBadOperator, v, kp, fix, "%q is not a seccomp operator", a.Op)
				}
			}
			return err
		})
		if err != nil {
			return err
		}
		if !hasOp {
			l.errorf(RuleMissingField, e, ap, `add "op"`, "argument condition has no op")
		}
		if !hasIndex {
			l.add(RuleMissingField, report.Medium, e, ap, `add "index"`, "argument condition has no index; it applies to argument 0")
		}
		if a.ValueTwo != 0 && a.Op != "SCMP_CMP_MASKED_EQ" && hasOp {
			l.add(RuleArgValue, report.Low, e, ap+".valueTwo", "drop valueTwo", "valueTwo is only used by SCMP_CMP_MASKED_EQ; %s ignores it", a.Op)
		}
		if a.Op == "SCMP_CMP_MASKED_EQ" && a.ValueTwo&^a.Value != 0 {
			l.add(RuleArgValue, report.Medium, e, ap, "the datum (valueTwo) must lie within the mask (value)",
				"MASKED_EQ can never match: valueTwo %#x has bits outside the mask %#x", a.ValueTwo, a.Value)
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

func (l *loader) filter(n *node, path string) (*Filter, error) {
	f := &Filter{}
	err := l.object(n, path, []string{"caps", "arches", "minKernel"}, func(k string, v *node, kp string) error {
		var err error
		switch k {
		case "caps":
			if f.Caps, err = l.strs(v, kp); err == nil {
				for i, c := range f.Caps {
					if !contains(capabilities, c) {
						fix := ""
						if cc := closest(c, capabilities); cc != "" {
							fix = fmt.Sprintf("did you mean %q?", cc)
						} else if contains(capabilities, "CAP_"+strings.ToUpper(c)) {
							fix = fmt.Sprintf("write %q", "CAP_"+strings.ToUpper(c))
						}
						l.errorf(RuleBadCap, v.elems[i], fmt.Sprintf("%s[%d]", kp, i), fix, "%q is not a capability (the condition can never hold as written)", c)
					}
				}
			}
		case "arches":
			if f.Arches, err = l.strs(v, kp); err == nil {
				for i, a := range f.Arches {
					if _, ok := archByNative(a); !ok {
						fix := ""
						if sa, ok := archByScmp(a); ok {
							fix = fmt.Sprintf("includes/excludes use native names: %q", sa.native)
						}
						l.errorf(RuleBadArch, v.elems[i], fmt.Sprintf("%s[%d]", kp, i), fix, "%q is not an architecture name moby matches (amd64, arm64, x86, x32, s390x…)", a)
					}
				}
			}
		case "minKernel":
			if v.kind != 's' {
				l.errorf(RuleMinKernel, v, kp, `write it as a string "X.Y"`, "invalid kernel version: minKernel must be a string \"<kernel>.<major>\", not %s (Docker rejects the profile)", v.kindName())
				return nil
			}
			f.MinKernel = v.str
			if _, _, err := ParseMinKernel(v.str); err != nil {
				l.errorf(RuleMinKernel, v, kp, `write it as "X.Y", each part 0-255, e.g. "4.8"`, "%v (Docker rejects the profile)", err)
			}
		}
		return err
	})
	return f, err
}

var minKernelRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9]+)\.([0-9]+)$`) })

// ParseMinKernel parses moby's "<kernel>.<major>" with moby's rules: both
// parts 0-255, not 0.0. The empty string means no constraint.
func ParseMinKernel(s string) (kernel, major uint8, err error) {
	if s == "" {
		return 0, 0, nil
	}
	m := minKernelRE().FindStringSubmatch(s)
	if m == nil {
		return 0, 0, fmt.Errorf("invalid kernel version: %s, expected \"<kernel>.<major>\"", s)
	}
	k, err1 := strconv.ParseUint(m[1], 10, 8)
	j, err2 := strconv.ParseUint(m[2], 10, 8)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("invalid kernel version: %s, expected \"<kernel>.<major>\": each part must be 0-255", s)
	}
	if k == 0 && j == 0 {
		return 0, 0, fmt.Errorf("invalid kernel version: %s, expected \"<kernel>.<major>\": version cannot be 0.0", s)
	}
	return uint8(k), uint8(j), nil
}
