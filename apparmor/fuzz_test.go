package apparmor

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// payloads are the known injections (notes/apparmor.md §6) and their cousins.
var payloads = []string{
	"x\" rw,\n  /** rwlkmix,\n  \"y",
	"}\nprofile evil {",
	"a\\", "a\\\\", `\"`, "@{PROC}", "@\\{x}", "{a,b}[^c]*?", "# c", "x,\n  capability,",
	"\x00", "\r\n}\r\nprofile evil {\r\n", "peer=(addr=\"@x\"),", "é\xff\xfe", "->", "\\134\"",
}

// fuzzProfile puts s into every field that can carry text from a log, a
// compose file or an operator: literal paths, peer and target names, unix
// addresses, mount sources, comments and the profile name itself. Fields
// whose validators refuse s fall back to a fixed value, so the profile
// always renders. glob says whether s was also accepted as a pattern.
func fuzzProfile(s string) (p *Profile, glob bool) {
	name := "ctsec-fuzz"
	if ValidateName(s) == nil {
		name = s
	}
	peer := "ctsec-peer"
	if ValidateName(s) == nil {
		peer = s
	}
	path := "/" + strings.ReplaceAll(s, "\x00", "")
	p = &Profile{
		Header: []string{"fuzz"},
		ABI:    "abi/3.0",
		Name:   name,
		Flags:  []string{"attach_disconnected", "complain"},
		Rules: []Rule{
			File{Path: Literal(path), Perms: "rw"},
			File{Qualifiers: Qualifiers{Audit: true, Deny: true}, Owner: true, Path: Literal(path + "/"), Perms: "wlk", Exec: "x"},
			File{Path: Literal(path), Perms: "mr", Exec: "Px", Target: peer},
			Signal{Perms: []string{"send", "receive"}, Peer: peer},
			Ptrace{Perms: []string{"read"}, Peer: peer},
			Unix{Perms: []string{"connect"}, Type: "stream", Addr: "@" + strings.ReplaceAll(s, "\x00", ""), PeerLabel: peer},
			Mount{FSTypes: []string{"tmpfs"}, Source: Literal(path), Point: Literal(path + "/")},
			Umount{Point: Literal(path + "/")},
			PivotRoot{OldRoot: Literal(path + "/old/"), NewRoot: Literal(path + "/")},
			ChangeProfile{Exec: Literal(path), Target: peer},
		},
	}
	if (Comment{Text: s}).Validate() == nil {
		rest := append([]Rule{Comment{Text: s, Trailing: true}}, p.Rules[1:]...)
		p.Rules = append(append(p.Rules[:1], rest...), Comment{Text: s})
	}
	if g, err := ParseGlob(path); err == nil {
		p.Rules = append(p.Rules, File{Path: g, Perms: "r"})
		p.Attach = g
		glob = true
	}
	if v := (Variable{Name: "FUZZ", Values: []string{s}}); v.Validate() == nil {
		p.Variables = append(p.Variables, v)
		glob = true // a value is a pattern too
	}
	return p, glob
}

// FuzzRender checks the renderer against arbitrary text in every field:
// the rendering re-parses into exactly the intended profile and rules, and
// apparmor_parser (when installed) lists exactly the intended profile name
// and, unless a glob made the pattern invalid, compiles it.
func FuzzRender(f *testing.F) {
	for _, s := range payloads {
		f.Add(s)
	}
	_, parserErr := exec.LookPath("apparmor_parser")
	f.Fuzz(func(t *testing.T, s string) {
		p, glob := fuzzProfile(s)
		text, err := p.Bytes()
		if err != nil {
			t.Fatalf("fallback values did not render: %v", err)
		}
		back, err := ParseProfile("rendered", text)
		if err != nil {
			t.Fatalf("rendering does not re-parse: %v\n%s", err, text)
		}
		if back.Name != p.Name || back.RuleCount() != p.RuleCount() || back.Attach != p.Attach || len(back.Variables) != len(p.Variables) {
			t.Fatalf("name %q/%d rules came back as %q/%d\n%s", p.Name, p.RuleCount(), back.Name, back.RuleCount(), text)
		}
		for i, r := range p.Rules {
			if !IsPolicy(r) {
				continue
			}
			if back.Rules[i].String() != r.String() {
				t.Fatalf("rule %d %s came back as %s", i, r, back.Rules[i])
			}
		}
		if lines := bytes.Count(text, []byte("\n")); lines != 4+len(p.Variables)+len(p.Rules)-trailing(p)+1 {
			t.Fatalf("%d lines, want one per rule:\n%s", lines, text)
		}
		if parserErr != nil {
			return
		}
		var c Checker
		names, err := c.Names(context.Background(), text)
		if err != nil {
			if glob { // an accepted glob may still be a bad regex or name an undefined variable
				return
			}
			t.Fatalf("apparmor_parser -N: %v\n%s", err, text)
		}
		if len(names) != 1 || names[0] != p.Name {
			t.Fatalf("apparmor_parser -N = %q, want [%q]\n%s", names, p.Name, text)
		}
		if glob {
			return
		}
		if probs, err := c.Check(context.Background(), text); err != nil || len(probs) > 0 {
			t.Fatalf("apparmor_parser -QK: %v %v\n%s", err, probs, text)
		}
	})
}

