package seccomp

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// Diff is what changes, syscall by syscall, between two profiles.
type Diff struct {
	A       string       `json:"a"`
	B       string       `json:"b"`
	Default *Change      `json:"default,omitempty"`
	Arches  *Change      `json:"arches,omitempty"`
	Flags   *Change      `json:"flags,omitempty"`
	Added   []NameChange `json:"added"`
	Removed []NameChange `json:"removed"`
	Changed []NameChange `json:"changed"`
}

// Change is a before/after pair of a profile-wide setting.
type Change struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// NameChange is one syscall's treatment before and after: each entry is one
// rule that names it, e.g. "SCMP_ACT_ALLOW if arg0 == 0 [caps CAP_SYS_ADMIN]".
type NameChange struct {
	Name string   `json:"name"`
	From []string `json:"from,omitempty"`
	To   []string `json:"to,omitempty"`
}

// Empty reports whether the profiles treat every syscall the same.
func (d *Diff) Empty() bool {
	return d.Default == nil && d.Arches == nil && d.Flags == nil && len(d.Added)+len(d.Removed)+len(d.Changed) == 0
}

// Compare diffs two profiles rule by rule (conditions included, so it is
// independent of any one target).
func Compare(a, b *Profile) *Diff {
	d := &Diff{A: a.File, B: b.File, Added: []NameChange{}, Removed: []NameChange{}, Changed: []NameChange{}}
	if da, db := defaultString(a), defaultString(b); da != db {
		d.Default = &Change{da, db}
	}
	if aa, ab := archString(a), archString(b); aa != ab {
		d.Arches = &Change{aa, ab}
	}
	if fa, fb := strings.Join(a.Flags, ","), strings.Join(b.Flags, ","); fa != fb {
		d.Flags = &Change{fa, fb}
	}
	ta, tb := treatments(a), treatments(b)
	for _, n := range sortedKeys(tb) {
		if _, ok := ta[n]; !ok {
			d.Added = append(d.Added, NameChange{Name: n, To: tb[n]})
		} else if !slices.Equal(ta[n], tb[n]) {
			d.Changed = append(d.Changed, NameChange{Name: n, From: ta[n], To: tb[n]})
		}
	}
	for _, n := range sortedKeys(ta) {
		if _, ok := tb[n]; !ok {
			d.Removed = append(d.Removed, NameChange{Name: n, From: ta[n]})
		}
	}
	return d
}

func defaultString(p *Profile) string {
	if p.DefaultAction == ActErrno || p.DefaultAction == ActTrace {
		return fmt.Sprintf("%s(%d)", p.DefaultAction, errnoOf(p.DefaultErrnoRet))
	}
	return p.DefaultAction
}

func archString(p *Profile) string {
	if len(p.Architectures) > 0 {
		return strings.Join(p.Architectures, ",")
	}
	var parts []string
	for _, m := range p.ArchMap {
		parts = append(parts, m.Arch+"["+strings.Join(m.SubArches, ",")+"]")
	}
	return strings.Join(parts, " ")
}

func treatments(p *Profile) map[string][]string {
	out := map[string][]string{}
	for _, r := range p.Syscalls {
		s := ruleString(r)
		for _, n := range r.AllNames() {
			if !contains(out[n], s) {
				out[n] = append(out[n], s)
			}
		}
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

var opSymbols = map[string]string{
	"SCMP_CMP_NE": "!=", "SCMP_CMP_LT": "<", "SCMP_CMP_LE": "<=", "SCMP_CMP_EQ": "==",
	"SCMP_CMP_GE": ">=", "SCMP_CMP_GT": ">",
}

func ruleString(r Rule) string {
	var b strings.Builder
	b.WriteString(r.Action)
	if r.ErrnoRet != nil {
		fmt.Fprintf(&b, "(%d)", *r.ErrnoRet)
	}
	for i, a := range r.Args {
		if i == 0 {
			b.WriteString(" if ")
		} else {
			b.WriteString(" and ")
		}
		if a.Op == "SCMP_CMP_MASKED_EQ" {
			fmt.Fprintf(&b, "arg%d & %#x == %#x", a.Index, a.Value, a.ValueTwo)
		} else {
			fmt.Fprintf(&b, "arg%d %s %d", a.Index, opSymbols[a.Op], a.Value)
		}
	}
	cond := func(kind string, f *Filter) {
		if f.empty() {
			return
		}
		var parts []string
		if len(f.Caps) > 0 {
			parts = append(parts, "caps "+strings.Join(f.Caps, ","))
		}
		if len(f.Arches) > 0 {
			parts = append(parts, "arches "+strings.Join(f.Arches, ","))
		}
		if f.MinKernel != "" {
			parts = append(parts, "kernel >= "+f.MinKernel)
		}
		fmt.Fprintf(&b, " [%s %s]", kind, strings.Join(parts, "; "))
	}
	cond("only with", r.Includes)
	cond("except with", r.Excludes)
	return b.String()
}

// WriteText renders the diff for people: settings first, then syscalls
// added and removed grouped by treatment, then changed ones one per line.
func (d *Diff) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", d.A, d.B)
	if d.Empty() {
		b.WriteString("no differences\n")
	}
	for _, c := range []struct {
		name string
		ch   *Change
	}{{"default", d.Default}, {"architectures", d.Arches}, {"flags", d.Flags}} {
		if c.ch != nil {
			fmt.Fprintf(&b, "%s: %s -> %s\n", c.name, orNone(c.ch.From), orNone(c.ch.To))
		}
	}
	group := func(title, sign string, list []NameChange, pick func(NameChange) []string) {
		if len(list) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s (%d):\n", title, len(list))
		by := map[string][]string{}
		for _, nc := range list {
			k := strings.Join(pick(nc), " | ")
			by[k] = append(by[k], nc.Name)
		}
		for _, k := range sortedKeys(by) {
			fmt.Fprintf(&b, "  %s %s: %s\n", sign, k, strings.Join(by[k], ", "))
		}
	}
	group("added", "+", d.Added, func(n NameChange) []string { return n.To })
	group("removed", "-", d.Removed, func(n NameChange) []string { return n.From })
	if len(d.Changed) > 0 {
		fmt.Fprintf(&b, "changed (%d):\n", len(d.Changed))
		for _, c := range d.Changed {
			fmt.Fprintf(&b, "  ~ %s: %s -> %s\n", c.Name, strings.Join(c.From, " | "), strings.Join(c.To, " | "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
