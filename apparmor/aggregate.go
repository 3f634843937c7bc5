package apparmor

import (
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/ctsec/ctsec/apparmor/auditlog"
)

// Proposal is a rule that would have allowed logged events.
type Proposal struct {
	Rule   Rule      `json:"-"`
	Text   string    `json:"rule"`
	Kind   string    `json:"kind"`
	Events int       `json:"events"`
	Last   time.Time `json:"last"`
}

// Activity is what the logs say one profile did in one mode.
type Activity struct {
	Profile string `json:"profile"`
	// Mode is complain for ALLOWED events (what enforce mode would deny),
	// enforce for DENIED ones, audit for AUDIT records.
	Mode      string         `json:"mode"`
	Events    int            `json:"events"`
	First     time.Time      `json:"first"`
	Last      time.Time      `json:"last"`
	Proposals []Proposal     `json:"proposals"`
	Skipped   map[string]int `json:"skipped,omitempty"` // why no rule: count
}

// Aggregator folds events into Activities, one per profile and mode. Its
// memory grows with the number of distinct rules, not of events.
type Aggregator struct {
	// Options returns the rule options for a profile (nil: zero options).
	Options func(profile string) RuleOptions
	acts    map[[2]string]*activity
}

type activity struct {
	Activity
	rules map[string]*fileOrRule
	// seen maps the rule-relevant fields of an event to its accumulator, so
	// the thousandth identical event costs a map lookup, not a rule build.
	seen map[eventKey]*fileOrRule
}

// eventKey is every event field RuleFor reads.
type eventKey struct {
	op, class, name, name2, mask, denied, family, sockType, peer, peerProfile, signal,
	fstype, flags, srcName, addr, peerAddr, bus, path, iface, member string
	owner, disconnected bool
}

func eventKeyOf(ev *auditlog.Event) eventKey {
	return eventKey{ev.Operation, ev.Class, ev.Name, ev.Name2, ev.Mask, ev.DeniedMask, ev.Family, ev.SockType,
		ev.Peer, ev.PeerProfile, ev.Signal, ev.FSType, ev.Flags, ev.SrcName, ev.NetAddr, ev.PeerAddr,
		ev.DBusBus, ev.DBusPath, ev.DBusInterface, ev.DBusMember,
		ev.FSUID >= 0 && ev.FSUID == ev.OUID, strings.Contains(ev.Info, "Failed name lookup")}
}

// clone copies the key's strings so the map does not keep log lines alive.
func (k eventKey) clone() eventKey {
	for _, p := range []*string{&k.op, &k.class, &k.name, &k.name2, &k.mask, &k.denied, &k.family, &k.sockType,
		&k.peer, &k.peerProfile, &k.signal, &k.fstype, &k.flags, &k.srcName, &k.addr, &k.peerAddr,
		&k.bus, &k.path, &k.iface, &k.member} {
		*p = strings.Clone(*p)
	}
	return k
}

// fileOrRule accumulates one proposal; file rules on the same path merge
// their permissions.
type fileOrRule struct {
	rule   Rule
	events int
	last   time.Time
}

// NewAggregator returns an empty aggregator.
func NewAggregator() *Aggregator { return &Aggregator{acts: map[[2]string]*activity{}} }

// ProfileOf attributes an event to the profile whose file holds it: children
// and hats ("a//b", the complain-mode "a//null-/bin/x") belong to "a".
func ProfileOf(label string) string {
	if i := strings.Index(label, "//"); i > 0 {
		return label[:i]
	}
	return label
}

// Add folds one event in. Events that are not about a confined process
// (STATUS, HINT, ERROR, unconfined) are ignored.
func (a *Aggregator) Add(ev *auditlog.Event) {
	var mode string
	switch ev.Kind {
	case auditlog.Allowed:
		mode = "complain"
	case auditlog.Denied:
		mode = "enforce"
	case auditlog.Audit:
		mode = "audit"
	default:
		return
	}
	name := ProfileOf(ev.Profile)
	if name == "" || name == "unconfined" {
		return
	}
	k := [2]string{name, mode}
	act := a.acts[k]
	if act == nil {
		act = &activity{Activity: Activity{Profile: strings.Clone(name), Mode: mode},
			rules: map[string]*fileOrRule{}, seen: map[eventKey]*fileOrRule{}}
		a.acts[k] = act
	}
	act.Events++
	if !ev.Time.IsZero() {
		if act.First.IsZero() || ev.Time.Before(act.First) {
			act.First = ev.Time
		}
		if ev.Time.After(act.Last) {
			act.Last = ev.Time
		}
	}
	if mode == "audit" {
		return
	}
	ek := eventKeyOf(ev)
	if acc, ok := act.seen[ek]; ok {
		acc.events++
		if ev.Time.After(acc.last) {
			acc.last = ev.Time
		}
		return
	}
	var o RuleOptions
	if a.Options != nil {
		o = a.Options(name)
	}
	r, err := RuleFor(ev.Clone(), o)
	if err != nil {
		if act.Skipped == nil {
			act.Skipped = map[string]int{}
		}
		act.Skipped[skipReason(ev, err)]++
		return
	}
	key := r.String()
	if f, ok := r.(File); ok {
		key = fileKey(f)
	}
	acc := act.rules[key]
	if acc == nil {
		acc = &fileOrRule{rule: r}
		act.rules[key] = acc
	} else if f, ok := r.(File); ok {
		acc.rule = mergeFile(acc.rule.(File), f)
	}
	act.seen[ek.clone()] = acc
	acc.events++
	if ev.Time.After(acc.last) {
		acc.last = ev.Time
	}
}

