package fail2ban

import (
	"context"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/hosttest"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

// debianRoot holds a copy of this machine's stock Debian 12 /etc/fail2ban.
func debianRoot(t *testing.T) *host.Env {
	t.Helper()
	testenv.Tool(t, "fail2ban-client")
	env := hosttest.Root(t, ConfDir)
	hosttest.Write(t, env, "/usr/lib/python3/dist-packages/systemd/journal.py", "")
	return env
}

func rules(fs []report.Finding) map[string]report.Finding {
	m := map[string]report.Finding{}
	for _, f := range fs {
		key := f.Rule
		if f.Rule == "host/fail2ban-option" { // one rule, the option in the target
			key += " " + f.Target[strings.LastIndex(f.Target, " ")+1:]
		}
		m[key] = f
	}
	return m
}

func TestAuditStockDebian(t *testing.T) {
	env := debianRoot(t)
	pol, _ := host.BaselinePolicy()
	fs, err := New().Audit(context.Background(), env, pol)
	if err != nil {
		t.Fatal(err)
	}
	r := rules(fs)
	if f := r["host/fail2ban-test"]; f.Severity != report.High || !strings.Contains(f.Message, "Have not found any log file for sshd jail") {
		t.Errorf("test finding = %+v", f)
	}
	if f := r["host/fail2ban-option maxretry"]; f.Severity != report.Medium || f.File != "/etc/fail2ban/jail.conf" || !strings.Contains(f.Message, "maxretry = 5") {
		t.Errorf("maxretry finding = %+v", f)
	}
}

// A jail section beats [DEFAULT] whatever the file: a provider's
// jail.d/00-provider.conf [sshd] maxretry = 7 wins over jail.local's
// [DEFAULT] maxretry = 3. fail2ban-client -d and our lookup must agree.
func TestJailSectionBeatsDefault(t *testing.T) {
	env := debianRoot(t)
	hosttest.Write(t, env, "/etc/fail2ban/jail.d/00-provider.conf", "[sshd]\nmaxretry = 7\n")
	hosttest.Write(t, env, "/etc/fail2ban/jail.local", "[DEFAULT]\nmaxretry = 3\n")
	pol, _ := host.BaselinePolicy()
	fs, err := New().Audit(context.Background(), env, pol)
	if err != nil {
		t.Fatal(err)
	}
	f := rules(fs)["host/fail2ban-option maxretry"]
	if !strings.Contains(f.Message, "maxretry = 7") || f.File != "/etc/fail2ban/jail.d/00-provider.conf" || f.Line != 2 {
		t.Errorf("maxretry finding = %+v", f)
	}
}

func TestApplyBaselineVerified(t *testing.T) {
	env := debianRoot(t)
	pol, _ := host.BaselinePolicy()
	e := &host.Engine{Env: env, StateDir: t.TempDir(), Modules: []host.Module{New()}, Clock: testenv.Clock(t)}
	plan, err := e.Plan(context.Background(), pol)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(context.Background(), plan, host.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	fs, _ := New().Audit(context.Background(), env, pol)
	for _, f := range fs {
		if f.Severity > report.Low {
			t.Errorf("after apply: %s: %s", f.Rule, f.Message)
		}
	}
	if got := hosttest.Read(t, env, DropIn); !strings.Contains(got, "ignoreip = 127.0.0.1/8 ::1 203.0.113.10") {
		t.Errorf("drop-in = %q", got)
	}
}

func TestGuardClientIPNotWhitelisted(t *testing.T) {
	env := debianRoot(t)
	env.SSHConnection = "198.51.100.7 50022 192.0.2.1 22"
	pol, _ := host.BaselinePolicy()
	mp, err := New().Plan(context.Background(), env, pol)
	if err != nil {
		t.Fatal(err)
	}
	if len(mp.Refusals) != 1 || mp.Refusals[0].Guard != "fail2ban-client-ip" || !strings.Contains(mp.Refusals[0].Reason, "198.51.100.7") {
		t.Fatalf("refusals = %+v", mp.Refusals)
	}
	pol.Operator.TrustedIPs = append(pol.Operator.TrustedIPs, "198.51.100.0/24")
	mp, _ = New().Plan(context.Background(), env, pol)
	if len(mp.Refusals) != 0 {
		t.Errorf("whitelisted network still refused: %+v", mp.Refusals)
	}
	// A value the guard cannot read is a refusal, never "no client".
	for _, garbage := range []string{"garbage", "198.51.100.7 x 192.0.2.1 22", "198.51.100.7 50022 192.0.2.1", "300.1.1.1 1 192.0.2.1 22"} {
		env.SSHConnection = garbage
		mp, _ = New().Plan(context.Background(), env, pol)
		if len(mp.Refusals) != 1 || mp.Refusals[0].Guard != "ssh-connection" || !strings.Contains(mp.Refusals[0].Reason, "SSH_CONNECTION") {
			t.Errorf("SSH_CONNECTION=%q: refusals = %+v", garbage, mp.Refusals)
		}
	}
}

// backend polling needs a log file Debian 12 does not have: fail2ban-client
// -t fails after writing and every file is restored.
func TestVerifyFailureRestores(t *testing.T) {
	env := debianRoot(t)
	hosttest.Write(t, env, DropIn, "[sshd]\nenabled = true\nbackend = systemd\n")
	before := hosttest.Snapshot(t, env)
	pol, _ := host.BaselinePolicy()
	pol.Fail2ban.Backend = "polling"
	e := &host.Engine{Env: env, StateDir: t.TempDir(), Modules: []host.Module{New()}, Clock: testenv.Clock(t)}
	plan, _ := e.Plan(context.Background(), pol)
	_, err := e.Apply(context.Background(), plan, host.ApplyOptions{})
	var rolled *host.RolledBackError
	if !errors.As(err, &rolled) || !strings.Contains(err.Error(), "fail2ban-client -t") {
		t.Fatalf("apply = %v", err)
	}
	if !reflect.DeepEqual(before, hosttest.Snapshot(t, env)) {
		t.Error("files not restored byte for byte")
	}
}

func TestParseDump(t *testing.T) {
	out := "['add', 'sshd', 'systemd']\n['set', 'sshd', 'maxretry', 3]\n['set', 'sshd', 'addignoreip', '127.0.0.1/8', '::1']\n['multi-set', 'sshd', 'addfailregex', ['a', 'b']]\n['start', 'sshd']\n['set', 'other', 'maxretry', 9]\n"
	j := ParseDump([]byte(out), "sshd")
	if !j.Enabled || j.Backend != "systemd" || j.Get("maxretry") != "3" || strings.Join(j.Settings["addignoreip"], " ") != "127.0.0.1/8 ::1" {
		t.Errorf("jail = %+v", j)
	}
	for in, want := range map[string]int{"600": 600, "10m": 600, "1h": 3600, "1d": 86400, "1h30m": 5400} {
		if got, ok := seconds(in); !ok || got != want {
			t.Errorf("seconds(%q) = %d", in, got)
		}
	}
}

func FuzzParseINI(f *testing.F) {
	f.Add("[DEFAULT]\nbantime = 10m\n[sshd]\nenabled = true\nignoreip = 1.2.3.4\n  5.6.7.8\n# c\n")
	f.Add("key = outside\n")
	f.Fuzz(func(t *testing.T, s string) {
		es, err := ParseINI("f", []byte(s))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		for _, e := range es {
			Lookup(es, e.Section, e.Key)
		}
	})
}

func FuzzParseDump(f *testing.F) {
	f.Add("['set', 'sshd', 'maxretry', 3]\n['add', 'sshd', 'auto']\n['set', 'sshd', 'x', 'a\\'b', [1, [2]]]\n")
	f.Fuzz(func(t *testing.T, s string) {
		ParseDump([]byte(s), "sshd")
		seconds(s)
	})
}

func BenchmarkParseJailConf(b *testing.B) {
	data, err := os.ReadFile("/etc/fail2ban/jail.conf")
	if err != nil {
		testenv.Unavailable(b, "no /etc/fail2ban/jail.conf: %v", err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseINI("jail.conf", data); err != nil {
			b.Fatal(err)
		}
	}
}

// Verification runs this machine's fail2ban-client; an image without
// python3-systemd is told so as a fact about the image, and the plan still
// verifies here.
func TestPlanNotesMissingPythonSystemdInRoot(t *testing.T) {
	testenv.Tool(t, "fail2ban-client")
	env := hosttest.Root(t, ConfDir)
	pol, _ := host.BaselinePolicy()
	mp, err := New().Plan(context.Background(), env, pol)
	if err != nil {
		t.Fatal(err)
	}
	want := "not installed under " + env.Root + ": fail2ban there will not start until it is"
	if len(mp.Notes) != 1 || !strings.Contains(mp.Notes[0], want) {
		t.Errorf("notes = %q, want %q", mp.Notes, want)
	}
	hosttest.Write(t, env, "/usr/lib/python3/dist-packages/systemd/journal.py", "")
	if mp, err = New().Plan(context.Background(), env, pol); err != nil || len(mp.Notes) != 0 {
		t.Errorf("notes with the module present = %q, %v", mp.Notes, err)
	}
}

// A later jail.d/zz.local [sshd] section silently defeated the policy:
// plan said nothing and apply failed its own check. Plan has fail2ban load
// the jail with the drop-in and refuses, naming the file that wins.
func TestLaterJailFileRefused(t *testing.T) {
	for _, tt := range []struct{ file, content, want string }{
		{"/etc/fail2ban/jail.d/zz.local", "[sshd]\nmaxretry = 10\n", "/etc/fail2ban/jail.d/zz.local:2 sets maxretry = 10 in [sshd], read after " + DropIn + ", so it wins (fail2ban-client -d shows maxretry = 10, want 3)"},
		{"/etc/fail2ban/jail.d/zz.local", "[sshd]\nenabled = false\n", "/etc/fail2ban/jail.d/zz.local:2 sets enabled = false in [sshd]"},
		{"/etc/fail2ban/jail.d/zzz-site.local", "[sshd]\nbantime = 5m\n", "zzz-site.local:2 sets bantime = 5m"},
		{"/etc/fail2ban/jail.d/zz.local", "[sshd]\nignoreip = 10.0.0.1\n", "sets ignoreip = 10.0.0.1 in [sshd]"},
	} {
		env := debianRoot(t)
		pol, _ := host.BaselinePolicy()
		hosttest.Write(t, env, tt.file, tt.content)
		mp, err := New().Plan(context.Background(), env, pol)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range mp.Refusals {
			found = found || (r.Guard == "fail2ban-later-file" && strings.Contains(r.Reason, tt.want))
		}
		if !found {
			t.Errorf("%s %q: refusals = %+v\nwant %q", tt.file, tt.content, mp.Refusals, tt.want)
		}
	}
	// An earlier file, or a [DEFAULT] anywhere, does not beat the drop-in.
	env := debianRoot(t)
	hosttest.Write(t, env, "/etc/fail2ban/jail.d/00-provider.conf", "[sshd]\nmaxretry = 7\n")
	hosttest.Write(t, env, "/etc/fail2ban/jail.d/zz.local", "[DEFAULT]\nmaxretry = 9\n")
	pol, _ := host.BaselinePolicy()
	if mp, err := New().Plan(context.Background(), env, pol); err != nil || len(mp.Refusals) != 0 {
		t.Errorf("earlier [sshd] and later [DEFAULT]: %v %+v", err, mp.Refusals)
	}
}

// The jail's ignoreip replaces the one it inherits: writing only the
// policy's replaced the site's own entries silently. They are kept, first,
// and the plan says where they come from; an entry only an older ctsec
// drop-in held is not carried over.
func TestSiteIgnoreIPKept(t *testing.T) {
	env := debianRoot(t)
	hosttest.Write(t, env, "/etc/fail2ban/jail.local", "[DEFAULT]\nignoreip = 127.0.0.1/8 ::1 10.20.0.0/16 bastion.example\n")
	hosttest.Write(t, env, DropIn, "[sshd]\nignoreip = 198.51.100.99\n")
	pol, _ := host.BaselinePolicy()
	e := &host.Engine{Env: env, StateDir: t.TempDir(), Modules: []host.Module{New()}, Clock: testenv.Clock(t)}
	plan, err := e.Plan(context.Background(), pol)
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(plan.Modules[0].Notes, "\n")
	if !strings.Contains(notes, "keeps the site's own ignoreip 127.0.0.1/8 ::1 10.20.0.0/16 bastion.example (from /etc/fail2ban/jail.local:2 [DEFAULT])") {
		t.Errorf("notes:\n%s", notes)
	}
	if _, err := e.Apply(context.Background(), plan, host.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	got := hosttest.Read(t, env, DropIn)
	if !strings.Contains(got, "ignoreip = 127.0.0.1/8 ::1 10.20.0.0/16 bastion.example 203.0.113.10\n") || strings.Contains(got, "198.51.100.99") {
		t.Errorf("drop-in:\n%s", got)
	}
	_, j, err := check(context.Background(), env, "sshd")
	if err != nil || !slices.Contains(j.Settings["addignoreip"], "10.20.0.0/16") || !slices.Contains(j.Settings["addignoreip"], "203.0.113.10") {
		t.Errorf("fail2ban-client -d ignoreip = %v, %v", j.Settings["addignoreip"], err)
	}
}

// BenchmarkParseINIContinuation is one key continued over 1 MiB of lines:
// appending to the value line by line was quadratic (256 KiB took 37 s).
//
//	go test -run '^$' -bench ParseINIContinuation ./host/fail2ban/
func BenchmarkParseINIContinuation(b *testing.B) {
	data := []byte("[sshd]\nignoreip = 127.0.0.1\n" + strings.Repeat("  10.0.0.1\n", (1<<20)/11))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		es, err := ParseINI("jail.local", data)
		if err != nil || len(es) != 1 {
			b.Fatal(err, len(es))
		}
	}
}

func TestParseStatus(t *testing.T) {
	out := "Status for the jail: sshd\n|- Filter\n|  |- Currently failed:\t0\n|  |- Total failed:\t3\n|  `- Journal matches:\t_SYSTEMD_UNIT=sshd.service + _COMM=sshd\n`- Actions\n   |- Currently banned:\t2\n   |- Total banned:\t2\n   `- Banned IP list:\t10.98.0.2 2001:db8::7\n"
	st, err := ParseStatus([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if st.Banned != 2 || st.TotalFailed != 3 || len(st.BannedIPs) != 2 || st.BannedIPs[1].String() != "2001:db8::7" {
		t.Errorf("status = %+v", st)
	}
	for _, bad := range []string{
		"nothing here\n",
		"   |- Currently banned:\tmany\n",
		"   |- Currently banned:\t1\n   `- Banned IP list:\t10.98.0.2;rm\n",
	} {
		if _, err := ParseStatus([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add("Status for the jail: sshd\n`- Actions\n   |- Currently banned:\t1\n   `- Banned IP list:\t10.98.0.2\n")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStatus([]byte(s))
		if err != nil {
			return
		}
		for _, a := range st.BannedIPs {
			if !a.IsValid() {
				t.Fatalf("invalid address from %q", s)
			}
		}
	})
}
