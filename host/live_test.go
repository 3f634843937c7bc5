package host_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/hosttest"
	"github.com/ctsec/ctsec/internal/testenv"
)

func readProc(t *testing.T, key string) string {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(key, ".", "/"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// Live sysctl: apply loads the drop-in into the (private) kernel network
// namespace, rollback writes the recorded previous values back.
func TestLiveSysctlApplyAndRollback(t *testing.T) {
	if !hosttest.InPrivateNamespaces(t, "/etc/sysctl.d") {
		return
	}
	ctx := context.Background()
	const key = "net.ipv4.conf.all.rp_filter"
	before := readProc(t, key)
	want := "2"
	if before == "2" {
		want = "1"
	}
	pol, _ := host.BaselinePolicy()
	pol.Sysctl.Settings = map[string]string{key: want, "net.ipv4.tcp_syncookies": "1"}
	e := &host.Engine{Env: host.NewEnv("/"), StateDir: hosttest.StateDir(), Modules: []host.Module{mustModule("sysctl")}, Clock: testenv.Clock(t)}
	plan, err := e.Plan(ctx, pol)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, plan, host.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readProc(t, key); got != want {
		t.Fatalf("after apply %s = %s, want %s", key, got, want)
	}
	if _, err := e.Rollback(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if got := readProc(t, key); got != before {
		t.Errorf("after rollback %s = %s, want %s", key, got, before)
	}
	if _, err := os.Stat("/etc/sysctl.d/99-zz-ctsec.conf"); !os.IsNotExist(err) {
		t.Error("rollback left the drop-in")
	}
}

// Live firewall: apply enables ufw (in the private network namespace) and
// rollback turns it off again, as it was.
func TestLiveFirewallApplyAndRollback(t *testing.T) {
	testenv.Tool(t, "ufw")
	if !hosttest.InPrivateNamespaces(t, "/etc/ufw", "/etc/default", "/etc/ssh") {
		return
	}
	ctx := context.Background()
	status := func() string {
		out, _ := exec.Command("ufw", "status").Output()
		return string(out)
	}
	if !strings.Contains(status(), "inactive") {
		t.Skip("ufw is already active in this copy")
	}
	pol, _ := host.BaselinePolicy()
	e := &host.Engine{Env: host.NewEnv("/"), StateDir: hosttest.StateDir(), Modules: []host.Module{mustModule("firewall")}, Clock: testenv.Clock(t)}
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
	if s := status(); !strings.Contains(s, "Status: active") || !strings.Contains(s, "5432/tcp") {
		t.Fatalf("after apply: %s", s)
	}
	if rules, _ := exec.Command("iptables", "-S", "ufw-user-input").Output(); !strings.Contains(string(rules), "--dport 22 -j ACCEPT") {
		t.Errorf("ufw-user-input: %s", rules)
	}
	if _, err := e.Rollback(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if s := status(); !strings.Contains(s, "inactive") {
		t.Errorf("after rollback: %s", s)
	}
}

// A second apply on a running ufw loads the new rules: ufw --force enable
// only says "Firewall already started" there, so activation reloads.
func TestLiveFirewallSecondApplyLoadsRules(t *testing.T) {
	testenv.Tool(t, "ufw")
	if !hosttest.InPrivateNamespaces(t, "/etc/ufw", "/etc/default") {
		return
	}
	ctx := context.Background()
	pol, _ := host.BaselinePolicy()
	e := &host.Engine{Env: host.NewEnv("/"), StateDir: hosttest.StateDir(), Modules: []host.Module{mustModule("firewall")}, Clock: testenv.Clock(t)}
	apply := func() {
		t.Helper()
		plan, err := e.Plan(ctx, pol)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Apply(ctx, plan, host.ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	apply()
	pol.Firewall.Allow = append(pol.Firewall.Allow, host.PortRule{Port: 8443, Proto: "tcp", Comment: "alt"})
	apply()
	if rules, _ := exec.Command("iptables", "-S", "ufw-user-input").Output(); !strings.Contains(string(rules), "--dport 8443 -j ACCEPT") {
		t.Errorf("the running ufw did not load the second apply's rule:\n%s", rules)
	}
	if rules, _ := exec.Command("iptables", "-S", "ctsec-docker-user").Output(); !strings.Contains(string(rules), "--ctorigdstport 8443 -j RETURN") {
		t.Errorf("DOCKER-USER did not get the second apply's port:\n%s", rules)
	}
}

// Live SSH: a real sshd runs in the private network namespace; apply
// reloads it (SIGHUP), a NEW login with the key still works while password
// login is gone, and rollback brings the password method back.
func TestLiveSSHApplyReloadAndRollback(t *testing.T) {
	for _, tool := range []string{"sshd", "ssh", "ssh-keygen", "ip"} {
		testenv.Tool(t, tool)
	}
	if !hosttest.InPrivateNamespaces(t, "/etc/ssh", "empty:/root", "empty:/run") {
		return
	}
	ctx := context.Background()
	run := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	run("ip", "link", "set", "lo", "up")
	os.Chmod("/root", 0o700) // a fresh tmpfs is 1777, which StrictModes rejects
	os.MkdirAll("/root/.ssh", 0o700)
	os.MkdirAll("/run/sshd", 0o755)
	run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", "/root/.ssh/id_ed25519")
	pub, _ := os.ReadFile("/root/.ssh/id_ed25519.pub")
	os.WriteFile("/root/.ssh/authorized_keys", pub, 0o600)
	run("/usr/sbin/sshd", "-o", "ListenAddress=127.0.0.1")
	t.Cleanup(func() {
		if b, err := os.ReadFile("/run/sshd.pid"); err == nil {
			exec.Command("kill", strings.TrimSpace(string(b))).Run()
		}
	})
	// methods asks the server which authentication methods it offers.
	methods := func() string {
		out, _ := exec.Command("ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "PubkeyAuthentication=no", "root@127.0.0.1", "true").CombinedOutput()
		return string(out)
	}
	login := func() error {
		return exec.Command("ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-i", "/root/.ssh/id_ed25519", "root@127.0.0.1", "true").Run()
	}
	waitFor := func(want string) string {
		var got string
		for i := 0; i < 50; i++ {
			if got = methods(); strings.Contains(got, want) {
				return got
			}
			exec.Command("sleep", "0.1").Run()
		}
		t.Fatalf("server never offered %q: %s", want, got)
		return got
	}
	waitFor("(publickey,password)")
	t.Log("sshd up")

	pol, _ := host.BaselinePolicy()
	pol.SSH.Settings["PermitRootLogin"] = "prohibit-password"
	env := host.NewEnv("/")
	env.Operator = "root"
	e := &host.Engine{Env: env, StateDir: hosttest.StateDir(), Modules: []host.Module{mustModule("ssh")}, Clock: testenv.Clock(t)}
	plan, err := e.Plan(ctx, pol)
	if err != nil {
		t.Fatal(err)
	}
	if r := plan.Refusals(); len(r) > 0 {
		t.Fatalf("refusals: %+v", r)
	}
	t.Log("planned")
	if _, err := e.Apply(ctx, plan, host.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Log("applied")
	waitFor("(publickey)")
	t.Log("reloaded")
	if err := login(); err != nil {
		t.Fatalf("a new login with the key fails after apply: %v", err)
	}
	if _, err := e.Rollback(ctx, ""); err != nil {
		t.Fatal(err)
	}
	waitFor("(publickey,password)")
}

// The firewall guard takes SSH ports from the listening sockets too: an
// sshd started by hand on 2222 (its configuration still says 22) must be
// kept open.
func TestLiveFirewallGuardSeesListeningSSHPort(t *testing.T) {
	for _, tool := range []string{"sshd", "ss", "ip", "ufw"} {
		testenv.Tool(t, tool)
	}
	if !hosttest.InPrivateNamespaces(t, "/etc/ufw", "/etc/default", "empty:/run") {
		return
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	os.MkdirAll("/run/sshd", 0o755)
	if out, err := exec.Command("/usr/sbin/sshd", "-p", "2222", "-o", "ListenAddress=127.0.0.1").CombinedOutput(); err != nil {
		t.Fatalf("starting sshd: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile("/run/sshd.pid"); err == nil {
			exec.Command("kill", strings.TrimSpace(string(b))).Run()
		}
	})
	pol, _ := host.BaselinePolicy()
	mp, err := mustModule("firewall").Plan(context.Background(), host.NewEnv("/"), pol)
	if err != nil {
		t.Fatal(err)
	}
	if len(mp.Refusals) != 1 || !strings.Contains(mp.Refusals[0].Reason, "port 2222") {
		t.Fatalf("refusals = %+v, want port 2222 from the listening socket", mp.Refusals)
	}
}
