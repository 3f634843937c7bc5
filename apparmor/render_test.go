package apparmor

import (
	"context"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

func TestEscapeLiteral(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/etc/passwd", `"/etc/passwd"`},
		{"/a b/c", `"/a b/c"`},
		{`/x" rw,`, `"/x\" rw,"`},
		{`/a\b`, `"/a\134b"`},
		{`/a\`, `"/a\134"`},
		{"/**", `"/\*\*"`},
		{"/@{HOME}/x", `"/@\{HOME\}/x"`},
		{"/[ab]?^", `"/\[ab\]\?\^"`},
		{"/x\ny", `"/x\012y"`},
		{"/x\ty\x7f", `"/x\011y\177"`},
		{"/é", `"/é"`},
	}
	for _, tt := range tests {
		if got := Literal(tt.in).String(); got != tt.want {
			t.Errorf("Literal(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestPathValidate(t *testing.T) {
	bad := []Path{Literal(""), Literal("relative"), Literal("/a\x00b"),
		{text: `/a"b`, glob: true}, {text: `/a\`, glob: true}, {text: `/a\\`, glob: true}, {text: "/a{b", glob: true},
		{text: "/a}b", glob: true}, {text: "/a[b", glob: true}, {text: "/a\nb", glob: true}}
	for _, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("%#v accepted", p)
		}
	}
	for _, g := range []string{"/**", "@{PROC}/sys/[^k]** ", "/{a,b}/c", `/x\{y`, "/[\\{]x"} {
		if _, err := ParseGlob(g); err != nil {
			t.Errorf("ParseGlob(%q): %v", g, err)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, n := range []string{"ctsec-web", "docker-default", "Profile with spaces", "/usr/sbin/cupsd", "snap.x.y"} {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q): %v", n, err)
		}
	}
	for _, n := range []string{"", " x", "x ", "a\"b", "}\nprofile evil {", "a//b", "a*b", "a{b", "a\\b", "x\x00", "@{x}", "a,b"} {
		if err := ValidateName(n); err == nil {
			t.Errorf("ValidateName(%q) accepted", n)
		}
	}
}

func TestRuleStrings(t *testing.T) {
	tests := []struct {
		r    Rule
		want string
	}{
		{File{}, "file,"},
		{File{Path: Literal("/etc/hosts"), Perms: "r"}, `"/etc/hosts" r,`},
		{File{Qualifiers: Qualifiers{Audit: true, Deny: true}, Owner: true, Path: MustGlob("/proc/**"), Perms: "w"}, `audit deny owner "/proc/**" w,`},
		{File{Path: Literal("/bin/sh"), Perms: "mr", Exec: "ix"}, `"/bin/sh" mrix,`},
		{File{Path: Literal("/bin/x"), Exec: "Px", Target: "ctsec-x"}, `"/bin/x" Px -> "ctsec-x",`},
		{File{Qualifiers: Qualifiers{Deny: true}, Path: Literal("/bin/sh"), Exec: "x"}, `deny "/bin/sh" x,`},
		{Capability{}, "capability,"},
		{Capability{Names: []string{"chown", "setuid"}}, "capability chown setuid,"},
		{Network{}, "network,"},
		{Network{Qualifiers: Qualifiers{Deny: true}, Family: "alg"}, "deny network alg,"},
		{Network{Family: "inet6", Type: "stream", Protocol: "tcp"}, "network inet6 stream tcp,"},
		{Signal{Perms: []string{"receive"}, Peer: "unconfined"}, `signal (receive) peer="unconfined",`},
		{Signal{Perms: []string{"send"}, Set: []string{"term", "kill"}}, "signal (send) set=(term,kill),"},
		{Ptrace{Perms: []string{"trace", "tracedby", "read", "readby"}, Peer: "web"}, `ptrace (trace,tracedby,read,readby) peer="web",`},
		{Mount{Qualifiers: Qualifiers{Deny: true}}, "deny mount,"},
		{Mount{FSTypes: []string{"tmpfs"}, Options: []string{"rw", "nosuid"}, Source: Literal("tmpfs"), Point: Literal("/tmp/")}, `mount fstype=(tmpfs) options=(rw,nosuid) "tmpfs" -> "/tmp/",`},
		{Umount{}, "umount,"},
		{PivotRoot{OldRoot: Literal("/old/"), NewRoot: Literal("/new/"), Target: "x"}, `pivot_root oldroot="/old/" "/new/" -> "x",`},
		{Unix{Perms: []string{"connect", "send"}, Type: "stream", PeerAddr: "@x"}, `unix (connect,send) type=stream peer=(addr="@x"),`},
		{ChangeProfile{Target: "other"}, `change_profile -> "other",`},
		{Include{Path: "abstractions/base"}, "include <abstractions/base>"},
		{Include{Path: "/etc/x", Quoted: true, IfExists: true}, `include if exists "/etc/x"`},
	}
	for _, tt := range tests {
		if err := tt.r.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", tt.want, err)
		}
		if got := tt.r.String(); got != tt.want {
			t.Errorf("String() = %s, want %s", got, tt.want)
		}
	}
}

