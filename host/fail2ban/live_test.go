package fail2ban

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/hosttest"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

// A real fail2ban server, in private mount and network namespaces (its
// socket, database, logs and ban rules exist only there): apply reloads it
// and reads the running jail's values back; three failed logins in the log
// ban an address (fail2ban-client status, a REJECT in iptables, an hour),
// five from the operator's trusted address ban nothing; the audit says what
// status says; rollback reloads the stock values. The systemd journal is
// not here, so the policy reads a syslog file (backend polling); the lab
// test does the same with the journal and real SSH logins.
func TestLiveServerReloadAndBan(t *testing.T) {
	for _, tool := range []string{"fail2ban-server", "fail2ban-client", "iptables"} {
		testenv.Tool(t, tool)
	}
	if !hosttest.InPrivateNamespaces(t, "/etc/fail2ban", "empty:/run", "empty:/var/log", "empty:/var/lib/fail2ban") {
		return
	}
	ctx := context.Background()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	exec.Command("ip", "link", "set", "lo", "up").Run()
	os.MkdirAll("/run/fail2ban", 0o755)
	os.WriteFile("/var/log/auth.log", nil, 0o640)
	run("fail2ban-client", "-x", "start")
	t.Cleanup(func() { exec.Command("fail2ban-client", "stop").Run() })
	for deadline := time.Now().Add(30 * time.Second); exec.Command("fail2ban-client", "ping").Run() != nil; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("fail2ban-server did not answer within 30s")
		}
	}
	stock := strings.TrimSpace(run("fail2ban-client", "get", "sshd", "maxretry"))

	pol, _ := host.BaselinePolicy()
	pol.Fail2ban.Backend = "polling"
	pol.Operator.TrustedIPs = []string{"10.97.0.2"}
	env := host.NewEnv("/")
	env.SSHConnection = "10.97.0.2 40000 10.97.0.1 22"
	e := &host.Engine{Env: env, StateDir: hosttest.StateDir(), Modules: []host.Module{New()}, Clock: testenv.Clock(t)}
	plan, err := e.Plan(ctx, pol)
	if err != nil {
		t.Fatal(err)
	}
	if r := plan.Refusals(); len(r) > 0 {
		t.Fatalf("refusals: %+v", r)
	}
	if _, err := e.Apply(ctx, plan, host.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"maxretry": "3", "findtime": "600", "bantime": "3600"} {
		if got := strings.TrimSpace(run("fail2ban-client", "get", "sshd", key)); got != want {
			t.Errorf("running jail %s = %s, want %s", key, got, want)
		}
	}

	// fail2ban dates each line by its own timestamp against its own clock,
	// the machine's: the lines carry the real time, not the tests' clock.
	logf, err := os.OpenFile("/var/log/auth.log", os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fail := func(ip string, n int) {
		for i := range n {
			logf.WriteString(time.Now().Format(time.Stamp) + " ctsec-test sshd[4242]: Failed password for root from " + ip + " port " + strconv.Itoa(40000+i) + " ssh2\n")
		}
	}
	fail("10.97.0.2", 5)
	fail("10.98.0.2", 3)
	logf.Close()
	var st Status
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		if st, err = ParseStatus([]byte(run("fail2ban-client", "status", "sshd"))); err != nil {
			t.Fatal(err)
		}
		if st.Banned > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(st.BannedIPs) != 1 || st.BannedIPs[0].String() != "10.98.0.2" {
		t.Fatalf("banned %v, want only 10.98.0.2 (the trusted 10.97.0.2 never)", st.BannedIPs)
	}
	if out := run("fail2ban-client", "get", "sshd", "banip", "--with-time"); !strings.Contains(out, "10.98.0.2") || !strings.Contains(out, "+ 3600 =") {
		t.Errorf("ban is not for an hour: %s", out)
	}
	if out := run("iptables", "-S"); !strings.Contains(out, "-s 10.98.0.2/32 -j REJECT") {
		t.Errorf("no REJECT for the banned address:\n%s", out)
	}

	// The audit says what status says; a trusted address banned is high.
	audit := func(p *host.Policy) []report.Finding {
		fs, err := New().Audit(ctx, env, p)
		if err != nil {
			t.Fatal(err)
		}
		var out []report.Finding
		for _, f := range fs {
			if f.Rule == "host/fail2ban-banned" {
				out = append(out, f)
			}
		}
		return out
	}
	if fs := audit(pol); len(fs) != 1 || fs[0].Severity != report.Info || !strings.Contains(fs[0].Message, "bans 1 address(es) now: 10.98.0.2") {
		t.Errorf("audit: %+v", fs)
	}
	trusting := *pol
	trusting.Operator.TrustedIPs = []string{"10.98.0.0/24"}
	if fs := audit(&trusting); len(fs) != 2 || fs[1].Severity != report.High {
		t.Errorf("a banned operator address: %+v", fs)
	}

	if _, err := e.Rollback(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(run("fail2ban-client", "get", "sshd", "maxretry")); got != stock {
		t.Errorf("after rollback the running jail has maxretry %s, want the stock %s", got, stock)
	}
}
