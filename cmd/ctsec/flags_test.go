package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
	"github.com/spf13/cobra"
)

// Renamed flags keep working for a release, hidden, with a one-line note.
func TestDeprecatedFlags(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	dir := t.TempDir()
	out, errOut, code := ctsec(t, "profile", "gen", "web", "-o", dir, "--state-dir", t.TempDir())
	if code != 0 || !strings.Contains(errOut, "--output is deprecated") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("profile gen -o DIR: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "web.seccomp.json")); err != nil || !strings.Contains(out, "security_opt:") {
		t.Errorf("profile gen -o DIR did not write into DIR: %v\n%s", err, out)
	}
	out, errOut, code = ctsec(t, "apparmor", "gen", "web", "--template", "strict")
	if code != 0 || !strings.Contains(errOut, "--template is deprecated") || !strings.Contains(out, "deny network raw,") {
		t.Errorf("apparmor gen --template strict: exit %d, stderr %q", code, errOut)
	}
	out, _, _ = ctsec(t, "profile", "gen", "--help")
	if strings.Contains(out, "--apparmor-spec") || strings.Contains(out, "-o, --output") || !strings.Contains(out, "--dir DIR") {
		t.Errorf("profile gen --help shows deprecated flags or lacks --dir:\n%s", out)
	}
}

// demote takes only the flags it uses: no review window, logs or journal.
func TestDemoteHelpListsItsFlags(t *testing.T) {
	out, _, _ := ctsec(t, "apparmor", "demote", "--help")
	for _, f := range []string{"--since", "--log", "--journal", "--normalize", "--min-complain", "--profile "} {
		if strings.Contains(out, f) {
			t.Errorf("demote --help lists %s", f)
		}
	}
	for _, f := range []string{"--all", "--write", "--dry-run", "--root", "--profiles-dir", "--state-dir"} {
		if !strings.Contains(out, f) {
			t.Errorf("demote --help lacks %s", f)
		}
	}
	// apparmor has no rollback: the way back is demote.
	_, errOut, code := ctsec(t, "apparmor", "rollback")
	if code != 2 || !strings.Contains(errOut, `did you mean "ctsec apparmor demote"?`) {
		t.Errorf("apparmor rollback: exit %d, %q", code, errOut)
	}
}

// The options a command runs with are its flags, parsed, whatever runs
// them: flag parsing is tested apart from the work.
func TestFlagsReachOptions(t *testing.T) {
	a := &app{stdout: &strings.Builder{}, stderr: &strings.Builder{}}
	var got *profileGenOptions
	cmd := newProfileGenCmd(a, func(_ context.Context, o *profileGenOptions, _ *app) (*report.Report, error) {
		got = o
		return nil, nil
	})
	run := func(c *cobra.Command, args ...string) {
		t.Helper()
		c.SetArgs(args)
		c.SetOut(a.stdout)
		c.SetErr(a.stderr)
		if err := c.Execute(); err != nil {
			t.Fatal(err)
		}
	}
	run(cmd, "web", "-o", "/srv/p", "--force")
	if got == nil || got.Name != "web" || got.Dir != "/srv/p" || !got.Force {
		t.Errorf("profile gen options = %+v", got)
	}
	var demote *apparmorDemoteOptions
	run(newApparmorDemoteCmd(a, func(_ context.Context, o *apparmorDemoteOptions, _ *app) (*report.Report, error) {
		demote = o
		return nil, nil
	}), "--all", "--write", "--root", "/mnt", "--profiles-dir", "/p")
	if demote == nil || !demote.All || !demote.Change.Write || demote.Dir.Root != "/mnt" || demote.Dir.dir() != "/p" {
		t.Errorf("demote options = %+v", demote)
	}
}
