package record

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
)

func testShim(t testing.TB) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{exe, ShimCommand}
}

// busyboxWorkload forks, pipes, writes and reads a file and execs applets.
func busyboxWorkload(t testing.TB, dir string) []string {
	busybox := testenv.Tool(t, "busybox")
	script := `echo hello > "$D/f" && cat "$D/f" && ls / >/dev/null && (cat "$D/f" | wc -c) && busybox true`
	return []string{busybox, "sh", "-c", strings.ReplaceAll(script, "$D", dir)}
}

func record(t *testing.T, args []string) *Result {
	t.Helper()
	var out, errOut bytes.Buffer
	res, err := Record(context.Background(), Options{Args: args, Shim: testShim(t), Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatalf("Record: %v (stderr %q)", err, errOut.String())
	}
	if res.ExitCode != 0 {
		t.Fatalf("recorded command exited %d (signal %q), stderr %q", res.ExitCode, res.Signal, errOut.String())
	}
	return res
}

func TestRecordBusybox(t *testing.T) {
	testenv.Root(t)
	dir := t.TempDir()
	res := record(t, busyboxWorkload(t, dir))
	obs := res.Observation
	names := obs.Names()
	for _, want := range []string{"execve", "openat", "write", "read", "wait4", "pipe2"} {
		if !names[want] {
			t.Errorf("recording lacks %s: %v", want, names)
		}
	}
	if !names["fork"] && !names["vfork"] && !names["clone"] && !names["clone3"] {
		t.Errorf("recording has no process creation: %v", names)
	}
	// The shim is Go: it makes syscalls busybox never does before the exec.
	for _, shimOnly := range []string{"seccomp", "sched_getaffinity"} {
		if names[shimOnly] {
			t.Errorf("recording holds the shim's %s", shimOnly)
		}
	}
	for _, s := range obs.Syscalls {
		if s.Count == 0 || s.LastSeen.Before(s.FirstSeen) || s.Arch != "x86_64" && s.Arch != "aarch64" {
			t.Errorf("bad entry %+v", s)
		}
		if s.Name == "execve" && s.Count < 2 { // the shim's exec of busybox sh, and busybox true at least
			t.Errorf("execve count = %d, want 2 or more", s.Count)
		}
	}
	if obs.Source != SourceProcess || len(obs.Command) != 4 || obs.Ended.Before(obs.Started) || obs.Host.Kernel == "" || obs.Host.Libseccomp == "" {
		t.Errorf("observation header %+v", obs)
	}
}

func TestRecordCommandNotFound(t *testing.T) {
	testenv.Root(t)
	_, err := Record(context.Background(), Options{Args: []string{"ctsec-no-such-command"}, Shim: testShim(t)})
	if err == nil || !strings.Contains(err.Error(), "executable file not found") {
		t.Fatalf("err = %v", err)
	}
}

// TestRecordInterrupt: cancelling (Ctrl-C) ends the recording cleanly and
// still returns what was seen.
func TestRecordInterrupt(t *testing.T) {
	testenv.Root(t)
	busybox := testenv.Tool(t, "busybox")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	res, err := Record(ctx, Options{Args: []string{busybox, "sleep", "30"}, Shim: testShim(t), ForwardInterrupt: true})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("interrupted recording took %v", d)
	}
	if !res.Observation.Interrupted || res.Signal != "SIGINT" {
		t.Errorf("interrupted = %v, signal %q", res.Observation.Interrupted, res.Signal)
	}
	names := res.Observation.Names()
	if !names["nanosleep"] && !names["clock_nanosleep"] {
		t.Errorf("sleep recorded without a sleep syscall: %v", names)
	}
}

// TestRecordInterruptKills: a command that ignores SIGINT is killed after
// the grace period, and the recording is still returned.
func TestRecordInterruptKills(t *testing.T) {
	testenv.Root(t)
	busybox := testenv.Tool(t, "busybox")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	res, err := Record(ctx, Options{
		Args: []string{busybox, "sh", "-c", "trap '' INT; while :; do busybox sleep 1; done"},
		Shim: testShim(t), ForwardInterrupt: true, Grace: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Signal != "SIGKILL" {
		t.Errorf("signal = %q, want SIGKILL", res.Signal)
	}
	if !res.Observation.Names()["rt_sigaction"] {
		t.Errorf("trap not recorded: %v", res.Observation.Names())
	}
}

func writeProfile(t *testing.T, obs *Observation, opts ProfileOptions) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "profile.json")
	if err := Write(obs, opts, p, ObservationPath(p)); err != nil {
		t.Fatal(err)
	}
	return p
}

// underProfile runs args under a profile through the test binary's helper.
func underProfile(t *testing.T, profile string, args []string) (string, error) {
	t.Helper()
	exe, _ := os.Executable()
	cmd := exec.Command(exe, append([]string{applyCommand, profile, "--"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func withoutSyscall(t *testing.T, obs Observation, name string) *Observation {
	t.Helper()
	var kept []Syscall
	for _, s := range obs.Syscalls {
		if s.Name != name {
			kept = append(kept, s)
		}
	}
	if len(kept) == len(obs.Syscalls) {
		t.Fatalf("%s was not recorded", name)
	}
	obs.Syscalls = kept
	return &obs
}

// TestReplayBusybox: the recorded profile runs the workload; without one of
// the recorded syscalls it fails.
func TestReplayBusybox(t *testing.T) {
	testenv.Root(t)
	dir := t.TempDir()
	args := busyboxWorkload(t, dir)
	obs := record(t, args).Observation
	p := writeProfile(t, &obs, ProfileOptions{})
	out, err := underProfile(t, p, args)
	if err != nil || !strings.Contains(out, "hello") {
		t.Fatalf("workload under its recorded profile: %v\n%s", err, out)
	}
	p = writeProfile(t, withoutSyscall(t, obs, "openat"), ProfileOptions{})
	out, err = underProfile(t, p, args)
	if err == nil {
		t.Fatalf("workload ran without openat allowed:\n%s", out)
	}
}
