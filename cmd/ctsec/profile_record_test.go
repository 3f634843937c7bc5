package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestProfileRecordProcess(t *testing.T) {
	testenv.Root(t)
	busybox := testenv.Tool(t, "busybox")
	out := filepath.Join(t.TempDir(), "echo.json")
	stdout, stderr, code := ctsec(t, "profile", "record", "-o", out, "--base", "runtime", "--", busybox, "echo", "recorded")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "recorded") || !strings.Contains(stderr, "syscalls (x86_64)") {
		t.Errorf("stdout %q stderr %q", stdout, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{}}}
	sc, err := seccomp.LoadProfile(string(data), spec)
	if err != nil {
		t.Fatalf("moby cannot load the recorded profile: %v", err)
	}
	if sc.DefaultAction != specs.ActErrno || len(sc.Syscalls) == 0 {
		t.Errorf("profile %+v", sc)
	}
	allowed := strings.Join(sc.Syscalls[0].Names, " ")
	for _, want := range []string{"execve", "write", "capset", "exit_group"} { // observed, runtime base, implicit
		if !strings.Contains(" "+allowed+" ", " "+want+" ") {
			t.Errorf("profile does not allow %s: %s", want, allowed)
		}
	}

	// The observation file has the shape profile gen --syscalls-from reads.
	raw, err := os.ReadFile(strings.TrimSuffix(out, ".json") + ".syscalls.json")
	if err != nil {
		t.Fatal(err)
	}
	var obs struct {
		Syscalls []map[string]any `json:"syscalls"`
	}
	if err := json.Unmarshal(raw, &obs); err != nil || len(obs.Syscalls) == 0 {
		t.Fatalf("observation: %v %s", err, raw)
	}
	for _, s := range obs.Syscalls {
		for _, key := range []string{"name", "arch", "count", "first_seen", "last_seen"} {
			if _, ok := s[key]; !ok {
				t.Fatalf("observation entry lacks %q: %v", key, s)
			}
		}
		for _, key := range []string{"first_seen", "last_seen"} {
			if _, err := time.Parse(time.RFC3339, s[key].(string)); err != nil {
				t.Errorf("%s not RFC3339: %v", key, err)
			}
		}
	}
}

func TestProfileRecordJSON(t *testing.T) {
	testenv.Root(t)
	out := filepath.Join(t.TempDir(), "true.json")
	stdout, stderr, code := ctsec(t, "profile", "record", "--format", "json", "-o", out, "--", testenv.Tool(t, "busybox"), "true")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s recordSummary
	r := decodeReport(t, stdout)
	if err := json.Unmarshal(r.Data, &s); err != nil || r.Findings == nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if s.Profile != out || s.Syscalls == 0 || s.ExitCode == nil || *s.ExitCode != 0 {
		t.Errorf("summary %+v", s)
	}
}

func TestProfileRecordUsage(t *testing.T) {
	existing := filepath.Join(t.TempDir(), "exists.json")
	os.WriteFile(existing, []byte("{}"), 0o644)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no output", []string{"--", "true"}, "-o FILE is required"},
		{"no command", []string{"-o", "x.json"}, "no command to record"},
		{"bad base", []string{"-o", "x.json", "--base", "default", "--", "true"}, "--base"},
		{"listen with command", []string{"-o", "x.json", "--listen", "s.sock", "--", "true"}, "give no command"},
		{"existing output", []string{"-o", existing, "--", "true"}, "exists; choose another -o or pass --force"},
		{"missing directory", []string{"-o", filepath.Join(t.TempDir(), "no", "x.json"), "--", "true"}, "output directory for"},
		{"missing command", []string{"-o", "x.json", "--", "/nonexistent-ctsec-cmd"}, `finding command "/nonexistent-ctsec-cmd"`},
		{"negative grace", []string{"-o", "x.json", "--grace", "-1s", "--", "true"}, "--grace -1s"},
		{"once without listen", []string{"-o", "x.json", "--once", "--", "true"}, "--once works only with --listen"},
		{"metadata without listen", []string{"-o", "x.json", "--metadata", "m", "--", "true"}, "--metadata works only with --listen"},
		{"recording profile without listen", []string{"-o", "x.json", "--recording-profile", "r.json", "--", "true"}, "--recording-profile works only with --listen"},
		{"observations with listen", []string{"-o", "x.json", "--listen", "s.sock", "--observations", "o.json"}, "--observations works only with a command"},
		{"output is a directory", []string{"-o", t.TempDir(), "--force", "--", "true"}, "is a directory"},
		{"observations is the output", []string{"-o", "same.json", "--observations", "same.json", "--", "true"}, "is the profile -o names"},
		{"missing directory listen", []string{"-o", "/nonexistent-ctsec/{id}.json", "--listen", filepath.Join(t.TempDir(), "s.sock")}, "output directory for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := ctsec(t, append([]string{"profile", "record"}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.wantErr) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("exit %d, stderr %q, want 2 and %q on one line", code, stderr, tt.wantErr)
			}
		})
	}
	if data, _ := os.ReadFile(existing); string(data) != "{}" {
		t.Error("existing output was changed")
	}
}

