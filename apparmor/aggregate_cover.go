package apparmor

import (
	"reflect"
	"slices"
	"strings"
)

// ruleIndex answers, for many candidate rules, which a profile already
// allows and which its deny rules forbid. It is built once per profile:
// rendering every rule of the profile for every candidate made a review
// quadratic.
type ruleIndex struct {
	texts     map[string]bool       // canonical text of every allow rule
	bare      map[reflect.Type]bool // `file,`, `capability,`, `network,`, … allowed
	files     []File                // allow file rules
	caps      map[string]bool
	nets      []Network
	vars      map[string][]string // variables the profile can expand
	denyBare  map[reflect.Type]Rule
	denyFiles []File
	denyCaps  map[string]Rule
	denyNets  []Network
	denyTexts map[string]Rule // deny rules by the text of the allow rule they mirror
}

func newRuleIndex(p *Profile) *ruleIndex {
	ix := &ruleIndex{texts: map[string]bool{}, bare: map[reflect.Type]bool{}, caps: map[string]bool{},
		denyBare: map[reflect.Type]Rule{}, denyCaps: map[string]Rule{}, denyTexts: map[string]Rule{}}
	if p == nil {
		return ix
	}
	ix.vars = profileVariables(p)
	for _, x := range p.Rules {
		if !IsPolicy(x) {
			continue
		}
		if ruleDenies(x) {
			ix.addDeny(x)
			continue
		}
		ix.texts[x.String()] = true
		if bareClass(x) {
			ix.bare[reflect.TypeOf(x)] = true
		}
		switch r := x.(type) {
		case File:
			if !r.Path.IsZero() {
				ix.files = append(ix.files, r)
			}
		case Capability:
			for _, n := range r.Names {
				ix.caps[n] = true
			}
		case Network:
			ix.nets = append(ix.nets, r)
		}
	}
	return ix
}

func (ix *ruleIndex) addDeny(x Rule) {
	if bareClass(x) {
		ix.denyBare[reflect.TypeOf(x)] = x
	}
	switch r := x.(type) {
	case File:
		if !r.Path.IsZero() {
			ix.denyFiles = append(ix.denyFiles, r)
		}
	case Capability:
		for _, n := range r.Names {
			ix.denyCaps[n] = x
		}
	case Network:
		ix.denyNets = append(ix.denyNets, r)
	}
	allow := x
	switch r := x.(type) {
	case Signal:
		r.Deny, r.Audit = false, false
		allow = r
	case Ptrace:
		r.Deny, r.Audit = false, false
		allow = r
	case Unix:
		r.Deny, r.Audit = false, false
		allow = r
	case Mount:
		r.Deny, r.Audit = false, false
		allow = r
	case Umount:
		r.Deny, r.Audit = false, false
		allow = r
	case PivotRoot:
		r.Deny, r.Audit = false, false
		allow = r
	case DBus:
		r.Deny, r.Audit = false, false
		allow = r
	case ChangeProfile:
		r.Deny, r.Audit = false, false
		allow = r
	}
	ix.denyTexts[allow.String()] = x
}

// Covered reports whether p already allows r: the same rule, a bare rule for
// the whole class (`file,`, `capability,`, `network,`, `unix,`, `signal,`,
// `dbus,`, …), or for files the same path — or a profile pattern matching
// the literal path — with at least the same permissions. Patterns using
// variables the profile does not define are not expanded: a rule they cover
// is still proposed, and apparmor_parser merges the overlap. When in doubt it
// answers no: a rule proposed twice costs a line, a rule wrongly taken as
// present breaks the service once the profile enforces.
func Covered(p *Profile, r Rule) bool { return newRuleIndex(p).covers(r) }

func (ix *ruleIndex) covers(r Rule) bool {
	if ix.texts[r.String()] || ix.bare[reflect.TypeOf(r)] {
		return true
	}
	switch want := r.(type) {
	case File:
		for _, have := range ix.files {
			if ix.samePath(have.Path, want.Path) && (!have.Owner || want.Owner) &&
				containsAll(have.Perms, want.Perms) && (want.Exec == "" || have.Exec == want.Exec) {
				return true
			}
		}
	case Capability:
		for _, n := range want.Names {
			if !ix.caps[n] {
				return false
			}
		}
		return len(want.Names) > 0
	case Network:
		for _, have := range ix.nets {
			if networkCovers(have, want) {
				return true
			}
		}
	}
	return false
}

