package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// The bench's 1.1.x checks (audit rules for Docker's files) fail on a
// Debian-like tree, pass after `host apply auditd`, and fail again after
// its rollback.
func TestAuditdMakesBenchAuditChecksPass(t *testing.T) {
	testenv.Docker(t)
	root, state := t.TempDir(), t.TempDir()
	for _, f := range []string{"usr/sbin/auditctl", "usr/sbin/dockerd", "usr/sbin/runc", "usr/bin/containerd", "lib/systemd/system/docker.service", "lib/systemd/system/docker.socket"} {
		writeFile(t, filepath.Join(root, f), "")
	}
	writeFile(t, filepath.Join(root, "etc/docker/daemon.json"), "{}\n")
	writeFile(t, filepath.Join(root, "etc/audit/rules.d/audit.rules"), "-D\n")
	os.MkdirAll(filepath.Join(root, "var/lib/docker"), 0o755)
	os.Symlink("../sbin/runc", filepath.Join(root, "usr/bin/runc"))
	failed := func() []string {
		out, errOut, _ := ctsec(t, "bench", "--root", root, "--check", "1.1", "--format", "json", "--fail-on", "none")
		var rep struct {
			Data struct {
				Results []struct{ ID, Status string }
			}
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("bench: %v %q", err, errOut)
		}
		var ids []string
		for _, r := range rep.Data.Results {
			if r.Status == "fail" && r.ID != "1.1.1" && r.ID != "1.1.2" {
				ids = append(ids, r.ID)
			}
		}
		return ids
	}
	before := failed()
	if len(before) < 6 {
		t.Fatalf("before: failed %v", before)
	}
	out, errOut, code := ctsec(t, "host", "apply", "auditd", "--root", root, "--state-dir", state)
	if code != 0 {
		t.Fatalf("apply: %d %q %s", code, errOut, out)
	}
	if after := failed(); len(after) != 0 {
		t.Errorf("after host apply auditd the bench still fails %v", after)
	}
	if _, errOut, code := ctsec(t, "host", "rollback", "--state-dir", state); code != 0 {
		t.Fatalf("rollback: %d %q", code, errOut)
	}
	if again := failed(); strings.Join(again, ",") != strings.Join(before, ",") {
		t.Errorf("after rollback: %v, want %v", again, before)
	}
}
