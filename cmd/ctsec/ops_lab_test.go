//go:build lab

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
)

// The lab tests of issue 15 run the checkout's ctsec in the guest, as an
// operator would, on a host with AppArmor, systemd as init, auditd and
// dockerd.

func labCtsec(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command("ctsec", args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ctsec %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func labRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// ctsec status on a real host: AppArmor and the engine are judged, not
// skipped, and the results file is kept.
func TestLabOpsStatus(t *testing.T) {
	testenv.Lab(t)
	file := filepath.Join(t.TempDir(), "status.json")
	out, errOut, code := labCtsec(t, "status", "--format", "json", "--fail-on", "none", "--output", file)
	if code != 0 {
		t.Fatalf("status: exit %d %q", code, errOut)
	}
	kept, _ := os.ReadFile(file)
	if string(kept) != out {
		t.Error("the results file differs from what was printed")
	}
	var rep struct {
		Data struct {
			Items []struct{ Rule, Status, Summary string }
		}
	}
	if err := json.Unmarshal(kept, &rep); err != nil {
		t.Fatal(err)
	}
	for _, it := range rep.Data.Items {
		t.Logf("%-28s %-4s %s", it.Rule, it.Status, it.Summary)
		switch it.Rule {
		case "status/apparmor-profiles", "status/bench", "status/updates", "status/ssh-key-only":
			if it.Status == "skip" {
				t.Errorf("%s skipped on the lab host: %s", it.Rule, it.Summary)
			}
		}
	}
}

// host apply auditd loads the rules into the kernel, after which the
// bench's 1.1.x checks pass; rollback takes the kernel's rules back.
func TestLabOpsAuditdBench(t *testing.T) {
	testenv.Lab(t)
	testenv.Tool(t, "auditctl")
	state := t.TempDir()
	before := labRun(t, "auditctl", "-l")
	if _, errOut, code := labCtsec(t, "host", "apply", "auditd", "--state-dir", state); code != 0 {
		t.Fatalf("apply: exit %d %q", code, errOut)
	}
	if rules := labRun(t, "auditctl", "-l"); !strings.Contains(rules, "-w /usr/sbin/dockerd -p rwxa -k docker") {
		t.Fatalf("the kernel does not watch dockerd:\n%s", rules)
	}
	out, _, _ := labCtsec(t, "bench", "--check", "1.1", "--format", "json", "--fail-on", "none")
	var rep struct {
		Data struct {
			Results []struct{ ID, Status, Detail string }
		}
	}
	json.Unmarshal([]byte(out), &rep)
	for _, r := range rep.Data.Results {
		if r.ID != "1.1.1" && r.ID != "1.1.2" && r.Status == "fail" {
			t.Errorf("CIS %s fails after host apply auditd: %s", r.ID, r.Detail)
		}
	}
	if _, errOut, code := labCtsec(t, "host", "rollback", "--state-dir", state); code != 0 {
		t.Fatalf("rollback: exit %d %q", code, errOut)
	}
	if after := labRun(t, "auditctl", "-l"); after != before {
		t.Errorf("after rollback the kernel's rules are\n%s\nwant\n%s", after, before)
	}
}

// The timers in the lab guest: listed by systemd, fired with systemctl
// start, reports written, the second one with its diff.
func TestLabOpsSchedule(t *testing.T) {
	testenv.Lab(t)
	// Not under /tmp: the services' PrivateTmp hides it from them.
	state, err := os.MkdirTemp("/var/lib", "ctsec-lab-schedule-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(state)
	if _, errOut, code := labCtsec(t, "schedule", "install", "status", "--state-dir", state, "--self", "/usr/local/bin/ctsec", "--write"); code != 0 {
		t.Fatalf("install: exit %d %q", code, errOut)
	}
	defer labCtsec(t, "schedule", "remove", "--state-dir", state, "--write")
	if timers := labRun(t, "systemctl", "list-timers", "--all", "ctsec-status.timer"); !strings.Contains(timers, "ctsec-status.timer") {
		t.Fatalf("list-timers:\n%s", timers)
	}
	for i := range 2 {
		labRun(t, "systemctl", "start", "ctsec-status.service")
		if st := strings.TrimSpace(labRun(t, "systemctl", "show", "-p", "Result", "--value", "ctsec-status.service")); st != "success" {
			t.Fatalf("run %d: %s\n%s", i, st, labRun(t, "journalctl", "-u", "ctsec-status.service", "-n", "40", "--no-pager"))
		}
	}
	files, _ := filepath.Glob(filepath.Join(state, "reports", "status", "*.json"))
	if len(files) != 2 {
		t.Fatalf("%d reports, want 2", len(files))
	}
	var second struct {
		Diff struct {
			Previous string
			New      []any
			Fixed    []any
		}
	}
	b, _ := os.ReadFile(files[1])
	if json.Unmarshal(b, &second); second.Diff.Previous != filepath.Base(files[0]) {
		t.Errorf("the second report compares with %q, want %q", second.Diff.Previous, filepath.Base(files[0]))
	}
	t.Logf("journal:\n%s", labRun(t, "journalctl", "-u", "ctsec-status.service", "-n", "6", "--no-pager"))
	out, _, _ := labCtsec(t, "schedule", "list", "--state-dir", state)
	t.Logf("schedule list:\n%s", out)
	_ = time.Now
}

// An AppArmor load rolled back by id: the profile the change loaded is
// unloaded from the kernel, its file removed.
func TestLabOpsAppArmorRollback(t *testing.T) {
	testenv.Lab(t)
	dir, state := t.TempDir(), t.TempDir()
	if _, errOut, code := labCtsec(t, "apparmor", "gen", "opsweb", "-o", filepath.Join(dir, "opsweb.apparmor")); code != 0 {
		t.Fatalf("gen: %d %q", code, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("gen wrote %v", files)
	}
	if _, errOut, code := labCtsec(t, "apparmor", "load", files[0], "--write", "--state-dir", state); code != 0 {
		t.Fatalf("load: %d %q", code, errOut)
	}
	loaded := func() bool {
		b, _ := os.ReadFile("/sys/kernel/security/apparmor/profiles")
		return strings.Contains(string(b), "ctsec-opsweb ")
	}
	if !loaded() {
		t.Fatal("the profile is not loaded")
	}
	out, _, _ := labCtsec(t, "history", "--state-dir", state, "--format", "json")
	var h struct {
		Data struct{ Changes []struct{ ID string } }
	}
	json.Unmarshal([]byte(out), &h)
	if len(h.Data.Changes) != 1 {
		t.Fatalf("history: %s", out)
	}
	out, errOut, code := labCtsec(t, "rollback", h.Data.Changes[0].ID, "--state-dir", state, "--yes")
	if code != 0 || !strings.Contains(out, "unloaded") {
		t.Fatalf("rollback: %d %q\n%s", code, errOut, out)
	}
	if loaded() {
		t.Error("the profile is still loaded after the rollback")
	}
	if _, err := os.Stat("/etc/apparmor.d/containers/ctsec-opsweb"); !os.IsNotExist(err) {
		t.Errorf("the profile file is still there: %v", err)
	}
}