// samePath reports whether the profile's path have names want: the same
// text, or a pattern matching the literal path.
func (ix *ruleIndex) samePath(have, want Path) bool {
	if have.String() == want.String() {
		return true
	}
	return have.IsGlob() && !want.IsGlob() && globMatchesVars(have.Text(), want.Text(), ix.vars)
}

// deniedBy reports the profile's deny rule that forbids (part of) r, and
// what of r remains allowable: nil when the deny rule covers all of it. The
// kernel enforces deny rules in complain mode too, so an allow rule for
// what they forbid would change nothing; proposing it would only hide that
// the service tried.
func (ix *ruleIndex) deniedBy(r Rule) (deny Rule, rest Rule) {
	if d, ok := ix.denyBare[reflect.TypeOf(r)]; ok {
		return d, nil
	}
	switch want := r.(type) {
	case File:
		perms, exec := want.Perms, want.Exec
		var first Rule
		for _, d := range ix.denyFiles {
			if !ix.samePath(d.Path, want.Path) || d.Owner && !want.Owner {
				continue
			}
			left := removeAll(perms, d.Perms)
			leftExec := exec
			if d.Exec != "" {
				leftExec = ""
			}
			if left != perms || leftExec != exec {
				if first == nil {
					first = d
				}
				perms, exec = left, leftExec
			}
		}
		if first == nil {
			return nil, r
		}
		if perms == "" && exec == "" {
			return first, nil
		}
		want.Perms, want.Exec = perms, exec
		return first, want
	case Capability:
		for _, n := range want.Names {
			if d, ok := ix.denyCaps[n]; ok {
				return d, nil
			}
		}
	case Network:
		for _, d := range ix.denyNets {
			if networkCovers(d, want) {
				return d, nil
			}
		}
	default:
		if d, ok := ix.denyTexts[r.String()]; ok {
			return d, nil
		}
	}
	return nil, r
}

func removeAll(have, drop string) string {
	var b strings.Builder
	for i := 0; i < len(have); i++ {
		if strings.IndexByte(drop, have[i]) < 0 {
			b.WriteByte(have[i])
		}
	}
	return b.String()
}

// bareClass reports a rule that allows its whole class: its keyword alone.
func bareClass(r Rule) bool {
	q, ok := r.(interface{ qualifiers() Qualifiers })
	if !ok {
		return false
	}
	s := strings.TrimPrefix(r.String(), q.qualifiers().prefix())
	return !strings.ContainsAny(strings.TrimSuffix(s, ","), " (\"")
}

// protocolType is the socket type apparmor_parser gives a network rule
// that names a protocol instead (parser/network.c): `network inet tcp,`
// allows inet stream sockets, not datagrams.
var protocolType = map[string]string{"tcp": "stream", "udp": "dgram", "icmp": "raw"}

// networkCovers reports whether the network rule have allows what want asks.
func networkCovers(have, want Network) bool {
	if have.Family != "" && have.Family != want.Family {
		return false
	}
	haveType, wantType := have.Type, want.Type
	if haveType == "" {
		haveType = protocolType[have.Protocol]
	}
	if wantType == "" {
		wantType = protocolType[want.Protocol]
	}
	if haveType != "" && haveType != wantType {
		return false
	}
	return have.Protocol == "" || have.Protocol == want.Protocol || want.Protocol == "" && protocolType[have.Protocol] == wantType
}

func ruleDenies(r Rule) bool {
	q, ok := r.(interface{ qualifiers() Qualifiers })
	return ok && q.qualifiers().Deny
}

func containsAll(have, want string) bool {
	for i := 0; i < len(want); i++ {
		if strings.IndexByte(have, want[i]) < 0 {
			return false
		}
	}
	return true
}

func containsWords(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
