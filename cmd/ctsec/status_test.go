package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// statusRoot is a host tree with only a sysctl drop-in, and a policy that
// holds it to one key and leaves the firewall and updates alone.
func statusRoot(t *testing.T) (root, policy string) {
	root = t.TempDir()
	for p, c := range map[string]string{
		"etc/sysctl.d/99-sysctl.conf": "", "etc/sysctl.conf": "",
		"etc/sysctl.d/99-zz-ctsec.conf": "kernel.kptr_restrict = 2\n",
	} {
		writeFile(t, filepath.Join(root, p), c)
	}
	policy = writeFile(t, filepath.Join(t.TempDir(), "policy.yaml"), "version: 1\nfirewall: null\nupdates: null\nfail2ban: null\n")
	return root, policy
}

// status keeps a results file in every format it writes, and --fail-on
// decides the exit code from the items that fail.
func TestStatusResultsFileAndExit(t *testing.T) {
	testenv.Tool(t, "sysctl")
	root, policy := statusRoot(t)
	dir := t.TempDir()
	base := []string{"status", "--root", root, "--policy", policy, "--host", "unix:///nonexistent.sock"}
	for _, f := range []string{"text", "json", "sarif", "junit", "markdown"} {
		file := filepath.Join(dir, "status."+f)
		out, errOut, code := ctsec(t, append(base, "--format", f, "--fail-on", "none", "--output", file)...)
		if code != 0 {
			t.Fatalf("--format %s --fail-on none: exit %d %q", f, code, errOut)
		}
		kept, err := os.ReadFile(file)
		if err != nil || string(kept) != out {
			t.Errorf("--format %s: the results file differs from what was printed (%v)", f, err)
		}
	}
	out, _, _ := ctsec(t, append(base, "--format", "json", "--fail-on", "none")...)
	var rep struct {
		Findings []struct{ Rule, Severity string }
		Data     struct {
			Items []struct{ Rule, Status, Summary string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Data.Items) == 0 {
		t.Fatalf("json: %v\n%s", err, out)
	}
	worst := ""
	for _, it := range rep.Data.Items {
		if it.Status == "skip" && it.Summary == "" {
			t.Errorf("%s skipped without a reason", it.Rule)
		}
	}
	for _, f := range rep.Findings {
		if !strings.HasPrefix(f.Rule, "status/") {
			t.Errorf("finding rule %s", f.Rule)
		}
		if f.Severity == "high" {
			worst = "high"
		}
	}
	_, _, code := ctsec(t, append(base, "--fail-on", "high")...)
	if want := map[bool]int{true: 1, false: 0}[worst == "high"]; code != want {
		t.Errorf("--fail-on high: exit %d, want %d", code, want)
	}
	if _, _, code := ctsec(t, append(base, "--fail-on", "info")...); code != 1 && len(rep.Findings) > 0 {
		t.Errorf("--fail-on info with findings: exit %d", code)
	}
	if _, errOut, code := ctsec(t, append(base, "--output", filepath.Join(dir, "no", "such", "dir", "x"))...); code == 0 || !strings.Contains(errOut, "results file") {
		t.Errorf("unwritable results file: exit %d %q", code, errOut)
	}
}
