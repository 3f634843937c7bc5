package apparmor

import (
	"strings"
	"testing"

	"github.com/ctsec/ctsec/apparmor/auditlog"
)

var fuzzOps = []struct{ op, class, family string }{
	{"open", "file", ""}, {"exec", "file", ""}, {"capable", "cap", ""}, {"signal", "signal", ""},
	{"ptrace", "ptrace", ""}, {"mount", "mount", ""}, {"umount", "mount", ""}, {"pivotroot", "mount", ""},
	{"connect", "net", "unix"}, {"connect", "net", "inet"}, {"dbus_method_call", "dbus", ""},
	{"change_profile", "file", ""},
}

// FuzzRuleFor: whatever a log says, the rule built from it is one line,
// validates, and parses back with the profile parser into the same single
// rule inside a single profile.
func FuzzRuleFor(f *testing.F) {
	for _, p := range injectionPaths {
		f.Add(uint8(0), p, "rw", "unconfined")
	}
	f.Add(uint8(3), "/x", "send", "x\" peer=unconfined,\n  /** rw,")
	f.Add(uint8(8), "@abstract\"),", "send receive connect", "peer")
	f.Add(uint8(10), "org.x\"),/**", "send", "unconfined")
	f.Add(uint8(5), "/mnt/}\nprofile evil {", "", "")
	f.Fuzz(func(t *testing.T, sel uint8, name, mask, peer string) {
		o := fuzzOps[int(sel)%len(fuzzOps)]
		ev := &auditlog.Event{Kind: auditlog.Allowed, Operation: o.op, Class: o.class, Family: o.family,
			Profile: "fuzz", Name: name, Name2: peer, Mask: mask, DeniedMask: mask, Peer: peer, PeerProfile: peer,
			Signal: "term", SockType: "stream", FSType: "ext4", Flags: "rw, " + mask, SrcName: name,
			NetAddr: name, PeerAddr: peer, DBusBus: "system", DBusPath: name, DBusMember: mask, FSUID: 0, OUID: 0}
		for _, normalize := range []bool{false, true} {
			r, err := RuleFor(ev, RuleOptions{Normalize: normalize})
			if err != nil {
				continue
			}
			s := r.String()
			if strings.ContainsAny(s, "\n\r\x00") || !strings.HasSuffix(s, ",") {
				t.Fatalf("rule %q is not one line", s)
			}
			p := &Profile{Name: "fuzz", Rules: []Rule{r}}
			text, err := p.Bytes()
			if err != nil {
				t.Fatalf("validated rule does not render: %v", err)
			}
			ps, err := Parse("fuzz", strings.NewReader(string(text)))
			if err != nil {
				t.Fatalf("rendered rule does not parse: %v\n%s", err, text)
			}
			if len(ps) != 1 || ps[0].Name != "fuzz" || ps[0].RuleCount() != 1 {
				t.Fatalf("rendered rule became %d profiles:\n%s", len(ps), text)
			}
		}
	})
}
