package apparmor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/apparmor/auditlog"
	"github.com/ctsec/ctsec/internal/clock"
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

// FuzzReview: whatever the log text, the review neither panics nor
// proposes a rule that is not one valid line parsing back as one rule, and
// never proposes an allow for what the profile's deny rules forbid.
func FuzzReview(f *testing.F) {
	f.Add(`type=AVC msg=audit(1795500001.000:1): apparmor="DENIED" operation="exec" profile="ctsec-f" name="/usr/bin/curl" pid=7 comm="sh" requested_mask="x" denied_mask="x" fsuid=0 ouid=0`)
	f.Add(`type=AVC msg=audit(1795500002.000:2): apparmor="ALLOWED" operation="signal" profile="ctsec-f" pid=7 comm="kill" requested_mask="send" denied_mask="send" signal=bogus peer="unconfined"`)
	f.Add(`type=AVC msg=audit(1795500003.000:3): apparmor="ALLOWED" operation="open" profile="ctsec-f//null-/bin/sh" name="/etc/x" pid=7 comm="sh" requested_mask="r, junk" denied_mask="r" fsuid=0 ouid=1`)
	f.Add(`type=AVC msg=audit(1795500004.000:4): apparmor="ALLOWED" operation="mount" profile="ctsec-f^hat" name="/mnt/" pid=7 comm="mount" fstype="ext4" srcname="/dev/sda" flags="rw, bogus"`)
	f.Add("type=AVC msg=audit(1795500005.000:5): apparmor=\"ALLOWED\" operation=\"open\" profile=\"ctsec-f\" name=2F7461726765742220727769782C0A202F2A2A pid=7 comm=\"x\" requested_mask=\"rw\" denied_mask=\"rw\" fsuid=0 ouid=0")
	profile := complainHeader + "profile \"ctsec-f\" flags=(complain) {\n  deny /usr/bin/curl x,\n  deny /etc/shadow rw,\n  /srv/** r,\n}\n"
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ctsec-f"), []byte(profile), 0o644); err != nil {
		f.Fatal(err)
	}
	p, err := ParseProfile("ctsec-f", []byte(profile))
	if err != nil {
		f.Fatal(err)
	}
	ix := newRuleIndex(p)
	f.Fuzz(func(t *testing.T, log string) {
		rv, err := ReviewLogs([]Input{{Name: "fuzz", Reader: strings.NewReader(log)}}, dir,
			ReviewOptions{Clock: clock.Fixed(reviewNow)})
		if err != nil {
			return
		}
		for _, pr := range rv.Profiles {
			for _, x := range pr.Proposed {
				if err := x.Rule.Validate(); err != nil {
					t.Fatalf("proposed %q does not validate: %v", x.Text, err)
				}
				if x.Text != x.Rule.String() || strings.ContainsAny(x.Text, "\n\r\x00") {
					t.Fatalf("proposal text %q", x.Text)
				}
				rules, err := ParseRules("fuzz", x.Text)
				if err != nil || len(rules) != 1 {
					t.Fatalf("proposal %q parses as %d rules: %v", x.Text, len(rules), err)
				}
				if pr.Profile == "ctsec-f" {
					if d, _ := ix.deniedBy(x.Rule); d != nil {
						t.Fatalf("proposed %q though %s denies it", x.Text, d)
					}
				}
			}
		}
		var b strings.Builder
		if err := rv.WriteText(&b); err != nil {
			t.Fatal(err)
		}
	})
}
