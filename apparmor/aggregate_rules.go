package apparmor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ctsec/ctsec/apparmor/auditlog"
)

// RuleOptions shape the rules built from log events.
type RuleOptions struct {
	// Normalize replaces volatile path parts with patterns: /proc/<pid> with
	// @{pid} (or [0-9]* when PIDVar is false), hash-like and long numeric
	// name parts with *.
	Normalize bool
	// PIDVar says the profile defines @{pid} (it includes tunables/global).
	PIDVar bool
}

// RejectError says an event carries a field outside its grammar. Such an
// event is counted and shown, never turned into a rule: dropping the odd
// value instead would widen the rule (`signal=bogus` read as "every
// signal").
type RejectError struct{ Msg string }

func (e *RejectError) Error() string { return e.Msg }

func rejectf(format string, args ...any) error {
	return &RejectError{Msg: fmt.Sprintf(format, args...)}
}

func isRejection(err error) bool {
	var re *RejectError
	return errors.As(err, &re)
}

// fieldText shows a log value in a message: quoted, bounded, printable.
func fieldText(field, v string) string {
	if len(v) > 60 {
		v = v[:60] + "…"
	}
	return field + "=" + strconv.QuoteToASCII(v)
}

// RuleFor builds the rule that would have allowed ev, from typed values only:
// every name and path from the log goes through the model's validation and
// escaping, so a log line can never add a second rule or a profile. It
// returns an error naming why no rule can be proposed: a *RejectError for a
// field outside its grammar or a value the model refuses, another error for
// an event class ctsec does not model.
func RuleFor(ev *auditlog.Event, o RuleOptions) (Rule, error) {
	key := eventKeyOf(ev, o)
	var bits uint8
	if key.kind == kindFile {
		var bad bool
		if bits, bad = fileMaskBits(ev); bad {
			return nil, rejectf("%s is not a file permission mask", fieldText("requested_mask", fileMask(ev)))
		}
	}
	r, err := buildRule(key, ev, o)
	if err != nil {
		return nil, err
	}
	if f, ok := r.(File); ok {
		if bits == 0 {
			return nil, rejectf("%s event on %q without a permission mask", ev.Operation, ev.Name)
		}
		f.Perms, f.Exec = permsOf(bits)
		r = f
	}
	return r, nil
}

// Rule shapes: what kind of rule an event asks for.
const (
	kindFile uint8 = iota + 1
	kindCap
	kindNet
	kindUnix
	kindSignal
	kindPtrace
	kindMount
	kindUmount
	kindPivot
	kindChange
	kindDBus
	kindDisconnected
	kindOther
)

// ruleKey is the part of an event its rule depends on, per kind of rule: two
// events with one key ask for the same rule (file events: the same path, to
// be granted the union of their permissions). Building the key neither
// allocates nor renders anything, which keeps the per-event cost of a
// review at a map lookup.
type ruleKey struct {
	kind                uint8
	owner, glob         bool
	a, b, c, d, e, f, g string
}

