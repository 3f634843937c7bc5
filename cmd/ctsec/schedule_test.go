package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// Install under a root (systemctl --root links the timers), two runs with
// a diff between them, the listing, and the journal's rollback of the
// install, which disables the timers and removes every file and link.
func TestScheduleInstallRunRollback(t *testing.T) {
	testenv.Tool(t, "systemd-analyze")
	testenv.Tool(t, "systemctl")
	testenv.Tool(t, "sysctl")
	root, state := t.TempDir(), filepath.Join(t.TempDir(), "state")
	self, _ := os.Executable()
	args := []string{"schedule", "install", "--root", root, "--state-dir", state, "--self", self, "--at", "status=*-*-* 06:00"}
	out, errOut, code := ctsec(t, args...)
	if code != 0 || !strings.Contains(out, "+OnCalendar=*-*-* 06:00") || !strings.Contains(out, "dry run") {
		t.Fatalf("plan: exit %d %q\n%s", code, errOut, out)
	}
	if _, errOut, code := ctsec(t, append(args, "--write")...); code != 0 {
		t.Fatalf("install: exit %d %q", code, errOut)
	}
	wants := filepath.Join(root, "etc/systemd/system/timers.target.wants")
	for _, j := range []string{"bench", "host-audit", "status", "apparmor-review"} {
		if _, err := os.Lstat(filepath.Join(wants, "ctsec-"+j+".timer")); err != nil {
			t.Errorf("timer of %s not enabled: %v", j, err)
		}
	}
	if out, _, _ := ctsec(t, append(args, "--write")...); !strings.Contains(out, "nothing to change") {
		t.Errorf("second install: %s", out)
	}
	if _, errOut, code := ctsec(t, "schedule", "install", "--root", root, "--state-dir", state, "--at", "bench=every day"); code != 2 || !strings.Contains(errOut, "every day") {
		t.Errorf("a bad calendar: exit %d %q", code, errOut)
	}

	// Two runs of status on a tree: the second says what changed.
	_, policy := statusRoot(t)
	run := []string{"schedule", "run", "status", "--state-dir", state, "--policy", policy, "--format", "json"}
	out, errOut, code = ctsec(t, run...)
	if code != 0 {
		t.Fatalf("run: exit %d %q", code, errOut)
	}
	var first struct {
		Data struct {
			Report string
			Diff   struct{ Previous string }
		}
	}
	json.Unmarshal([]byte(out), &first)
	if first.Data.Report == "" || first.Data.Diff.Previous != "" {
		t.Fatalf("first run: %s", out)
	}
	out, _, _ = ctsec(t, run...)
	var second struct {
		Data struct {
			Diff struct {
				Previous  string
				Unchanged int
			}
		}
	}
	json.Unmarshal([]byte(out), &second)
	if second.Data.Diff.Previous != filepath.Base(first.Data.Report) {
		t.Errorf("second run compared with %q, want %q", second.Data.Diff.Previous, filepath.Base(first.Data.Report))
	}
	out, _, _ = ctsec(t, "schedule", "list", "--root", root, "--state-dir", state)
	// The job runs on this machine, whose shared engine other tests change
	// between the runs: the counts are not pinned, only that they are there.
	if !strings.Contains(out, "status           enabled  *-*-* 06:00") || !strings.Contains(out, " new, ") {
		t.Errorf("list:\n%s", out)
	}

	hist, _, _ := ctsec(t, "history", "--state-dir", state, "--kind", "schedule", "--format", "json")
	var h struct {
		Data struct{ Changes []struct{ ID string } }
	}
	json.Unmarshal([]byte(hist), &h)
	if len(h.Data.Changes) != 1 {
		t.Fatalf("history: %s", hist)
	}
	out, errOut, code = ctsec(t, "rollback", h.Data.Changes[0].ID, "--state-dir", state, "--yes")
	if code != 0 || !strings.Contains(out, "disabled ctsec-status.timer") {
		t.Fatalf("rollback: exit %d %q\n%s", code, errOut, out)
	}
	left, _ := filepath.Glob(filepath.Join(root, "etc/systemd/system/*ctsec*"))
	links, _ := filepath.Glob(filepath.Join(wants, "*"))
	if len(left)+len(links) != 0 {
		t.Errorf("after the rollback: %v %v", left, links)
	}
}
