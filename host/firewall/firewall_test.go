package firewall

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/hosttest"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

// ufwRoot copies this machine's ufw files (Debian 12's ufw 0.36.2) and
// sshd_config into a temporary root. ufw runs only inside `unshare
// --mount --net` on copies, so the host's rules are never touched; the
// test checks that too.
func ufwRoot(t *testing.T) *host.Env {
	t.Helper()
	testenv.Root(t)
	for _, tool := range []string{"ufw", "unshare", "iptables", "sshd"} {
		testenv.Tool(t, tool)
	}
	env := hosttest.Root(t, "/etc/ufw", "/etc/default/ufw", "/etc/ssh/sshd_config", "/usr/share/ufw/after.init")
	hosttest.Write(t, env, "/etc/ssh/sshd_config.d/.keep", "")
	return env
}

// hostRules are the host's own ufw rules and chains: what an apply leaking
// out of its namespace would change. Docker's chains are left out: the
// shared engine adds and removes them whenever another test (another
// package, run in parallel) publishes a port.
func hostRules(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("iptables-save").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "ufw") && !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func TestApplyBaselineInPrivateNamespace(t *testing.T) {
	ctx := context.Background()
	env := ufwRoot(t)
	hostBefore := hostRules(t)
	hostUser, _ := os.ReadFile("/etc/ufw/user.rules")
	pol, _ := host.BaselinePolicy()
	e := &host.Engine{Env: env, StateDir: t.TempDir(), Modules: []host.Module{New()}, Clock: testenv.Clock(t)}
	plan, err := e.Plan(ctx, pol)
	if err != nil {
		t.Fatal(err)
	}
	if r := plan.Refusals(); len(r) != 0 {
		t.Fatalf("refusals: %+v", r)
	}
	diff := plan.Diff()
	for _, want := range []string{"+++ /etc/ufw/user.rules", "+### tuple ### allow tcp 5432 0.0.0.0/0 any 0.0.0.0/0 in comment=706f737467726573", "-ENABLED=no", "+ENABLED=yes"} {
		if !strings.Contains(diff, want) {
			t.Errorf("plan diff lacks %q:\n%s", want, diff)
		}
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
	if plan2, _ := e.Plan(ctx, pol); plan2.Changed() {
		t.Errorf("second plan changes:\n%s", plan2.Diff())
	}
	if hostRules(t) != hostBefore {
		t.Error("the host's own iptables rules changed")
	}
	if now, _ := os.ReadFile("/etc/ufw/user.rules"); string(now) != string(hostUser) {
		t.Error("the host's /etc/ufw/user.rules changed")
	}
}

func TestGuardSSHPortNotAllowed(t *testing.T) {
	env := ufwRoot(t)
	main := hosttest.Read(t, env, "/etc/ssh/sshd_config")
	hosttest.Write(t, env, "/etc/ssh/sshd_config", "Port 2222\n"+main)
	pol, _ := host.BaselinePolicy()
	mp, err := New().Plan(context.Background(), env, pol)
	if err != nil {
		t.Fatal(err)
	}
	if len(mp.Refusals) != 1 || mp.Refusals[0].Guard != "firewall-ssh-port" || !strings.Contains(mp.Refusals[0].Reason, "port 2222") {
		t.Fatalf("refusals = %+v", mp.Refusals)
	}
	pol.Firewall.Allow = append(pol.Firewall.Allow, host.PortRule{Port: 2222, Proto: "tcp", Comment: "ssh"})
	if mp, _ := New().Plan(context.Background(), env, pol); len(mp.Refusals) != 0 {
		t.Errorf("still refused: %+v", mp.Refusals)
	}
}

// "ListenAddress 0.0.0.0:2222" makes sshd listen on 2222 whatever Port
// says; the guard checked 22. It reads the ports from sshd -T's
// listenaddress lines now, and the port of the operator's own connection.
func TestGuardSSHPortFromListenAddress(t *testing.T) {
	env := ufwRoot(t)
	main := hosttest.Read(t, env, "/etc/ssh/sshd_config")
	hosttest.Write(t, env, "/etc/ssh/sshd_config", "ListenAddress 0.0.0.0:2222\n"+main)
	pol, _ := host.BaselinePolicy()
	mp, err := New().Plan(context.Background(), env, pol)
	if err != nil {
		t.Fatal(err)
	}
	if len(mp.Refusals) != 1 || mp.Refusals[0].Guard != "firewall-ssh-port" || !strings.Contains(mp.Refusals[0].Reason, "port 2222") {
		t.Fatalf("refusals = %+v", mp.Refusals)
	}
	pol.Firewall.Allow = append(pol.Firewall.Allow, host.PortRule{Port: 2222, Proto: "tcp", Comment: "ssh"})
	if mp, _ := New().Plan(context.Background(), env, pol); len(mp.Refusals) != 0 {
		t.Errorf("still refused: %+v", mp.Refusals)
	}
	// The operator came in on 2200 (a port forward to sshd): that port must
	// stay open from their address too; a rule for another network is not
	// enough, one for theirs is.
	env.SSHConnection = "198.51.100.7 50000 192.0.2.1 2200"
	pol.Firewall.Allow = append(pol.Firewall.Allow, host.PortRule{Port: 2200, Proto: "tcp", Comment: "fwd", From: []string{"10.0.0.0/8"}})
	mp, _ = New().Plan(context.Background(), env, pol)
	if len(mp.Refusals) != 1 || !strings.Contains(mp.Refusals[0].Reason, "port 2200") || !strings.Contains(mp.Refusals[0].Reason, "198.51.100.7") {
		t.Errorf("refusals for the operator's own port = %+v", mp.Refusals)
	}
	pol.Firewall.Allow[len(pol.Firewall.Allow)-1].From = []string{"198.51.100.0/24"}
	if mp, _ := New().Plan(context.Background(), env, pol); len(mp.Refusals) != 0 {
		t.Errorf("the operator's network allowed, still refused: %+v", mp.Refusals)
	}
	env.SSHConnection = "garbage"
	if mp, _ := New().Plan(context.Background(), env, pol); len(mp.Refusals) != 1 || mp.Refusals[0].Guard != "ssh-connection" {
		t.Errorf("SSH_CONNECTION=garbage: refusals = %+v", mp.Refusals)
	}
}

// A rules file damaged after writing (fault hook) fails ufw's own load in
// the private namespace; every file comes back byte for byte.
func TestVerifyFailureRestores(t *testing.T) {
	ctx := context.Background()
	env := ufwRoot(t)
	before := hosttest.Snapshot(t, env)
	pol, _ := host.BaselinePolicy()
	e := &host.Engine{Env: env, StateDir: t.TempDir(), Modules: []host.Module{New()}, Clock: testenv.Clock(t)}
	e.Hook = func(point string) {
		if point == "wrote /etc/ufw/user.rules" {
			os.WriteFile(env.Path("/etc/ufw/user.rules"), []byte("*filter\n-A nosuchchain -j ACCEPT\nCOMMIT\n"), 0o640)
		}
	}
	plan, err := e.Plan(ctx, pol)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Apply(ctx, plan, host.ApplyOptions{})
	var rolled *host.RolledBackError
	if !errors.As(err, &rolled) || !strings.Contains(err.Error(), "not in the loaded ufw-user-input chain") {
		t.Fatalf("apply = %v", err)
	}
	if !reflect.DeepEqual(before, hosttest.Snapshot(t, env)) {
		t.Error("files not restored byte for byte")
	}
}

func TestParseTuples(t *testing.T) {
	rs, err := ParseTuples([]byte("### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in comment=737368\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT\n### tuple ### deny any 9000:9100 0.0.0.0/0 any 10.0.0.0/8 in_eth0\n"))
	if err != nil || len(rs) != 2 {
		t.Fatal(rs, err)
	}
	if rs[0].Comment != "ssh" || !rs[0].Allows(22, "tcp", "") || rs[0].Allows(23, "tcp", "") || rs[1].Allows(9050, "tcp", "") || rs[1].Dir != "in_eth0" || !portIn(rs[1].DPort, 9050) {
		t.Errorf("rules = %+v", rs)
	}
	if _, err := ParseTuples([]byte("### tuple ### allow tcp\n")); err == nil {
		t.Error("short tuple accepted")
	}
}

func TestParseDockerPorts(t *testing.T) {
	ps := ParseDockerPorts("db", "0.0.0.0:5432->5432/tcp, :::5432->5432/tcp, 127.0.0.1:8080->80/tcp, 53/udp, 0.0.0.0:7000-7001->7000-7001/udp")
	var got []string
	for _, p := range ps {
		got = append(got, p.HostIP+" "+p.Proto+" "+strconv.Itoa(p.HostPort)+" "+map[bool]string{true: "public", false: "local"}[p.Public()])
	}
	want := []string{"0.0.0.0 tcp 5432 public", ":: tcp 5432 public", "127.0.0.1 tcp 8080 local", "0.0.0.0 udp 7000 public", "0.0.0.0 udp 7001 public"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func FuzzParseTuples(f *testing.F) {
	b, _ := os.ReadFile("/etc/ufw/user.rules")
	f.Add(string(b))
	f.Add("### tuple ### allow tcp 22,80:90 0.0.0.0/0 any 0.0.0.0/0 in comment=zz\n")
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := ParseTuples([]byte(s))
		if err != nil {
			return
		}
		for _, r := range rs {
			r.Allows(22, "tcp", "")
		}
	})
}

func FuzzParseDockerPorts(f *testing.F) {
	f.Add("0.0.0.0:5432->5432/tcp, :::5432->5432/tcp, 53/udp, 0.0.0.0:1-65535->1-65535/tcp")
	f.Fuzz(func(t *testing.T, s string) {
		if ps := ParseDockerPorts("c", s); len(ps) > 65536*8 {
			t.Fatal("unbounded")
		}
		ParseKV([]byte(s))
	})
}

func TestDockerBypass(t *testing.T) {
	pol, _ := host.BaselinePolicy()
	pubs := append(ParseDockerPorts("web", "0.0.0.0:443->8443/tcp"), ParseDockerPorts("admin", "0.0.0.0:8080->80/tcp, 127.0.0.1:9000->9000/tcp")...)
	fs := dockerFindings(pubs, "-j RETURN", false, false, pol)
	var high, info []string
	for _, f := range fs {
		if f.Rule != "host/firewall-docker-bypass" {
			continue
		}
		if f.Severity == report.High {
			high = append(high, f.Target)
		} else {
			info = append(info, f.Target)
		}
	}
	// 8080 is not in the policy and DOCKER-USER only returns: exposed.
	// 443 is allowed by the policy anyway; 127.0.0.1:9000 is local only.
	if !reflect.DeepEqual(high, []string{"admin"}) || !reflect.DeepEqual(info, []string{"web"}) {
		t.Errorf("high %v info %v", high, info)
	}
	fs = dockerFindings(pubs, "-j ufw-user-forward; -j DROP", true, false, pol)
	for _, f := range fs {
		if f.Severity > report.Info {
			t.Errorf("with a filtering DOCKER-USER: %+v", f)
		}
	}
}