func TestRuleValidateRejects(t *testing.T) {
	bad := []Rule{
		File{Path: Literal("/x")},                                                  // no perms
		File{Path: Literal("/x"), Perms: "wr"},                                     // not canonical
		File{Path: Literal("/x"), Perms: "wa"},                                     // conflict
		File{Path: Literal("/x"), Exec: "x"},                                       // bare x needs deny
		File{Path: Literal("/x"), Exec: "ix", Target: "y"},                         // target needs px/cx
		File{Path: Literal("/x"), Exec: "Px", Target: "}\nprofile evil {"},         // bad target
		Capability{Names: []string{"all"}},                                         // unknown
		Network{Family: "inet,\n  /** rw"},                                         // unknown
		Signal{Peer: "x\" rw,"},                                                    // bad peer
		Mount{Options: []string{"rw) /** rw,"}},                                    // bad option
		Comment{Text: "x\n/** rw,"},                                                // spans lines
		Include{Path: "x>\n/** rw,"},                                               // breaks out
		Raw{Text: "dbus, /** rw,"},                                                 // two rules
		Raw{Text: "}\nprofile evil {"},                                             // block
		Raw{Text: `dbus bus="x,`},                                                  // open quote
		Variable{Name: "X", Values: []string{"/a /b"}},                             // would split
		ChangeProfile{Exec: Literal("rel")},                                        // not absolute
		Unix{Addr: "\x00"},                                                         // NUL
		PivotRoot{Target: "a b "},                                                  // bad name
		File{Qualifiers: Qualifiers{Deny: true}, Path: Literal("/x"), Exec: "ix"},  // deny ix
		File{Path: Path{text: "/a\"b", glob: true}, Perms: "r"},                    // quote in glob
		Capability{Names: []string{"chown,\n  /** rwlkmix,\n  capability setuid"}}, // injection
	}
	for _, r := range bad {
		if err := r.Validate(); err == nil {
			t.Errorf("%#v accepted: %s", r, r.String())
		}
	}
}

func TestProfileRender(t *testing.T) {
	p := &Profile{
		Header:   []string{"generated by ctsec"},
		ABI:      "abi/3.0",
		Includes: []Include{{Path: "tunables/global"}},
		Name:     "ctsec-web",
		Flags:    []string{"attach_disconnected", "mediate_deleted", "complain"},
		Rules: []Rule{
			Include{Path: "abstractions/base"},
			Blank{},
			Network{Family: "inet", Protocol: "tcp"},
			Comment{Text: "logs", Trailing: true},
			File{Path: Literal("/var/log/x\" rw,\n  /** rwlkmix,\n  \"y"), Perms: "rw"},
		},
	}
	got := p.String()
	want := `# generated by ctsec
abi <abi/3.0>,
include <tunables/global>

profile "ctsec-web" flags=(attach_disconnected,mediate_deleted,complain) {
  include <abstractions/base>

  network inet tcp,  # logs
  "/var/log/x\" rw,\012  /\*\* rwlkmix,\012  \"y" rw,
}
`
	if got != want {
		t.Errorf("render:\n%s\nwant:\n%s", got, want)
	}
	if p.Mode() != "complain" {
		t.Errorf("Mode = %s", p.Mode())
	}
	if p.RuleCount() != 3 {
		t.Errorf("RuleCount = %d", p.RuleCount())
	}
	if n := p.Add(Network{Family: "inet", Protocol: "tcp"}, Capability{Names: []string{"chown"}}); n != 1 {
		t.Errorf("Add added %d, want 1 (one duplicate)", n)
	}
	p.Name = "}\nprofile evil {"
	if _, err := p.Bytes(); err == nil {
		t.Error("invalid name rendered")
	}
}

// TestRenderedPayloadsCompile runs the known injection payloads through
// the real parser: each profile compiles and defines exactly one profile.
func TestRenderedPayloadsCompile(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	payloads := []string{
		"x\" rw,\n  /** rwlkmix,\n  \"y",
		"}\nprofile evil {",
		"@{PROC}/**", `\`, `a\`, `\"`, "a\x01b\x7fc", "{a,b}[c]^?*", "#comment", "é\xff",
	}
	ctx := context.Background()
	for _, pl := range payloads {
		p := &Profile{Name: "ctsec-payload", Flags: []string{"complain"}, Rules: []Rule{
			File{Path: Literal("/" + pl), Perms: "rw"},
			Unix{Perms: []string{"connect"}, PeerAddr: "@" + pl},
			Mount{Source: Literal(pl), Point: Literal("/" + pl + "/")},
			Signal{Perms: []string{"receive"}, Peer: "unconfined"},
		}}
		text, err := p.Bytes()
		if err != nil {
			t.Fatalf("%q: %v", pl, err)
		}
		var c Checker
		if probs, err := c.Check(ctx, text); err != nil || len(probs) > 0 {
			t.Errorf("payload %q: %v %v\n%s", pl, err, probs, text)
		}
		names, err := c.Names(ctx, text)
		if err != nil || len(names) != 1 || names[0] != "ctsec-payload" {
			t.Errorf("payload %q: names %q, %v", pl, names, err)
		}
		if strings.Count(string(text), "\n") != 6 {
			t.Errorf("payload %q spans extra lines:\n%s", pl, text)
		}
	}
}
