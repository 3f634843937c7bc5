package integrity

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/hosttest"
	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

// integrityRoot is a tree with Debian's real AIDE and rkhunter
// configuration (copied from this machine).
func integrityRoot(t *testing.T) *host.Env {
	testenv.Tool(t, "aide")
	testenv.Tool(t, "rkhunter")
	env := hosttest.Root(t, "/etc/aide", "/etc/rkhunter.conf", "/etc/default/rkhunter")
	for _, p := range []string{"/usr/bin/aide", "/usr/bin/rkhunter"} {
		hosttest.Write(t, env, p, "")
	}
	os.MkdirAll(env.Path("/etc/.java"), 0o755)
	return env
}

func TestRenderRKOnlyWhatThisHostHas(t *testing.T) {
	env := integrityRoot(t)
	rk := string(RenderRK(env))
	for _, want := range []string{"WEB_CMD=\"\"\n", "PKGMGR=DPKG\n", "ALLOWHIDDENDIR=/etc/.java\n"} {
		if !strings.Contains(rk, want) {
			t.Errorf("rkhunter drop-in lacks %q:\n%s", want, rk)
		}
	}
	if strings.Contains(rk, "lwp-request") || strings.Contains(rk, "/etc/.git\n") {
		t.Errorf("names a file the root does not have:\n%s", rk)
	}
	d := string(RenderDefaults([]byte("# comment\nCRON_DAILY_RUN=\"\"\nAPT_AUTOGEN=\"false\"\nNICE=\"0\"\n")))
	if d != "# comment\nCRON_DAILY_RUN=\"true\"\nAPT_AUTOGEN=\"true\"\nNICE=\"0\"\n" {
		t.Errorf("defaults:\n%s", d)
	}
	if d := string(RenderDefaults(nil)); d != "CRON_DAILY_RUN=\"true\"\nAPT_AUTOGEN=\"true\"\n" {
		t.Errorf("defaults from nothing:\n%s", d)
	}
}

// Plan, apply (verified by aide --config-check and rkhunter --config-check),
// audit clean but for the databases (only the running system can make
// them), rollback byte for byte.
func TestApplyAndRollbackUnderRoot(t *testing.T) {
	env := integrityRoot(t)
	env.Clock = testenv.Clock(t)
	pol, _ := host.BaselinePolicy()
	m := New()
	fs, err := m.Audit(context.Background(), env, pol)
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]bool{}
	for _, f := range fs {
		rules[f.Rule] = true
	}
	for _, r := range []string{"host/integrity-database", "host/integrity-exclude", "host/integrity-rkhunter"} {
		if !rules[r] {
			t.Errorf("before apply no %s finding: %+v", r, fs)
		}
	}
	before := hosttest.Snapshot(t, env)
	e := &host.Engine{Env: env, StateDir: filepath.Join(t.TempDir(), "state"), Modules: []host.Module{m}, Clock: testenv.Clock(t)}
	plan, err := e.Plan(context.Background(), pol)
	if err != nil {
		t.Fatal(err)
	}
	diff := plan.Diff()
	for _, want := range []string{"+!/var/lib/docker(/|$)", "+WEB_CMD=\"\"", "+APT_AUTOGEN=\"true\""} {
		if !strings.Contains(diff, want) {
			t.Errorf("plan lacks %q:\n%s", want, diff)
		}
	}
	res, err := e.Apply(context.Background(), plan, host.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fs, _ = m.Audit(context.Background(), env, pol)
	for _, f := range fs {
		if f.Severity > report.Info && f.Rule != "host/integrity-database" && f.Rule != "host/integrity-schedule" {
			t.Errorf("after apply: %s %s", f.Rule, f.Message)
		}
	}
	if _, err := e.Rollback(context.Background(), res.ID); err != nil {
		t.Fatal(err)
	}
	after := hosttest.Snapshot(t, env)
	if len(after) != len(before) {
		t.Errorf("rollback left %d files, want %d", len(after), len(before))
	}
	for p, c := range before {
		if after[p] != c {
			t.Errorf("%s differs after rollback", p)
		}
	}
}

// A drop-in AIDE cannot read is caught by aide --config-check and the
// apply rolled back.
func TestBadExcludeRefusedByAIDE(t *testing.T) {
	env := integrityRoot(t)
	pol, _ := host.BaselinePolicy()
	pol.Integrity.RKHunter = false
	pol.Integrity.Exclude = []string{"/var/lib/docker"}
	m := New()
	mp, err := m.Plan(context.Background(), env, pol)
	if err != nil {
		t.Fatal(err)
	}
	hosttest.Write(t, env, AIDEDropIn, "!/var/lib/docker(\n")
	if err := m.Verify(context.Background(), env, mp); err == nil || !strings.Contains(err.Error(), "aide --config-check") {
		t.Errorf("a broken selection line passed: %v", err)
	}
}

func TestDatabaseAge(t *testing.T) {
	env := integrityRoot(t)
	now := testenv.Now(t)
	pol, _ := host.BaselinePolicy()
	pol.Integrity.RKHunter = false
	hosttest.Write(t, env, AIDEDatabase, "db")
	for age, want := range map[time.Duration]report.Severity{time.Hour: report.Info, 10 * 24 * time.Hour: report.Medium} {
		os.Chtimes(env.Path(AIDEDatabase), now.Add(-age), now.Add(-age))
		env.Clock = clock.Fixed(now)
		fs, _ := New().Audit(context.Background(), env, pol)
		for _, f := range fs {
			if f.Rule == "host/integrity-database" && f.Severity != want {
				t.Errorf("a database %s old: %s %q", age, f.Severity, f.Message)
			}
		}
	}
}

// FuzzRenderDefaults: whatever /etc/default/rkhunter holds, the result
// switches both settings on and keeps every other line as it was.
func FuzzRenderDefaults(f *testing.F) {
	f.Add([]byte("CRON_DAILY_RUN=\"\"\nAPT_AUTOGEN=\"false\"\nNICE=\"0\"\n"))
	f.Add([]byte("APT_AUTOGEN=yes\r\n# x\nAPT_AUTOGEN=\"no\""))
	f.Fuzz(func(t *testing.T, old []byte) {
		out := RenderDefaults(old)
		for _, k := range []string{"APT_AUTOGEN", "CRON_DAILY_RUN"} {
			if v := defaultsValue(out, k); v != "true" {
				t.Fatalf("%s = %q after rendering:\n%s", k, v, out)
			}
		}
		kept := 0
		for _, l := range strings.Split(string(old), "\n") {
			if m := defaultsLine().FindStringSubmatch(l); m == nil || (m[1] != "APT_AUTOGEN" && m[1] != "CRON_DAILY_RUN") {
				if !strings.Contains(string(out), l) {
					t.Fatalf("line %q lost:\n%s", l, out)
				}
				kept++
			}
		}
		_ = kept
	})
}
