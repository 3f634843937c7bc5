package apparmor

import (
	"fmt"
	"slices"
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

// RuleFor builds the rule that would have allowed ev, from typed values only:
// every name and path from the log goes through the model's validation and
// escaping, so a log line can never add a second rule or a profile. It
// returns an error naming why no rule can be proposed (an event class ctsec
// does not model, a value the model refuses).
func RuleFor(ev *auditlog.Event, o RuleOptions) (Rule, error) {
	r, err := ruleFor(ev, o)
	if err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

func ruleFor(ev *auditlog.Event, o RuleOptions) (Rule, error) {
	op := ev.Operation
	switch {
	case strings.Contains(ev.Info, "Failed name lookup"):
		return nil, fmt.Errorf("disconnected path (%s)", ev.Info)
	case op == "capable":
		if ev.Name == "" {
			return nil, fmt.Errorf("capability event without a name")
		}
		return Capability{Names: []string{ev.Name}}, nil
	case strings.HasPrefix(op, "dbus_"):
		return eventDBusRule(ev)
	case op == "signal":
		return eventSignalRule(ev), nil
	case op == "ptrace":
		perms := maskWords(ev)
		if len(perms) == 0 {
			return nil, fmt.Errorf("ptrace event without a mask")
		}
		return Ptrace{Perms: perms, Peer: peerName(ev.Peer)}, nil
	case op == "mount":
		m := Mount{FSTypes: nonEmpty(ev.FSType), Options: mountFlags(ev.Flags)}
		if ev.SrcName != "" {
			m.Source = Literal(ev.SrcName)
		}
		if ev.Name != "" {
			m.Point = pathFor(ev.Name, o)
		}
		return m, nil
	case op == "umount":
		return Umount{Point: pathFor(ev.Name, o)}, nil
	case op == "pivotroot":
		p := PivotRoot{NewRoot: pathFor(ev.Name, o)}
		if ev.SrcName != "" {
			p.OldRoot = pathFor(ev.SrcName, o)
		}
		return p, nil
	case op == "change_profile" || op == "change_onexec":
		target := ev.Name2
		if target == "" {
			target = ev.Name
		}
		if target == "" {
			return nil, fmt.Errorf("%s event without a target", op)
		}
		return ChangeProfile{Target: target}, nil
	case ev.Family == "unix":
		return eventUnixRule(ev), nil
	case ev.Family != "":
		n := Network{Family: ev.Family}
		if NetworkTypes[ev.SockType] {
			n.Type = ev.SockType
		}
		return n, nil
	case ev.Class == "" || ev.Class == "file":
		return eventFileRule(ev, o)
	}
	return nil, fmt.Errorf("%s events (%s) are not modelled", ev.Class, op)
}

// eventFileRule maps the kernel's file masks to rule permissions the way
// aa-logprof does: create (c) and delete (d) need w; exec (x) becomes ix.
func eventFileRule(ev *auditlog.Event, o RuleOptions) (Rule, error) {
	if ev.Name == "" {
		return nil, fmt.Errorf("%s event without a path", ev.Operation)
	}
	if !strings.HasPrefix(ev.Name, "/") {
		return nil, fmt.Errorf("path %q is not absolute", ev.Name)
	}
	mask := ev.DeniedMask
	if mask == "" {
		mask = ev.Mask
	}
	var perms, exec string
	for _, c := range strings.ReplaceAll(mask, ":", "") {
		switch c {
		case 'r', 'w', 'a', 'l', 'k', 'm':
			perms += string(c)
		case 'c', 'd':
			perms += "w"
		case 'x':
			exec = "ix"
		}
	}
	if strings.Contains(perms, "w") {
		perms = strings.ReplaceAll(perms, "a", "")
	}
	var letters []byte
	for i := 0; i < len(permOrder); i++ {
		if strings.IndexByte(perms, permOrder[i]) >= 0 {
			letters = append(letters, permOrder[i])
		}
	}
	if len(letters) == 0 && exec == "" {
		return nil, fmt.Errorf("%s event on %q without a mask", ev.Operation, ev.Name)
	}
	return File{
		Owner: ev.FSUID >= 0 && ev.FSUID == ev.OUID,
		Path:  pathFor(ev.Name, o),
		Perms: string(letters),
		Exec:  exec,
	}, nil
}

func eventSignalRule(ev *auditlog.Event) Rule {
	s := Signal{Perms: maskWords(ev), Peer: peerName(ev.Peer)}
	if signalNames[ev.Signal] {
		s.Set = []string{ev.Signal}
	}
	return s
}

func eventUnixRule(ev *auditlog.Event) Rule {
	u := Unix{Perms: maskWords(ev), Addr: ev.NetAddr, PeerAddr: ev.PeerAddr}
	if setOf("stream", "dgram", "seqpacket")[ev.SockType] {
		u.Type = ev.SockType
	}
	if p := peerName(ev.Peer); p != "" {
		u.PeerLabel = p
	}
	return u
}

// peerName keeps a peer label usable in a rule; "unconfined" is a label too.
func peerName(p string) string {
	if i := strings.Index(p, " ("); i > 0 { // "label (complain)"
		p = p[:i]
	}
	return p
}

// maskWords splits "send receive" masks into rule permission words.
func maskWords(ev *auditlog.Event) []string {
	mask := ev.DeniedMask
	if mask == "" {
		mask = ev.Mask
	}
	words := strings.Fields(mask)
	slices.Sort(words)
	return slices.Compact(words)
}

func mountFlags(flags string) []string {
	var out []string
	for _, f := range strings.Split(flags, ",") {
		if f = strings.TrimSpace(f); f != "" && mountOptions[f] {
			out = append(out, f)
		}
	}
	return out
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func eventDBusRule(ev *auditlog.Event) (Rule, error) {
	d := DBus{
		Perms:     maskWords(ev),
		Bus:       ev.DBusBus,
		Path:      ev.DBusPath,
		Interface: ev.DBusInterface,
		Member:    ev.DBusMember,
		Name:      ev.Name,
		PeerLabel: peerName(ev.PeerProfile),
	}
	if len(d.Perms) == 0 {
		return nil, fmt.Errorf("dbus event without a mask")
	}
	switch {
	case slices.Contains(d.Perms, "eavesdrop"):
		// apparmor_parser: eavesdrop "can only contain a bus conditional".
		return DBus{Perms: []string{"eavesdrop"}, Bus: d.Bus}, nil
	case slices.Contains(d.Perms, "bind"):
		return DBus{Perms: []string{"bind"}, Bus: d.Bus, Name: d.Name}, nil
	}
	return d, nil
}
