//go:build lab

package integrity

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// labScope keeps aide --init to the guest's configuration and state: over
// the whole guest (/usr above all) it takes about ten minutes under
// emulation. The rules ctsec adds and the database it makes are the same.
const labScope = "/etc/aide/aide.conf.d/00_ctsec_lab_scope"

func limitScope(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(labScope, []byte("!/usr(/|$)\n!/src(/|$)\n!/shared(/|$)\n!/lab(/|$)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(labScope) })
}

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

// host apply integrity initialises AIDE and rkhunter on the real host;
// rollback puts the databases and files back.
func TestLabIntegrityApplyRollback(t *testing.T) {
	testenv.Lab(t)
	testenv.Tool(t, "aide")
	testenv.Tool(t, "rkhunter")
	limitScope(t)
	state := t.TempDir()
	out, errOut, code := labCtsec(t, "host", "plan", "integrity")
	if code != 0 || !strings.Contains(out, "99_ctsec_docker") {
		t.Fatalf("plan: exit %d %q\n%s", code, errOut, out)
	}
	if _, errOut, code := labCtsec(t, "host", "apply", "integrity", "--state-dir", state); code != 0 {
		t.Fatalf("apply: exit %d %q", code, errOut)
	}
	for _, p := range []string{"/var/lib/aide/aide.db", "/var/lib/rkhunter/db/rkhunter.dat"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	out, _, _ = labCtsec(t, "host", "audit", "integrity", "--format", "json", "--fail-on", "none")
	if strings.Contains(out, `"severity": "high"`) || strings.Contains(out, `"severity": "medium"`) {
		t.Errorf("audit after apply:\n%s", out)
	}
	if _, errOut, code := labCtsec(t, "host", "rollback", "--state-dir", state); code != 0 {
		t.Fatalf("rollback: exit %d %q", code, errOut)
	}
	if _, err := os.Stat("/etc/aide/aide.conf.d/99_ctsec_docker"); !os.IsNotExist(err) {
		t.Errorf("rollback left the AIDE drop-in: %v", err)
	}
}
