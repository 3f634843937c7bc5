package apparmor

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
)

func TestGenerateGolden(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	specs, _ := filepath.Glob("testdata/spec/*.yaml")
	if len(specs) < 2 {
		t.Fatal("no specs")
	}
	var c Checker
	for _, f := range specs {
		spec, err := LoadSpec(f)
		if err != nil {
			t.Fatal(err)
		}
		spec.Created = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		p, err := Generate(spec)
		if err != nil {
			t.Fatal(err)
		}
		text, err := p.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		assertGolden(t, strings.TrimSuffix(f, ".yaml")+".golden", text)
		if probs, err := c.Check(context.Background(), text); err != nil || len(probs) > 0 {
			t.Errorf("%s: apparmor_parser: %v %v\n%s", f, err, probs, text)
		}
		names, err := c.Names(context.Background(), text)
		if want := ProfileName(spec.Name); err != nil || len(names) != 1 || names[0] != want {
			t.Errorf("%s: names %q (%v), want [%s]", f, names, err, want)
		}
	}
}

func TestGenerateNarrows(t *testing.T) {
	spec, err := LoadSpec("testdata/spec/web.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Generate(spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "ctsec-web" || p.Mode() != "complain" {
		t.Errorf("name %q mode %q", p.Name, p.Mode())
	}
	for _, r := range []Rule{Capability{}, Network{}, File{}} {
		if p.Has(r) {
			t.Errorf("allow-all rule %s kept despite the spec", r)
		}
	}
	want := []Rule{
		Capability{Names: []string{"chown", "dac_override", "setuid", "setgid", "net_bind_service"}},
		Network{Family: "inet", Protocol: "tcp"},
		Network{Family: "unix"},
		File{Path: MustGlob("/usr/sbin/nginx"), Perms: "mr", Exec: "ix"},
		File{Qualifiers: Qualifiers{Deny: true}, Path: MustGlob("/usr/bin/curl"), Exec: "x"},
		File{Qualifiers: Qualifiers{Deny: true}, Path: MustGlob("/etc/**"), Perms: "wl"},
		Network{Qualifiers: Qualifiers{Deny: true}, Type: "raw"},
		Network{Qualifiers: Qualifiers{Deny: true}, Family: "alg"}, // docker-default's denies stay in complain mode
	}
	for _, r := range want {
		if !p.Has(r) {
			t.Errorf("missing %s", r)
		}
	}
	spec.Mode = "enforce"
	if p, _ = Generate(spec); p.Mode() != "enforce" {
		t.Errorf("mode %s", p.Mode())
	}
}

func TestSpecErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"name: -web\n", "s.yaml:1: name: service name \"-web\""},
		{"name: web\nmode: learn\n", "s.yaml:2: mode: unknown mode"},
		{"name: web\nfilesystem:\n  writable:\n    - /ok\n    - relative\n", "s.yaml:5: filesystem.writable[1]: path \"relative\" is not absolute"},
		{"name: web\nfilesystem:\n  read_only: ['/x\" rw,']\n", "filesystem.read_only[0]: pattern"},
		{"name: web\ncapabilities:\n  allow: [all]\n", "s.yaml:3: capabilities.allow[0]: unknown capability"},
		{"name: web\nnetwork:\n  protocols: [sctp]\n", "unknown protocol"},
		{"name: web\nfilesystem:\n  writeable: [/x]\n", "s.yaml:3: field writeable not found"},
		{"name: web\nrules: |\n  }\n  profile evil {\n", "s.yaml:2: rules:"},
		{"name: web\nrules: |\n  include <abstractions/base>\n", "includes are not allowed"},
		{"name: web\nrules: /x r\n", "not terminated"},
		{"name: [x\n", "s.yaml:1: did not find expected"},
	}
	for _, tt := range tests {
		_, err := ParseSpec("s.yaml", []byte(tt.spec))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSpec(%q) = %v, want %q", tt.spec, err, tt.want)
		}
	}
	if _, err := Generate(&Spec{}); err == nil {
		t.Error("spec without a name generated")
	}
}
