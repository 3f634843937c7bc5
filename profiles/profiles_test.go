package profiles

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
	"github.com/ctsec/ctsec/profiles/internal/seccompgen"
)

// TestGeneratedUpToDate is the drift check: the committed profiles must be
// exactly what the generator renders from the pinned moby module.
func TestGeneratedUpToDate(t *testing.T) {
	want, err := seccompgen.Render()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range want {
		got, err := Seccomp(strings.TrimSuffix(name, ".json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("seccomp/%s differs from the generator output; run `go generate ./profiles`", name)
		}
	}
	if len(want) != len(SeccompNames()) {
		t.Errorf("generator renders %d profiles, package lists %d", len(want), len(SeccompNames()))
	}
}

// TestDefaultMatchesUpstream: Docker's default as generated equals the
// default.json moby ships at the same version (the shared conformance copy).
func TestDefaultMatchesUpstream(t *testing.T) {
	upstream, err := os.ReadFile(testenv.Shared(t, "conformance", "moby-seccomp", "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Seccomp("default")
	if !bytes.Equal(got, upstream) {
		t.Error("generated default.json differs from moby's default.json at the pinned version")
	}
}

// TestPinnedVersion keeps the documented pin and go.mod in step.
func TestPinnedVersion(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/moby/profiles/seccomp").Output()
	if err != nil {
		testenv.Unavailable(t, "go list -m: %v", err)
	}
	if v := strings.TrimSpace(string(out)); v != seccompgen.MobyVersion {
		t.Errorf("go.mod pins %s, generator documents %s", v, seccompgen.MobyVersion)
	}
}

func TestUnknownProfile(t *testing.T) {
	if _, err := Seccomp("nope"); err == nil || !strings.Contains(err.Error(), "default") {
		t.Errorf("err = %v", err)
	}
}
