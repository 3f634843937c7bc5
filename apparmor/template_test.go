package apparmor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// TestDockerDefaultMatchesMoby renders every case of moby/profiles'
// TestGenerateDefault and compares with its golden files byte for byte.
func TestDockerDefaultMatchesMoby(t *testing.T) {
	dir := testenv.Shared(t, "conformance", "moby-apparmor")
	foobar := []Include{{Path: "something/foo"}, {Path: "something/bar"}}
	cases := map[string]TemplateOptions{
		"default.golden":                   {Name: "default"},
		"with-api3.golden":                 {Name: "with-api3", ABI: "abi/3.0"},
		"with-tunables.golden":             {Name: "tunables", Tunables: true},
		"with-abstractions-base.golden":    {Name: "abstractions-base", AbstractionsBase: true},
		"with-daemon-profile.golden":       {Name: "with-daemon-profile", DaemonProfile: "my-daemon-profile"},
		"with-spaces.golden":               {Name: "Profile with spaces", DaemonProfile: "Daemon Profile"},
		"with-custom-imports.golden":       {Name: "custom-imports", Imports: foobar},
		"with-custom-inner-imports.golden": {Name: "custom-inner-imports", InnerImports: foobar},
	}
	goldens, _ := filepath.Glob(filepath.Join(dir, "*.golden"))
	if len(goldens) != len(cases) {
		t.Fatalf("%d goldens in %s, %d cases", len(goldens), dir, len(cases))
	}
	for _, g := range goldens {
		o, ok := cases[filepath.Base(g)]
		if !ok {
			t.Errorf("no case for %s", g)
			continue
		}
		want, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DockerDefault(o)
		if err != nil {
			t.Fatalf("%s: %v", g, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs:\n%s", filepath.Base(g), got)
		}
	}
}

func TestDockerDefaultRefusesInjection(t *testing.T) {
	for _, o := range []TemplateOptions{
		{Name: "x\",\n  /** rwlkmix,\n  signal peer=\"y"},
		{Name: "}\nprofile evil {"},
		{Name: "ok", DaemonProfile: "a\" ,\n/** rw,"},
		{Name: "ok", Imports: []Include{{Path: "x>\n/** rw,"}}},
		{Name: "ok", ABI: "3.0>,\n/** rw"},
	} {
		if b, err := DockerDefault(o); err == nil {
			t.Errorf("%+v rendered:\n%s", o, b)
		}
	}
}

// TestTemplatesCompile checks both templates with apparmor_parser against
// the pinned ABI, with and without the host's tunables and abstractions,
// and that each defines exactly the one profile asked for.
func TestTemplatesCompile(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	ctx := context.Background()
	var c Checker
	for _, name := range Templates {
		for _, host := range []bool{false, true} {
			o := TemplateOptions{Name: "ctsec-tmpl"}
			if host {
				o.DetectMacros("/etc/apparmor.d")
				if !o.Tunables {
					testenv.Unavailable(t, "/etc/apparmor.d/tunables/global missing (install apparmor)")
				}
			}
			p, err := Template(name, o)
			if err != nil {
				t.Fatal(err)
			}
			text, err := p.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if probs, err := c.Check(ctx, text); err != nil || len(probs) > 0 {
				t.Errorf("%s (host macros %v): %v %v\n%s", name, host, err, probs, text)
			}
			if names, err := c.Names(ctx, text); err != nil || len(names) != 1 || names[0] != "ctsec-tmpl" {
				t.Errorf("%s: names %q %v", name, names, err)
			}
		}
	}
}

// TestStrictGolden pins the strict template's text (go test -update rewrites it).
func TestStrictGolden(t *testing.T) {
	p, err := Strict(TemplateOptions{Name: "strict", ABI: "abi/3.0", Tunables: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	assertGolden(t, "testdata/strict.golden", got)
	d, _ := DockerDefaultProfile(TemplateOptions{Name: "strict"})
	for _, r := range []Rule{Network{Qualifiers: Qualifiers{Deny: true}, Type: "raw"}, Umount{Qualifiers: Qualifiers{Deny: true}}} {
		if !p.Has(r) || d.Has(r) {
			t.Errorf("strict should add %s", r)
		}
	}
	if p.Has(Umount{}) || !d.Has(Umount{}) {
		t.Error("strict should drop umount,")
	}
}

func assertGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	testenv.Golden(t, path, got)
}
