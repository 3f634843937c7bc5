package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/clock"

	"github.com/ctsec/ctsec/internal/testenv"
)

// 12.3: apparmor gen goes through the validation profile gen uses: a spec
// whose rules apparmor_parser refuses writes nothing and fails.
func TestApparmorGenValidatesLikeProfileGen(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	dir := t.TempDir()
	spec := func(rules string) string {
		p := filepath.Join(dir, "spec.yaml")
		os.WriteFile(p, []byte("rules: |\n  "+rules+"\n"), 0o644)
		return p
	}
	for _, c := range []struct {
		rules string
		code  int
	}{
		{"abi <abi/4.0>,", 2},              // named with the spec's line
		{"priority=1 /** rw,", 2},          // the same
		{"userns bogus stuff,", 1},         // only apparmor_parser knows
		{"dbus (send) bus=bogus junk,", 1}, // the same
	} {
		out := filepath.Join(dir, "web.apparmor")
		os.Remove(out)
		for _, args := range [][]string{
			{"apparmor", "gen", "web", "--spec", spec(c.rules)},
			{"apparmor", "gen", "web", "--spec", spec(c.rules), "-o", out},
			{"profile", "gen", "web", "--spec", spec(c.rules), "--dir", filepath.Join(dir, "pg")},
		} {
			stdout, stderr, code := ctsec(t, args...)
			if code != c.code || stdout != "" || !strings.HasPrefix(stderr, "ctsec: ") {
				t.Errorf("%q: %v: exit %d, stdout %q, stderr %q", c.rules, args[:2], code, stdout, stderr)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%q: apparmor gen -o wrote an invalid profile", c.rules)
		}
		if _, err := os.Stat(filepath.Join(dir, "pg", "web.apparmor")); err == nil {
			t.Errorf("%q: profile gen wrote an invalid profile", c.rules)
		}
	}
}

// 12.3: denials of an enforce-mode profile exit non-zero at the default
// --fail-on, and the text shows them first, with operation, path and command.
func TestApparmorReviewEnforceDenialsFail(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ctsec-app"), []byte("abi <abi/3.0>,\n\nprofile \"ctsec-app\" {\n  /srv/app/** r,\n}\n"), 0o644)
	log := filepath.Join(t.TempDir(), "audit.log")
	os.WriteFile(log, []byte(`type=AVC msg=audit(1795000000.000:1): apparmor="DENIED" operation="open" profile="ctsec-app" name="/etc/secret" pid=7 comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=1`+"\n"), 0o644)
	out, _, code := ctsecAt(t, reviewWeek, "apparmor", "review", "--no-docker", "--state-dir", t.TempDir(), "--since", "2026-11-18", "--log", log, "--profiles-dir", dir)
	if code != 1 || !strings.Contains(out, "BREAKING  ctsec-app") || !strings.Contains(out, "open /etc/secret by cat") || strings.Contains(out, "READY") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// 12.4: review keeps its history under --state-dir and shows the trend on
// the next run; an untrusted state directory is a warning, not a failure.
func TestApparmorReviewHistoryCLI(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	var args []string // reviewArgs with the history kept under state
	for _, a := range reviewArgs {
		if a != "--no-history" {
			args = append(args, a)
		}
	}
	args = append(args, "--state-dir", state)
	out, errOut, code := ctsecAt(t, reviewWeek, args...)
	if code != 0 || !strings.Contains(out, "trend: first review on record") {
		t.Fatalf("first: exit %d %q\n%s", code, errOut, out)
	}
	out, _, code = ctsecAt(t, clock.Fixed(reviewWeek.Now().AddDate(0, 0, 7)), args...)
	if code != 0 || !strings.Contains(out, "trend: 0 new rule(s) since the last review (2026-11-25") {
		t.Errorf("second: exit %d\n%s", code, out)
	}
	os.Chmod(filepath.Join(state, "apparmor", "reviews"), 0o777)
	out, _, code = ctsecAt(t, reviewWeek, args...)
	if code != 0 || !strings.Contains(out, "warning: review history not used or kept: refusing to trust") || strings.Contains(out, "trend:") {
		t.Errorf("untrusted: exit %d\n%s", code, out)
	}
}
