package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

func TestBenchCommand(t *testing.T) {
	docker := testenv.Docker(t)
	img := testenv.Busybox(t)
	// The trailing "-c" keeps name+"*" below from matching another run's
	// container (pid 12 would otherwise match ctsec-cmdbench-123).
	name := fmt.Sprintf("ctsec-cmdbench-%d-c", os.Getpid())
	if out, err := exec.Command(docker, "create", "--label", "ctsec-test=bench", "--name", name, "--privileged", img, "sleep", "60").CombinedOutput(); err != nil {
		t.Fatalf("docker create: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(docker, "rm", "-f", name).Run() })

	out, errOut, code := ctsec(t, "bench", "--check", "5.5,5.10", "--include-containers", name, "--format", "json")
	if code != 1 {
		t.Fatalf("exit = %d (a privileged container is critical), stderr %q", code, errOut)
	}
	var rep struct {
		Findings []struct{ Rule, Severity, Target string }
		Data     struct {
			Score   struct{ Passed, Failed int }
			Results []struct{ ID, Status string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Rule != "bench/cis-5.5" || rep.Findings[0].Target != name || rep.Findings[0].Severity != "critical" {
		t.Errorf("findings = %+v", rep.Findings)
	}
	if len(rep.Data.Results) != 2 || rep.Data.Score.Passed != 1 || rep.Data.Score.Failed != 1 {
		t.Errorf("data = %+v", rep.Data)
	}

	// Excluding the container leaves nothing to fail.
	_, errOut, code = ctsec(t, "bench", "--check", "5.5", "--exclude-containers", name, "--include-containers", name+"*")
	if code != 0 {
		t.Errorf("excluded: exit = %d, stderr %q", code, errOut)
	}
	// --fail-on none never fails.
	if _, _, code = ctsec(t, "bench", "--check", "5.5", "--include-containers", name, "--fail-on", "none"); code != 0 {
		t.Errorf("--fail-on none: exit %d", code)
	}

	text, _, _ := ctsec(t, "bench", "--check", "5", "--include-containers", name)
	for _, want := range []string{"FAIL    5.5", name, "Score: ", "MANUAL  5.9", "CIS Docker Benchmark v1.6.0"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
	for _, f := range []string{"sarif", "junit", "markdown"} {
		out, _, code := ctsec(t, "bench", "--check", "5.5", "--include-containers", name, "--format", f)
		if code != 1 || !strings.Contains(out, "bench/cis-5.5") {
			t.Errorf("--format %s: exit %d, output lacks bench/cis-5.5:\n%s", f, code, out)
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--check", "9.9"}, `no check "9.9"`},
		{[]string{"bench", "--include-containers", "["}, "pattern"},
		{[]string{"bench", "--host", "unix:///nonexistent/docker.sock"}, "/nonexistent/docker.sock"},
		{[]string{"bench", "--host", "unix:///x", "--context", "y"}, "exclude each other"},
		{[]string{"bench", "--root", "/nonexistent", "--host", "unix:///x"}, "--root"},
	}
	for _, tt := range tests {
		_, errOut, code := ctsec(t, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q (want exit 2, one line with %q)", tt.args, code, errOut, tt.want)
		}
	}
}

func TestBenchList(t *testing.T) {
	out, _, code := ctsec(t, "bench", "--list")
	if code != 0 || !strings.Contains(out, "5.32") || !strings.Contains(out, "1.1.1 ") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	out, _, code = ctsec(t, "bench", "--list", "--format", "json")
	var rep struct {
		Data struct{ Checks []struct{ ID string } }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || len(rep.Data.Checks) != 117 {
		t.Errorf("exit %d %v: %d checks", code, err, len(rep.Data.Checks))
	}
}