// TestProfileRecordListen drives container recording through the CLI with
// the real runc.
func TestProfileRecordListen(t *testing.T) {
	testenv.Root(t)
	runc := testenv.Tool(t, "runc")
	dir := t.TempDir()
	sock := filepath.Join(dir, "rec.sock")
	type result struct {
		stdout, stderr string
		code           int
	}
	done := make(chan result, 1)
	go func() {
		o, e, c := ctsec(t, "profile", "record", "--format", "json", "--listen", sock, "--once",
			"--metadata", "web", "-o", filepath.Join(dir, "{metadata}-{id}.json"))
		done <- result{o, e, c}
	}()
	recPath := filepath.Join(dir, "recording.json")
	for i := 0; ; i++ {
		if _, err := os.Stat(recPath); err == nil {
			break
		}
		if i > 200 {
			t.Fatal("no recording profile after 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	bundle := busyboxBundle(t, runc, recPath, []string{"/bin/sh", "-c", "echo hi | cat; ls / >/dev/null"})
	out, err := testenv.RuncRun(t, runc, bundle, "ctsec-cli")
	if err != nil || !strings.Contains(out, "hi") {
		t.Fatalf("runc under the recording profile: %v\n%s", err, out)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("recorder did not finish after the container exited")
	}
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var sum listenSummary
	if err := json.Unmarshal(decodeReport(t, r.stdout).Data, &sum); err != nil || len(sum.Containers) != 1 {
		t.Fatalf("summary %v: %s", err, r.stdout)
	}
	want := filepath.Join(dir, "web-ctsec-cli.json")
	if sum.Containers[0].Profile != want || sum.Containers[0].Container.ID != "ctsec-cli" {
		t.Errorf("container summary %+v", sum.Containers[0])
	}
	for _, p := range []string{want, filepath.Join(dir, "web-ctsec-cli.syscalls.json")} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}

// busyboxBundle makes a runc bundle running args under a Docker-format profile file.
func busyboxBundle(t *testing.T, runc, profile string, args []string) string {
	t.Helper()
	body, err := os.ReadFile(profile)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.RuncBundle(t, runc, args, func(spec *specs.Spec) {
		if spec.Linux.Seccomp, err = seccomp.LoadProfile(string(body), spec); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRecordShimRefusesWithoutRecorder: run by hand, the shim loads
// nothing (a filter without a recorder would hang the command).
func TestRecordShimRefusesWithoutRecorder(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exe, "__record-shim", "--", "true").CombinedOutput()
	if code := exitCodeOf(err); code != 127 || !strings.Contains(string(out), "run by ctsec profile record only") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

func exitCodeOf(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestRecordThenSeccompExec is the round trip of the issue: record a busybox
// workload, validate the profile, run the workload again under it with
// `ctsec seccomp exec`, break it by removing a recorded syscall, and feed
// the observations to `profile gen --syscalls-from`. The recording has no
// runtime base: seccomp exec loads the filter on the exec'ing thread only, so
// the command needs nothing but what it was seen to call.
func TestRecordThenSeccompExec(t *testing.T) {
	testenv.Root(t)
	busybox := testenv.Tool(t, "busybox")
	dir := t.TempDir()
	workload := []string{busybox, "sh", "-c", "echo hello | cat > " + dir + "/f && cat " + dir + "/f && ls / >/dev/null"}
	prof := filepath.Join(dir, "w.json")
	if _, stderr, code := ctsec(t, append([]string{"profile", "record", "-o", prof, "--"}, workload...)...); code != 0 {
		t.Fatalf("record: exit %d: %s", code, stderr)
	}
	if data, _ := os.ReadFile(prof); strings.Contains(string(data), `"futex"`) {
		t.Fatal("busybox recorded futex; the test no longer proves exec needs no Go-runtime syscalls")
	}
	if out, stderr, code := ctsec(t, "seccomp", "validate", prof); code != 0 {
		t.Fatalf("validate: exit %d: %s%s", code, out, stderr)
	}
	stdout, stderr, code := ctsec(t, append([]string{"seccomp", "exec", "--profile", prof, "--"}, workload...)...)
	if code != 0 || !strings.Contains(stdout, "hello") {
		t.Fatalf("seccomp exec under the recorded profile: exit %d %q %q", code, stdout, stderr)
	}

	// The same profile without pipe2.
	var p map[string]any
	data, _ := os.ReadFile(prof)
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	rule := p["syscalls"].([]any)[0].(map[string]any)
	var kept []any
	for _, n := range rule["names"].([]any) {
		if n != "pipe2" {
			kept = append(kept, n)
		}
	}
	if len(kept) == len(rule["names"].([]any)) {
		t.Fatal("pipe2 was not recorded")
	}
	rule["names"] = kept
	broken := filepath.Join(dir, "broken.json")
	data, _ = json.Marshal(p)
	os.WriteFile(broken, data, 0o644)
	stdout, stderr, code = ctsec(t, append([]string{"seccomp", "exec", "--profile", broken, "--"}, workload...)...)
	if code == 0 || strings.Contains(stdout, "hello") || !strings.Contains(stderr, "can't create pipe") {
		t.Fatalf("workload without pipe2: exit %d %q %q", code, stdout, stderr)
	}

	gen := t.TempDir()
	obs := strings.TrimSuffix(prof, ".json") + ".syscalls.json"
	if _, stderr, code := ctsec(t, "profile", "gen", "w", "--base", "runtime", "--syscalls-from", obs, "--dir", gen, "--state-dir", t.TempDir()); code != 0 {
		t.Fatalf("profile gen --syscalls-from: exit %d: %s", code, stderr)
	}
	generated, err := os.ReadFile(filepath.Join(gen, "w.seccomp.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"pipe2"`, `"wait4"`, `"execve"`} {
		if !strings.Contains(string(generated), want) {
			t.Errorf("generated profile lacks recorded %s", want)
		}
	}
}
