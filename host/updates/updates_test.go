package updates

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/hosttest"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

// DebianRoot is a root with Debian 12's unattended-upgrades configuration
// (from the unattended-upgrades 2.9.1 package) and apt's timers.
func DebianRoot(t testing.TB) *host.Env {
	t.Helper()
	env := hosttest.Root(t)
	for name, dst := range map[string]string{
		"50unattended-upgrades":   "/etc/apt/apt.conf.d/50unattended-upgrades",
		"20auto-upgrades":         "/etc/apt/apt.conf.d/20auto-upgrades",
		"apt-daily-upgrade.timer": "/lib/systemd/system/apt-daily-upgrade.timer",
		"apt-daily.timer":         "/lib/systemd/system/apt-daily.timer",
	} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		hosttest.Write(t, env, dst, string(b))
	}
	hosttest.Write(t, env, "/usr/bin/unattended-upgrade", "#!/bin/sh\n")
	return env
}

func TestAuditDebianDefaultIsNotSecurityOnly(t *testing.T) {
	env := DebianRoot(t)
	pol, _ := host.BaselinePolicy()
	fs, err := New().Audit(context.Background(), env, pol)
	if err != nil {
		t.Fatal(err)
	}
	var origins, schedule []report.Finding
	for _, f := range fs {
		switch f.Rule {
		case "host/updates-origins":
			origins = append(origins, f)
		case "host/updates-schedule":
			schedule = append(schedule, f)
		}
	}
	// Debian's default includes the point-release origin (label=Debian).
	if len(origins) != 1 || !strings.Contains(origins[0].Message, "label=Debian\"") || origins[0].File != "/etc/apt/apt.conf.d/50unattended-upgrades" {
		t.Errorf("origin findings = %+v", origins)
	}
	if len(schedule) != 1 || schedule[0].Severity != report.Low || !strings.Contains(schedule[0].Message, "6:00") {
		t.Errorf("schedule findings = %+v", schedule)
	}
}

// The #clear in the drop-in really replaces Debian's list: checked with
// apt itself (apt-config dump), then re-audited.
func TestApplySecurityOnlyVerifiedByApt(t *testing.T) {
	testenv.Tool(t, "apt-config")
	testenv.Tool(t, "systemd-analyze")
	ctx := context.Background()
	env := DebianRoot(t)
	pol, _ := host.BaselinePolicy()
	e := &host.Engine{Env: env, StateDir: t.TempDir(), Modules: []host.Module{New()}, Clock: testenv.Clock(t)}
	plan, err := e.Plan(ctx, pol)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Modules[0].Edits) != 3 {
		t.Fatalf("edits = %d, want conf + 2 timer drop-ins", len(plan.Modules[0].Edits))
	}
	if _, err := e.Apply(ctx, plan, host.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	fs, err := New().Audit(ctx, env, pol)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Severity > report.Info {
			t.Errorf("after apply: %s %s", f.Rule, f.Message)
		}
	}
	if d := hosttest.Read(t, env, "/etc/apt/apt.conf.d/50unattended-upgrades"); !strings.Contains(d, "label=Debian\";") {
		t.Error("the distribution's file was modified")
	}
}

func TestVerifyFailureRestores(t *testing.T) {
	testenv.Tool(t, "apt-config")
	ctx := context.Background()
	env := DebianRoot(t)
	// A later file that re-adds an origin after our #clear: apt shows it,
	// so verification fails and the apply is undone.
	hosttest.Write(t, env, "/etc/apt/apt.conf.d/60local", "Unattended-Upgrade::Origins-Pattern { \"origin=*\"; };\n")
	before := hosttest.Snapshot(t, env)
	pol, _ := host.BaselinePolicy()
	e := &host.Engine{Env: env, StateDir: t.TempDir(), Modules: []host.Module{New()}, Clock: testenv.Clock(t)}
	plan, err := e.Plan(ctx, pol)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Apply(ctx, plan, host.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "origin=*") {
		t.Fatalf("apply error = %v", err)
	}
	after := hosttest.Snapshot(t, env)
	if len(after) != len(before) {
		t.Errorf("files after rollback: %d, before: %d", len(after), len(before))
	}
	for p, c := range before {
		if after[p] != c {
			t.Errorf("%s not restored", p)
		}
	}
}

func TestParseAptConf(t *testing.T) {
	ops, err := ParseAptConf("x", []byte(`// comment
APT::Periodic::Unattended-Upgrade "1";
Unattended-Upgrade::Origins-Pattern { "a"; "b"; };
/* block
comment */
Unattended-Upgrade { Automatic-Reboot "true"; Origins-Pattern { "c"; }; };
#clear Unattended-Upgrade::Origins-Pattern;
Unattended-Upgrade::Origins-Pattern:: "d";
`))
	if err != nil {
		t.Fatal(err)
	}
	tr := Eval(ops)
	if op, _ := tr.Scalar("apt::periodic::unattended-upgrade"); op.Value != "1" || op.Line != 2 {
		t.Errorf("scalar = %+v", op)
	}
	if op, _ := tr.Scalar("Unattended-Upgrade::Automatic-Reboot"); op.Value != "true" || op.Line != 6 {
		t.Errorf("scoped scalar = %+v", op)
	}
	var got []string
	for _, o := range tr.List("Unattended-Upgrade::Origins-Pattern") {
		got = append(got, o.Value)
	}
	if strings.Join(got, ",") != "d" {
		t.Errorf("list after #clear = %v, want [d]", got)
	}
	for _, bad := range []string{`A "x"`, `A { "x"; `, `}; `, `"x";`, `A "unterminated;`} {
		if _, err := ParseAptConf("bad.conf", []byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "bad.conf:") {
			t.Errorf("ParseAptConf(%q) error = %v", bad, err)
		}
	}
}

func FuzzParseAptConf(f *testing.F) {
	for _, n := range []string{"50unattended-upgrades", "20auto-upgrades"} {
		b, _ := os.ReadFile("testdata/" + n)
		f.Add(string(b))
	}
	f.Add("#clear A::B;\nA { B { \"x\"; }; };\n")
	f.Fuzz(func(t *testing.T, s string) {
		ops, err := ParseAptConf("f", []byte(s))
		if err != nil {
			return
		}
		Eval(ops)
	})
}

func FuzzTimer(f *testing.F) {
	b, _ := os.ReadFile("testdata/apt-daily-upgrade.timer")
	f.Add(string(b))
	f.Fuzz(func(t *testing.T, s string) {
		var tm Timer
		tm.ApplyUnit("x", []byte(s))
	})
}

func BenchmarkParseAptConf(b *testing.B) {
	data, _ := os.ReadFile("testdata/50unattended-upgrades")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		ops, err := ParseAptConf("50unattended-upgrades", data)
		if err != nil {
			b.Fatal(err)
		}
		Eval(ops)
	}
}
