//go:build lab

package record

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
	"github.com/moby/profiles/seccomp"
)

// TestLabDockerListenerRecording: container recording through Docker's own
// seccomp listenerPath (Docker 23.0+; Debian 13 has 26.1), end to end with
// the ctsec on PATH: `ctsec profile record --listen` serves the agent,
// `docker run --security-opt seccomp=recording.json` runs a busybox
// workload under it, the written profile runs the workload again under
// `docker run --security-opt seccomp=PROFILE`, and without pipe2 the
// workload's shell pipeline fails.
func TestLabDockerListenerRecording(t *testing.T) {
	lab := testenv.Lab(t)
	if lab.Dist == "bookworm" {
		t.Skip("Debian 12's Docker 20.10 drops listenerPath; this runs in the trixie guest (scripts/lab.sh --dist trixie test)")
	}
	docker := testenv.Docker(t)
	image := testenv.Busybox(t)
	version, err := exec.Command(docker, "version", "--format", "{{.Server.Version}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	if major, _ := strconv.Atoi(strings.SplitN(strings.TrimSpace(string(version)), ".", 2)[0]); major < 23 {
		t.Fatalf("the %s guest's Docker is %s; listenerPath needs 23.0 or later", lab.Dist, version)
	}
	ctsec, err := exec.LookPath("ctsec")
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	sock := filepath.Join(dir, "rec.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rec := exec.CommandContext(ctx, ctsec, "profile", "record", "--listen", sock, "--once", "--metadata", "lab",
		"-o", filepath.Join(dir, "{metadata}-{id}.json"))
	var recErr bytes.Buffer
	rec.Stdout, rec.Stderr = &recErr, &recErr
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	recDone := make(chan error, 1)
	go func() { recDone <- rec.Wait() }()
	recording := filepath.Join(dir, "recording.json")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			if _, err := os.Stat(recording); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recording profile and socket after 30s:\n%s", recErr.String())
		}
	}

	dockerRun := func(profile string) (string, error) {
		out, err := exec.CommandContext(ctx, docker, "run", "--rm", "--network", "none",
			"--security-opt", "seccomp="+profile, image, "sh", "-c", containerScript).CombinedOutput()
		return string(out), err
	}
	if out, err := dockerRun(recording); err != nil || !strings.Contains(out, "hello") {
		t.Fatalf("docker run under the recording profile: %v\n%s\nrecorder:\n%s", err, out, recErr.String())
	}
	select {
	case err := <-recDone:
		if err != nil {
			t.Fatalf("ctsec profile record: %v\n%s", err, recErr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the recorder did not finish after the container exited:\n%s", recErr.String())
	}
	t.Logf("recorder:\n%s", recErr.String())

	profiles, _ := filepath.Glob(filepath.Join(dir, "lab-*.json"))
	var profile string
	for _, p := range profiles {
		if !strings.HasSuffix(p, ".syscalls.json") {
			profile = p
		}
	}
	if profile == "" {
		t.Fatalf("no recorded profile in %s: %v", dir, profiles)
	}
	if out, err := dockerRun(profile); err != nil || !strings.Contains(out, "hello") {
		t.Fatalf("docker run under the recorded profile %s: %v\n%s", filepath.Base(profile), err, out)
	}

	broken := filepath.Join(dir, "without-pipe2.json")
	writeWithout(t, profile, broken, "pipe2")
	out, err := dockerRun(broken)
	if err == nil && strings.Contains(out, "hello") {
		t.Fatalf("the workload ran without pipe2 allowed:\n%s", out)
	}
	t.Logf("without pipe2: %v: %s", err, strings.TrimSpace(out))
}

// writeWithout copies a Docker-format profile, removing one syscall name.
func writeWithout(t *testing.T, from, to, name string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	var p seccomp.Seccomp
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	removed := false
	for i := range p.Syscalls {
		var kept []string
		for _, n := range p.Syscalls[i].Names {
			if n == name {
				removed = true
				continue
			}
			kept = append(kept, n)
		}
		p.Syscalls[i].Names = kept
	}
	if !removed {
		t.Fatalf("%s does not allow %s", from, name)
	}
	if data, err = json.Marshal(&p); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
