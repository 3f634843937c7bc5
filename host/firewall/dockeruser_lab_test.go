//go:build lab

package firewall

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/host/hosttest"
	"github.com/ctsec/ctsec/internal/testenv"
)

// The Docker bypass closed on a real Docker host (the lab guest: systemd,
// Debian's dockerd and ufw): one container publishes 0.0.0.0:5432, one
// 0.0.0.0:8080; a client in another network namespace reaches both. After
// `ctsec host apply firewall` with the baseline (5432 allowed, 8080 not)
// 5432 answers and 8080 does not, and a container still reaches the client;
// so after `ufw reload` and `systemctl restart docker`. After `ctsec host
// rollback` both answer again, as before. (A reboot is the host-side test
// TestLabRunbookFromOutside.)
func TestLabDockerFilter(t *testing.T) {
	testenv.Lab(t)
	docker := testenv.Docker(t)
	image := testenv.Busybox(t)
	state := t.TempDir()
	sh := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	client := hosttest.NewNetns(t, "ctsec-cl", "10.98.0")
	serve := func(name, publish, port string) {
		exec.Command(docker, "rm", "-f", name).Run()
		sh(docker, "run", "-d", "--restart", "always", "--name", name, "-p", publish, image,
			"sh", "-c", "mkdir -p /www && echo "+name+" > /www/index.html && exec httpd -f -p "+port+" -h /www")
		t.Cleanup(func() { exec.Command(docker, "rm", "-f", name).Run() })
	}
	serve("ctsec-pg", "0.0.0.0:5432:5432", "5432")
	serve("ctsec-web", "0.0.0.0:8080:80", "80")
	egressSrv := client.Command("busybox", "httpd", "-f", "-p", "9000", "-h", "/etc/ctsec-lab")
	if err := egressSrv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { egressSrv.Process.Kill(); egressSrv.Wait() })

	reach := func(port string) bool {
		body, err := client.Get(client.Host, port)
		return err == nil && strings.HasPrefix(body, "ctsec-")
	}
	waitReach := func(port string) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !reach(port); time.Sleep(time.Second) {
			if time.Now().After(deadline) {
				out, _ := exec.Command("iptables-save").CombinedOutput()
				t.Fatalf("port %s never answered the client:\n%s", port, out)
			}
		}
	}
	egress := func() bool {
		out, err := exec.Command(docker, "exec", "ctsec-web", "timeout", "5", "wget", "-q", "-O-", "http://"+client.Addr+":9000/dist").CombinedOutput()
		return err == nil && strings.TrimSpace(string(out)) != ""
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
	if !egress() {
		t.Fatal("no egress before any change: the test cannot judge it")
	}
	out := sh("ctsec", "host", "apply", "firewall", "--state-dir", state)
	t.Cleanup(func() {
		exec.Command("ctsec", "host", "rollback", "--state-dir", state).Run()
		exec.Command("ufw", "disable").Run()
	})
	if !strings.Contains(out, "ctsec-web 0.0.0.0:8080/tcp") {
		t.Errorf("the plan does not name the port it closes:\n%s", out)
	}
	filtered("after apply")
	audit, _ := exec.Command("ctsec", "host", "audit", "firewall", "--format", "json").Output()
	if !strings.Contains(string(audit), "is closed from outside by ctsec's DOCKER-USER filter") {
		t.Errorf("the audit does not say 8080 is closed:\n%s", audit)
	}
	sh("ufw", "reload")
	filtered("after ufw reload")
	sh("systemctl", "restart", "docker")
	filtered("after systemctl restart docker")

	sh("ctsec", "host", "rollback", "--state-dir", state)
	waitReach("8080")
	waitReach("5432")
	if out, err := exec.Command("iptables", "-S", dockerChain).CombinedOutput(); err == nil {
		t.Errorf("chain left after rollback:\n%s", out)
	}
	if s := sh("ufw", "status"); !strings.Contains(s, "inactive") {
		t.Errorf("ufw after rollback: %s", s)
	}
}
