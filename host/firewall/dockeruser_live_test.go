package firewall

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/hosttest"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

// The Docker bypass closed, end to end, in private namespaces: a private
// dockerd publishes 0.0.0.0:5432 (allowed by the baseline policy) and
// 0.0.0.0:8080 (not), and a client in another network namespace, joined by
// a veth pair, connects to both. ufw on its own filters neither. After
// `host apply firewall` (the real ufw, root /, on tmpfs copies of /etc/ufw
// and /etc/default) 5432 answers, 8080 does not, and a container still
// reaches the client (egress); so after `ufw reload`, after dockerd
// restarts, and after a boot (the kernel's rules flushed, then ufw-init
// start as ufw.service runs it, then dockerd). Rollback opens 8080 again.
// The machine's own rules are checked unchanged.
func TestDockerFilterLive(t *testing.T) {
	for _, tool := range []string{"dockerd", "docker", "iptables", "ufw", "busybox", "ip", "nsenter", "nft", "unshare"} {
		testenv.Tool(t, tool)
	}
	var before string
	if !hosttest.Namespaced() {
		testenv.Root(t)
		before = hostRules(t)
	}
	if !hosttest.InPrivateNamespaces(t, "/etc/ufw", "/etc/default") {
		if hostRules(t) != before {
			t.Error("the machine's iptables rules changed")
		}
		return
	}
	ctx := context.Background()
	dir := t.TempDir()
	sh := func(script string) string {
		t.Helper()
		out, err := exec.Command("sh", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}

	// The client: a network namespace of its own (held by a sleeping
	// process) at 10.99.0.2, the host side of the veth at 10.99.0.1.
	client := exec.Command("unshare", "--net", "sleep", "600")
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Process.Kill(); client.Wait() })
	pid := strconv.Itoa(client.Process.Pid)
	in := "nsenter -t " + pid + " -n "
	self, _ := os.Readlink("/proc/self/ns/net")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if ns, err := os.Readlink("/proc/" + pid + "/ns/net"); err == nil && ns != self {
			break // unshare has made the namespace (and execs sleep in it)
		}
		if time.Now().After(deadline) {
			t.Fatal("the client's network namespace did not appear")
		}
	}
	sh("ip link set lo up && ip link add ctsec-h type veth peer name ctsec-c && ip link set ctsec-c netns " + pid +
		" && ip addr add 10.99.0.1/24 dev ctsec-h && ip link set ctsec-h up && " +
		in + "ip link set lo up && " + in + "ip addr add 10.99.0.2/24 dev ctsec-c && " + in + "ip link set ctsec-c up")
	os.MkdirAll(filepath.Join(dir, "www"), 0o755)
	os.WriteFile(filepath.Join(dir, "www/index.html"), []byte("client\n"), 0o644)
	web := exec.Command("nsenter", "-t", pid, "-n", "busybox", "httpd", "-f", "-p", "9000", "-h", filepath.Join(dir, "www"))
	if err := web.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { web.Process.Kill(); web.Wait() })

	d := startDockerd(t, filepath.Join(dir, "docker"))
	t.Cleanup(func() { d.run(nil, "rm", "-f", "ctsec-pg", "ctsec-web") })
	d.docker(t, testenv.BusyboxTar(t), "import", "-", "ctsec-fw:1")
	serve := func(name, publish, port string) {
		d.docker(t, nil, "run", "-d", "--restart", "always", "--name", name, "-p", publish, "ctsec-fw:1",
			"sh", "-c", "mkdir -p /www && echo "+name+" > /www/index.html && exec httpd -f -p "+port+" -h /www")
	}
	serve("ctsec-pg", "0.0.0.0:5432:5432", "5432")
	serve("ctsec-web", "0.0.0.0:8080:80", "80")

	// reach asks from the client's namespace; a dropped SYN times out.
	// (busybox 1.35's wget -T crashes, so timeout(1) bounds it.)
	reach := func(port string) bool {
		out, err := exec.Command("sh", "-c", in+"timeout 2 busybox wget -q -O- http://10.99.0.1:"+port+"/").CombinedOutput()
		return err == nil && strings.HasPrefix(string(out), "ctsec-")
	}
	waitReach := func(port string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !reach(port); {
			if time.Now().After(deadline) {
				t.Fatalf("port %s never answered the client:\n%s\n%s", port, sh("iptables-save"), d.log())
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	egress := func() bool {
		out, err := d.run(nil, "exec", "ctsec-web", "timeout", "3", "wget", "-q", "-O-", "http://10.99.0.2:9000/")
		return err == nil && out == "client\n"
	}
	filtered := func(when string) {
		t.Helper()
		waitReach("5432")
		if reach("8080") {
			t.Errorf("%s: 8080 (not in firewall.allow) is reachable from the client", when)
		}
		if !egress() {
			t.Errorf("%s: a container cannot reach the client (egress)", when)
		}
	}

	waitReach("5432")
	waitReach("8080")
	// The bypass: ufw enabled with default deny and no rule for either
	// port filters neither.
	sh("ufw --force enable")
	if !reach("8080") || !reach("5432") {
		t.Fatal("ufw on its own filtered a published port: the test no longer shows the bypass")
	}
	sh("ufw disable")

	pol, _ := host.BaselinePolicy()
	e := &host.Engine{Env: host.NewEnv("/"), StateDir: hosttest.StateDir(), Modules: []host.Module{New()}, Clock: testenv.Clock(t)}
	plan, err := e.Plan(ctx, pol)
	if err != nil {
		t.Fatal(err)
	}
	if r := plan.Refusals(); len(r) > 0 {
		t.Fatalf("refusals: %+v", r)
	}
	mp := plan.Modules[0]
	if cmds := strings.Join(mp.Commands, "\n"); !strings.Contains(cmds, "iptables -A ctsec-docker-user -p tcp -m conntrack --ctstate DNAT --ctorigdstport 5432 -j RETURN") {
		t.Errorf("plan does not show the rules:\n%s", cmds)
	}
	if notes := strings.Join(mp.Notes, "\n"); !strings.Contains(notes, "ctsec-web 0.0.0.0:8080/tcp") || strings.Contains(notes, "ctsec-pg") {
		t.Errorf("plan notes do not name the port it closes:\n%s", notes)
	}
	if _, err := e.Apply(ctx, plan, host.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	filtered("after apply")
	fs, err := New().Audit(ctx, host.NewEnv("/"), pol)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	for _, f := range fs {
		if strings.HasPrefix(f.Rule, "host/firewall-docker") && f.Severity > report.Info {
			t.Errorf("audit after apply: %s %s %s", f.Severity, f.Rule, f.Message)
		}
		closed = closed || f.Rule == "host/firewall-docker-bypass" && f.Target == "ctsec-web" && strings.Contains(f.Message, "closed from outside")
	}
	if !closed {
		t.Errorf("audit does not say 8080 is closed: %+v", fs)
	}
	if plan2, _ := e.Plan(ctx, pol); plan2.Changed() {
		t.Errorf("second plan changes:\n%s", plan2.Diff())
	}

	sh("ufw reload")
	filtered("after ufw reload")

	d.stop()
	d.start(t)
	filtered("after dockerd restarts")

	// A boot: nothing in the kernel, ufw.service first (DefaultDependencies
	// =no, Before=network-pre.target), then docker.service.
	d.stop()
	sh("nft flush ruleset && /lib/ufw/ufw-init start quiet")
	d.start(t)
	filtered("after a boot")

	if _, err := e.Rollback(ctx, ""); err != nil {
		t.Fatal(err)
	}
	waitReach("8080")
	if out, err := exec.Command("iptables", "-w", "-S", dockerChain).CombinedOutput(); err == nil {
		t.Errorf("chain left after rollback:\n%s", out)
	}
	if st, err := os.Stat(afterInit); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("after.init after rollback: %v %v", st.Mode(), err)
	}
	if !egress() {
		t.Error("after rollback: no egress")
	}
}