// appendTo encodes the key unambiguously: kind and flags, then each field
// with its length in front.
func (k ruleKey) appendTo(b []byte) []byte {
	var flags byte
	if k.owner {
		flags |= 1
	}
	if k.glob {
		flags |= 2
	}
	b = append(b, k.kind, flags)
	for _, f := range [...]string{k.a, k.b, k.c, k.d, k.e, k.f, k.g} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

func (k ruleKey) clone() ruleKey {
	for _, p := range []*string{&k.a, &k.b, &k.c, &k.d, &k.e, &k.f, &k.g} {
		*p = strings.Clone(*p)
	}
	return k
}

func eventKeyOf(ev *auditlog.Event, o RuleOptions) ruleKey {
	op := ev.Operation
	switch {
	case strings.Contains(ev.Info, "Failed name lookup"):
		return ruleKey{kind: kindDisconnected}
	case op == "change_hat":
		return ruleKey{kind: kindOther, a: ev.Class, b: op}
	case op == "capable":
		return ruleKey{kind: kindCap, a: ev.Name}
	case strings.HasPrefix(op, "dbus_"):
		return ruleKey{kind: kindDBus, a: eventMask(ev), b: ev.DBusBus, c: ev.DBusPath, d: ev.DBusInterface,
			e: ev.DBusMember, f: ev.Name, g: ev.PeerProfile}
	case op == "signal":
		return ruleKey{kind: kindSignal, a: eventMask(ev), b: ev.Signal, c: ev.Peer}
	case op == "ptrace":
		return ruleKey{kind: kindPtrace, a: eventMask(ev), b: ev.Peer}
	case op == "mount":
		k := ruleKey{kind: kindMount, a: ev.FSType, b: ev.Flags, c: ev.SrcName}
		k.d, k.glob = keyPath(ev.Name, o)
		return k
	case op == "umount":
		k := ruleKey{kind: kindUmount}
		k.a, k.glob = keyPath(ev.Name, o)
		return k
	case op == "pivotroot":
		return ruleKey{kind: kindPivot, a: ev.Name, b: ev.SrcName}
	case op == "change_profile" || op == "change_onexec":
		target := ev.Name2
		if target == "" {
			target = ev.Name
		}
		return ruleKey{kind: kindChange, a: target, b: op}
	case ev.Family == "unix":
		return ruleKey{kind: kindUnix, a: eventMask(ev), b: ev.SockType, c: ev.NetAddr, d: ev.PeerAddr, e: ev.Peer}
	case ev.Family != "":
		return ruleKey{kind: kindNet, a: ev.Family, b: ev.SockType}
	case ev.Class == "" || ev.Class == "file":
		k := ruleKey{kind: kindFile, owner: ev.FSUID >= 0 && ev.FSUID == ev.OUID}
		k.a, k.glob = keyPath(ev.Name, o)
		return k
	}
	return ruleKey{kind: kindOther, a: ev.Class, b: op}
}

// keyPath is the path a rule will name: the logged one, or its normalised
// pattern (which allocates, so only with Normalize).
func keyPath(name string, o RuleOptions) (string, bool) {
	if !o.Normalize || name == "" {
		return name, false
	}
	p := pathFor(name, o)
	return p.Text(), p.IsGlob()
}

func keyToPath(text string, glob bool) Path { return Path{text: text, glob: glob} }

// buildRule makes and validates the rule of a shape. For files the result
// has no permissions yet: they are the union over the shape's events.
func buildRule(k ruleKey, ev *auditlog.Event, o RuleOptions) (Rule, error) {
	r, err := shapeRule(k, ev)
	if err != nil {
		return nil, err
	}
	check := r
	if f, ok := r.(File); ok {
		f.Perms = "r" // any permission: the path is what is checked here
		check = f
	}
	if err := check.Validate(); err != nil {
		return nil, &RejectError{Msg: err.Error()}
	}
	return r, nil
}

func shapeRule(k ruleKey, ev *auditlog.Event) (Rule, error) {
	switch k.kind {
	case kindDisconnected:
		return nil, fmt.Errorf("disconnected path (%s)", ev.Info)
	case kindCap:
		if k.a == "" {
			return nil, rejectf("capability event without a name")
		}
		return Capability{Names: []string{k.a}}, nil
	case kindDBus:
		return eventDBusRule(k)
	case kindSignal:
		perms, err := maskWords("signal", k.a)
		if err != nil {
			return nil, err
		}
		if k.b == "" {
			return nil, rejectf("signal event without signal=")
		}
		if !signalName(k.b) {
			return nil, rejectf("%s is not a signal name", fieldText("signal", k.b))
		}
		return Signal{Perms: perms, Set: []string{k.b}, Peer: peerName(k.c)}, nil
	case kindPtrace:
		perms, err := maskWords("ptrace", k.a)
		if err != nil {
			return nil, err
		}
		return Ptrace{Perms: perms, Peer: peerName(k.b)}, nil
	case kindMount:
		opts, err := mountFlags(k.b)
		if err != nil {
			return nil, err
		}
		m := Mount{Options: opts}
		if k.a != "" {
			m.FSTypes = []string{k.a}
		}
		if k.c != "" {
			m.Source = Literal(k.c)
		}
		if k.d != "" {
			m.Point = keyToPath(k.d, k.glob)
		}
		return m, nil
	case kindUmount:
		if k.a == "" {
			return nil, rejectf("umount event without a mount point")
		}
		return Umount{Point: keyToPath(k.a, k.glob)}, nil
	case kindPivot:
		if k.a == "" {
			return nil, rejectf("pivotroot event without a new root")
		}
		p := PivotRoot{NewRoot: Literal(k.a)}
		if k.b != "" {
			p.OldRoot = Literal(k.b)
		}
		return p, nil
	case kindChange:
		if k.a == "" {
			return nil, rejectf("%s event without a target", k.b)
		}
		return ChangeProfile{Target: k.a}, nil
	case kindUnix:
		perms, err := maskWords("unix", k.a)
		if err != nil {
			return nil, err
		}
		u := Unix{Perms: perms, Addr: k.c, PeerAddr: k.d, PeerLabel: peerName(k.e)}
		switch k.b {
		case "stream", "dgram", "seqpacket":
			u.Type = k.b
		case "":
		default:
			return nil, rejectf("%s is not a unix socket type", fieldText("sock_type", k.b))
		}
		return u, nil
	case kindNet:
		n := Network{Family: k.a}
		if !NetworkFamilies[k.a] {
			return nil, rejectf("%s is not a network family", fieldText("family", k.a))
		}
		switch {
		case NetworkTypes[k.b]:
			n.Type = k.b
		case k.b == "":
		default:
			return nil, rejectf("%s is not a socket type", fieldText("sock_type", k.b))
		}
		return n, nil
	case kindFile:
		if k.a == "" {
			return nil, rejectf("%s event without a path", ev.Operation)
		}
		if !strings.HasPrefix(k.a, "/") {
			return nil, rejectf("path %q is not absolute", k.a)
		}
		return File{Owner: k.owner, Path: keyToPath(k.a, k.glob)}, nil
	}
	return nil, fmt.Errorf("%s events (%s) are not modelled", ev.Class, ev.Operation)
}

// Permission bits of a file shape: permOrder's letters, then exec.
const permExec = 1 << 6

func fileMask(ev *auditlog.Event) string {
	if ev.DeniedMask != "" {
		return ev.DeniedMask
	}
	return ev.Mask
}

// fileMaskBits reads the kernel's file mask (aa_file_perm_chrs: x w r a c d
// k m l, with the old owner::other colons and exec qualifiers) the way
// aa-logprof maps it to rule permissions: create (c) and delete (d) need w,
// exec (x) becomes ix. Any other byte makes the mask invalid.
func fileMaskBits(ev *auditlog.Event) (bits uint8, bad bool) {
	m := fileMask(ev)
	for i := 0; i < len(m); i++ {
		switch c := m[i]; c {
		case 'm':
			bits |= 1 << 0
		case 'r':
			bits |= 1 << 1
		case 'w', 'c', 'd':
			bits |= 1 << 2
		case 'a':
			bits |= 1 << 3
		case 'l':
			bits |= 1 << 4
		case 'k':
			bits |= 1 << 5
		case 'x':
			bits |= permExec
		case ':', 'i', 'I', 'p', 'P', 'u', 'U':
		default:
			return 0, true
		}
	}
	return bits, false
}

// permsOf renders permission bits: w wins over a, exec becomes ix.
func permsOf(bits uint8) (perms, exec string) {
	if bits&(1<<2) != 0 {
		bits &^= 1 << 3
	}
	var b [6]byte
	n := 0
	for i := 0; i < len(permOrder); i++ {
		if bits&(1<<i) != 0 {
			b[n] = permOrder[i]
			n++
		}
	}
	if bits&permExec != 0 {
		exec = "ix"
	}
	return string(b[:n]), exec
}

// peerName keeps a peer label usable in a rule; "unconfined" is a label too.
func peerName(p string) string {
	if i := strings.Index(p, " ("); i > 0 { // "label (complain)"
		p = p[:i]
	}
	return p
}

func eventMask(ev *auditlog.Event) string {
	if ev.DeniedMask != "" {
		return ev.DeniedMask
	}
	return ev.Mask
}

// maskWords splits "send receive" masks into rule permission words; the
// rule's own validation decides which words its class accepts. Anything but
// letters, underscores and spaces is outside every class's grammar.
func maskWords(class, mask string) ([]string, error) {
	for i := 0; i < len(mask); i++ {
		c := mask[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || c == ' ') {
			return nil, rejectf("%s is not a %s permission list", fieldText("requested_mask", mask), class)
		}
	}
	words := strings.Fields(mask)
	if len(words) == 0 {
		return nil, rejectf("%s event without a permission mask", class)
	}
	slices.Sort(words)
	return slices.Compact(words), nil
}

// signalName accepts the names the kernel logs for a mapped signal and its
// rtmin+N form for real-time signals (security/apparmor/ipc.c).
func signalName(s string) bool {
	if signalNames[s] {
		return true
	}
	n, ok := strings.CutPrefix(s, "rtmin+")
	if !ok || n == "" || len(n) > 2 || !isDigits(n) {
		return false
	}
	v, _ := strconv.Atoi(n)
	return v <= 32 && (len(n) == 1 || n[0] != '0')
}

func mountFlags(flags string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(flags, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !mountOptions[f] {
			return nil, rejectf("%s: %q is not a mount option", fieldText("flags", flags), f)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

func eventDBusRule(k ruleKey) (Rule, error) {
	perms, err := maskWords("dbus", k.a)
	if err != nil {
		return nil, err
	}
	d := DBus{Perms: perms, Bus: k.b, Path: k.c, Interface: k.d, Member: k.e, Name: k.f, PeerLabel: peerName(k.g)}
	switch {
	case slices.Contains(d.Perms, "eavesdrop"):
		// apparmor_parser: eavesdrop "can only contain a bus conditional".
		return DBus{Perms: []string{"eavesdrop"}, Bus: d.Bus}, nil
	case slices.Contains(d.Perms, "bind"):
		return DBus{Perms: []string{"bind"}, Bus: d.Bus, Name: d.Name}, nil
	}
	return d, nil
}