// skipReason keeps the skip map small: one entry per kind of problem.
func skipReason(ev *auditlog.Event, err error) string {
	op := ev.Operation
	if ev.Class != "" {
		op = ev.Class + "/" + op
	}
	msg := err.Error()
	if len(msg) > 80 {
		msg = msg[:80] + "…"
	}
	if strings.Contains(msg, "not modelled") {
		return op + ": not modelled"
	}
	return op + ": " + strings.ToValidUTF8(msg, "?")
}

func fileKey(f File) string {
	owner := ""
	if f.Owner {
		owner = "owner "
	}
	return "file:" + owner + f.Path.String()
}

// mergeFile unions the permissions of two rules on one path.
func mergeFile(a, b File) File {
	perms := ""
	for i := 0; i < len(permOrder); i++ {
		c := permOrder[i]
		if strings.IndexByte(a.Perms, c) >= 0 || strings.IndexByte(b.Perms, c) >= 0 {
			perms += string(c)
		}
	}
	if strings.Contains(perms, "w") {
		perms = strings.ReplaceAll(perms, "a", "")
	}
	a.Perms = perms
	if a.Exec == "" {
		a.Exec = b.Exec
	}
	return a
}

// Activities returns what was aggregated, sorted by profile and mode, with
// proposals sorted by rule text.
func (a *Aggregator) Activities() []Activity {
	out := make([]Activity, 0, len(a.acts))
	for _, act := range a.acts {
		res := act.Activity
		res.Proposals = make([]Proposal, 0, len(act.rules))
		for _, acc := range act.rules {
			res.Proposals = append(res.Proposals, Proposal{
				Rule: acc.rule, Text: acc.rule.String(), Kind: RuleKind(acc.rule),
				Events: acc.events, Last: acc.last,
			})
		}
		slices.SortFunc(res.Proposals, func(x, y Proposal) int { return strings.Compare(x.Text, y.Text) })
		out = append(out, res)
	}
	slices.SortFunc(out, func(x, y Activity) int {
		if c := strings.Compare(x.Profile, y.Profile); c != 0 {
			return c
		}
		return strings.Compare(x.Mode, y.Mode)
	})
	return out
}

// RuleKind names a rule's class: file, capability, network, …
func RuleKind(r Rule) string {
	switch r.(type) {
	case File:
		return "file"
	case Capability:
		return "capability"
	case Network:
		return "network"
	case Signal:
		return "signal"
	case Ptrace:
		return "ptrace"
	case Mount, Umount, PivotRoot:
		return "mount"
	case Unix:
		return "unix"
	case DBus:
		return "dbus"
	case ChangeProfile:
		return "change_profile"
	}
	return "other"
}

// Covered reports whether p already allows r: the same rule, a bare rule for
// the whole class (`file,`, `capability,`, `network,`, `unix,`, `signal,`,
// `dbus,`, …), or for files the same path — or a profile pattern matching
// the literal path — with at least the same permissions. Patterns using
// variables are not expanded: a rule they cover is still proposed, and
// apparmor_parser merges the overlap. When in doubt it answers no: a rule
// proposed twice costs a line, a rule wrongly taken as present breaks the
// service once the profile enforces.
func Covered(p *Profile, r Rule) bool {
	if p.Has(r) {
		return true
	}
	for _, x := range p.Rules {
		if !IsPolicy(x) || ruleDenies(x) {
			continue
		}
		if bareClass(x) && reflect.TypeOf(x) == reflect.TypeOf(r) {
			return true
		}
		switch have := x.(type) {
		case File:
			want, ok := r.(File)
			if !ok {
				continue
			}
			samePath := have.Path.String() == want.Path.String() ||
				have.Path.IsGlob() && !want.Path.IsGlob() && globMatches(have.Path.Text(), want.Path.Text())
			if samePath && (!have.Owner || want.Owner) &&
				containsAll(have.Perms, want.Perms) && (want.Exec == "" || have.Exec == want.Exec) {
				return true
			}
		case Capability:
			want, ok := r.(Capability)
			if ok && containsWords(have.Names, want.Names) {
				return true
			}
		case Network:
			if want, ok := r.(Network); ok && networkCovers(have, want) {
				return true
			}
		}
	}
	return false
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
