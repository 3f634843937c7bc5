package seccomp

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/profiles"
)

func builtin(t *testing.T, name string) *Profile {
	t.Helper()
	data, err := profiles.Seccomp(name)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := Parse(name+".json", data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDiffDefaultStrict(t *testing.T) {
	d := Compare(builtin(t, "default"), builtin(t, "strict"))
	removed := map[string]bool{}
	for _, n := range d.Removed {
		removed[n.Name] = true
	}
	for _, n := range []string{"ptrace", "mount", "bpf", "socketcall", "reboot", "unshare"} {
		if !removed[n] {
			t.Errorf("%s not reported removed", n)
		}
	}
	if removed["read"] || removed["chroot"] || len(d.Added) != 0 || d.Default != nil {
		t.Errorf("unexpected: %+v", d)
	}
	changed := map[string]NameChange{}
	for _, c := range d.Changed {
		changed[c.Name] = c
	}
	if c := changed["clone3"]; len(c.From) != 2 || len(c.To) != 1 || c.To[0] != "SCMP_ACT_ERRNO(38)" {
		t.Errorf("clone3 change = %+v", c)
	}
	var buf bytes.Buffer
	d.WriteText(&buf)
	out := buf.String()
	for _, want := range []string{"--- default.json", "+++ strict.json", "removed (", "- SCMP_ACT_ALLOW [only with caps CAP_SYS_ADMIN]:", "~ clone3: "} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if !Compare(builtin(t, "default"), builtin(t, "default")).Empty() {
		t.Error("a profile differs from itself")
	}
}