func trailing(p *Profile) int {
	n := 0
	for _, r := range p.Rules {
		if c, ok := r.(Comment); ok && c.Trailing {
			n++
		}
	}
	return n
}

// FuzzParse feeds arbitrary text to the parser: it never panics, and what
// it accepts renders and re-parses to the same rules.
func FuzzParse(f *testing.F) {
	for _, s := range payloads {
		f.Add("profile x {\n  \"/" + s + "\" r,\n}\n")
	}
	f.Add("abi <abi/3.0>,\n#include <tunables/global>\n@{X}=/a /b\nprofile \"a b\" /x flags=(complain) {\n  /x r, # c\n  ^hat {\n    /y w,\n  }\n  dbus bus=system,\n}\n")
	f.Add("profile a flags=(complain) { /x r, }\nprofile b {\n  dbus (send) bus=system peer=(name=\"org.a\", label=\"x\"),\n  }")
	f.Fuzz(func(t *testing.T, src string) {
		ps, err := Parse("fuzz", strings.NewReader(src))
		if err != nil {
			return
		}
		var out []byte
		for _, p := range ps {
			b, err := p.Bytes()
			if err != nil {
				t.Fatalf("parsed profile does not render: %v\n%q", err, src)
			}
			out = append(out, b...)
		}
		again, err := Parse("rendered", bytes.NewReader(out))
		if err != nil {
			t.Fatalf("rendering does not re-parse: %v\n%s", err, out)
		}
		if len(again) != len(ps) {
			t.Fatalf("%d profiles became %d", len(ps), len(again))
		}
		for i := range ps {
			if ps[i].RuleCount() != again[i].RuleCount() || ps[i].Name != again[i].Name {
				t.Fatalf("profile %d changed:\n%s", i, out)
			}
		}
		// promote's in-place edit: enforce everything, add a rule to the
		// first profile; whatever it returns parses to the model.
		pf := ProfileFile{Path: "fuzz", Data: []byte(src), Profiles: ps}
		newRule := File{Path: Literal("/new"), Perms: "r"}
		for _, p := range ps {
			p.SetMode("enforce")
		}
		ps[0].Rules = append(ps[0].Rules, Blank{}, Comment{Text: "learnt"}, newRule)
		edited, err := editFile(pf, ps, map[*Profile][]Rule{ps[0]: {newRule}}, "learnt")
		if err != nil {
			return
		}
		got, err := Parse("edited", bytes.NewReader(edited))
		if err != nil || len(got) != len(ps) || got[0].Mode() != "enforce" || !got[0].Has(newRule) {
			t.Fatalf("edit gave %v:\n%s", err, edited)
		}
	})
}

// FuzzSpec feeds arbitrary YAML to the spec loader and, when it is
// accepted, to Generate: no panic, and the profile always renders into
// exactly one profile named ctsec-NAME with the rules Generate built.
func FuzzSpec(f *testing.F) {
	f.Add([]byte("name: web\nfilesystem:\n  writable: [/tmp/**]\n"))
	f.Add([]byte("name: web\ntemplate: strict\nmode: enforce\ncapabilities:\n  allow: []\nnetwork:\n  protocols: [tcp, udp]\n  raw: false\n"))
	f.Add([]byte("name: web\nrules: |\n  /x r,\n  dbus bus=system,\n"))
	for _, s := range payloads {
		f.Add([]byte("name: web\nfilesystem:\n  read_only: [" + strconv.Quote("/"+s) + "]\nrules: " + strconv.Quote(s) + "\n"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := ParseSpec("fuzz.yaml", data)
		if err != nil || spec.Name == "" {
			return
		}
		p, err := Generate(spec)
		if err != nil {
			t.Fatalf("accepted spec does not generate: %v\n%s", err, data)
		}
		text, err := p.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseProfile("generated", text)
		if err != nil {
			t.Fatalf("generated profile does not re-parse: %v\n%s", err, text)
		}
		if back.Name != ProfileName(spec.Name) || back.RuleCount() != p.RuleCount() {
			t.Fatalf("got %q with %d rules, want %q with %d\n%s", back.Name, back.RuleCount(), p.Name, p.RuleCount(), text)
		}
	})
}
