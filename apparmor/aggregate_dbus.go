package apparmor

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ctsec/ctsec/apparmor/auditlog"
)

// DBus is a D-Bus rule learnt from a log:
// `dbus (PERMS) bus=BUS [path="P"] [interface="I"] [member="M"] [name="N"] [peer=(label="L")],`
// Every value must follow the D-Bus naming grammar (which has no quotes,
// spaces or pattern characters), so nothing from a log can change the rule's
// shape; a value outside it makes the rule invalid rather than escaped.
type DBus struct {
	Qualifiers
	Perms     []string `json:"perms,omitempty"` // send, receive, bind, eavesdrop
	Bus       string   `json:"bus,omitempty"`
	Path      string   `json:"path,omitempty"`
	Interface string   `json:"interface,omitempty"`
	Member    string   `json:"member,omitempty"`
	Name      string   `json:"name,omitempty"`
	PeerLabel string   `json:"peer_label,omitempty"`
}

func (d DBus) String() string {
	s := d.prefix() + "dbus" + parenList(d.Perms)
	if d.Bus != "" {
		s += " bus=" + d.Bus
	}
	if d.Path != "" {
		s += ` path="` + d.Path + `"`
	}
	if d.Interface != "" {
		s += ` interface="` + d.Interface + `"`
	}
	if d.Member != "" {
		s += ` member="` + d.Member + `"`
	}
	if d.Name != "" && !d.isBind() {
		s += ` peer=(name="` + d.Name + `"`
		if d.PeerLabel != "" {
			s += `, label="` + d.PeerLabel + `"`
		}
		s += ")"
	} else if d.Name != "" {
		s += ` name="` + d.Name + `"`
	} else if d.PeerLabel != "" {
		s += ` peer=(label="` + d.PeerLabel + `")`
	}
	return s + ","
}

func (d DBus) isBind() bool { return len(d.Perms) == 1 && d.Perms[0] == "bind" }

// Validate holds every value to the D-Bus grammar.
func (d DBus) Validate() error {
	if err := checkWords("dbus permission", d.Perms, setOf("send", "receive", "bind", "eavesdrop", "r", "w", "rw")); err != nil {
		return err
	}
	if d.Bus != "" && !isIdent(d.Bus) {
		return fmt.Errorf("dbus bus %q is not a plain word", d.Bus)
	}
	if d.Path != "" && !dbusChars(d.Path, "/_", true) {
		return fmt.Errorf("dbus path %q is not a D-Bus object path", d.Path)
	}
	for what, v := range map[string]string{"interface": d.Interface, "member": d.Member, "name": d.Name} {
		if v != "" && !dbusChars(v, "._-:", false) {
			return fmt.Errorf("dbus %s %q is not a D-Bus name", what, v)
		}
	}
	if d.PeerLabel != "" {
		return checkPeer(d.PeerLabel)
	}
	return nil
}

// dbusChars accepts ASCII letters, digits and the given punctuation.
func dbusChars(s, punct string, slash bool) bool {
	if len(s) > 255 || (slash && !strings.HasPrefix(s, "/")) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(punct, c) >= 0) {
			return false
		}
	}
	return true
}

func dbusRule(ev *auditlog.Event) (Rule, error) {
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
