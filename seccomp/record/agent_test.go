package record

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runcBundle makes a busybox bundle that runs args under a Docker-format
// profile, converted the way dockerd does (moby's LoadProfile).
func runcBundle(t *testing.T, runc string, profile *seccomp.Seccomp, args []string) string {
	t.Helper()
	body, err := json.Marshal(profile)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.RuncBundle(t, runc, args, func(spec *specs.Spec) {
		if spec.Linux.Seccomp, err = seccomp.LoadProfile(string(body), spec); err != nil {
			t.Fatalf("moby LoadProfile: %v", err)
		}
	})
}

func runcRun(t *testing.T, runc, bundle, id string) (string, error) {
	return testenv.RuncRun(t, runc, bundle, id)
}

const containerScript = "echo hello | cat > /tmp/f; cat /tmp/f; ls / >/dev/null"

// TestContainerRecording records a busybox container through runc's
// seccomp agent protocol, replays the recorded profile with runc, and shows
// that removing a recorded syscall breaks it.
func TestContainerRecording(t *testing.T) {
	testenv.Root(t)
	runc := testenv.Tool(t, "runc")
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", fi.Mode(), err)
	}
	rec, err := RecordingProfile(sock, "web")
	if err != nil {
		t.Fatal(err)
	}
	var got *Observation
	agent := &Agent{Once: true, Done: func(o *Observation) { got = o }}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- agent.Serve(ctx, ln) }()

	args := []string{"/bin/sh", "-c", containerScript}
	out, err := runcRun(t, runc, runcBundle(t, runc, rec, args), "ctsec-rec")
	if err != nil || !strings.Contains(out, "hello") {
		t.Fatalf("container under the recording profile: %v\n%s", err, out)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("agent finished no recording")
	}
	if got.Container == nil || got.Container.ID != "ctsec-rec" || got.Container.Metadata != "web" || got.Interrupted {
		t.Errorf("container header %+v interrupted=%v", got.Container, got.Interrupted)
	}
	names := got.Names()
	for _, want := range []string{"execve", "pipe2", "wait4", "getdents64", "capset"} {
		if !names[want] {
			t.Errorf("container recording lacks %s", want)
		}
	}
	if names["write"] || names["futex"] {
		t.Error("write or futex observed although the container recording filter allows them")
	}
	t.Logf("container recording: %d syscalls", len(names))

	p, err := Profile(got, ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err = runcRun(t, runc, runcBundle(t, runc, p, args), "ctsec-replay")
	if err != nil || !strings.Contains(out, "hello") {
		t.Fatalf("container under its recorded profile: %v\n%s", err, out)
	}
	p, err = Profile(withoutSyscall(t, *got, "pipe2"), ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err = runcRun(t, runc, runcBundle(t, runc, p, args), "ctsec-broken")
	if err == nil && strings.Contains(out, "hello") {
		t.Fatalf("container ran without pipe2 allowed:\n%s", out)
	}
	t.Logf("without pipe2: %v: %s", err, strings.TrimSpace(out))
}

// TestRuntimeBase: a profile recorded from a plain process runs under runc
// only with --base runtime.
func TestRuntimeBase(t *testing.T) {
	testenv.Root(t)
	runc := testenv.Tool(t, "runc")
	busybox := testenv.Tool(t, "busybox")
	args := []string{"/bin/busybox", "echo", "hello"}
	obs := record(t, []string{busybox, "echo", "hello"}).Observation
	for _, tc := range []struct {
		base   string
		wantOK bool
	}{{BaseNone, false}, {BaseRuntime, true}} {
		p, err := Profile(&obs, ProfileOptions{Base: tc.base})
		if err != nil {
			t.Fatal(err)
		}
		out, err := runcRun(t, runc, runcBundle(t, runc, p, args), fmt.Sprintf("ctsec-base-%s", SafeName(tc.base)))
		ok := err == nil && strings.Contains(out, "hello")
		if ok != tc.wantOK {
			t.Errorf("base %q: ran=%v, want %v: %v\n%s", tc.base, ok, tc.wantOK, err, out)
		}
	}
}
