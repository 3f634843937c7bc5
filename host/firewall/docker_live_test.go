package firewall

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

// The Docker bypass audit end to end: a private dockerd runs inside
// `unshare --net --mount` (its iptables rules, docker0 and DNAT land in that
// network namespace only), a container publishes 0.0.0.0:18080, and the
// audit must report it as high; once DOCKER-USER drops, as info. The outer
// run re-executes this test inside the namespaces and checks the machine's
// own rules are unchanged.
func TestDockerBypassLive(t *testing.T) {
	if os.Getenv("CTSEC_FW_NAMESPACED") == "1" {
		dockerBypassInner(t)
		return
	}
	testenv.Root(t)
	for _, tool := range []string{"unshare", "dockerd", "docker", "iptables", "busybox"} {
		testenv.Tool(t, tool)
	}
	before := hostRules(t)
	cmd := exec.Command("unshare", "--net", "--mount", "--propagation", "private",
		os.Args[0], "-test.run", "^TestDockerBypassLive$", "-test.v", "-test.timeout", "180s")
	cmd.Env = append(os.Environ(), "CTSEC_FW_NAMESPACED=1", "CTSEC_FW_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestDockerBypassLive") {
		t.Fatalf("inner run in private namespaces failed: %v\n%s", err, out)
	}
	if hostRules(t) != before {
		t.Error("the machine's iptables rules changed")
	}
}

func dockerBypassInner(t *testing.T) {
	ctx := context.Background()
	dir := os.Getenv("CTSEC_FW_DIR")
	sock := "unix://" + filepath.Join(dir, "docker.sock")
	exec.Command("ip", "link", "set", "lo", "up").Run()
	dockerd := exec.Command("dockerd", "--host", sock, "--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"), "--pidfile", filepath.Join(dir, "docker.pid"))
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	dockerd.Stdout, dockerd.Stderr = logf, logf
	if err := dockerd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("docker", "-H", sock, "rm", "-f", "ctsec-bypass-web").Run()
		dockerd.Process.Signal(syscall.SIGTERM)
		dockerd.Wait()
	})
	t.Setenv("DOCKER_HOST", sock)
	docker := func(stdin []byte, args ...string) string {
		t.Helper()
		c := exec.Command("docker", args...)
		c.Stdin = bytes.NewReader(stdin)
		out, err := c.CombinedOutput()
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
			t.Fatalf("docker %v: %v\n%s\ndockerd log:\n%s", args, err, out, log)
		}
		return string(out)
	}
	for deadline := time.Now().Add(60 * time.Second); exec.Command("docker", "version").Run() != nil; {
		if time.Now().After(deadline) {
			t.Fatal("private dockerd did not answer within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	docker(testenv.BusyboxTar(t), "import", "-", "ctsec-bypass:1")
	docker(nil, "run", "-d", "--name", "ctsec-bypass-web", "-p", "0.0.0.0:18080:80", "ctsec-bypass:1", "sleep", "300")

	pol, _ := host.BaselinePolicy()
	// One finding per binding: 0.0.0.0, and [::] where Docker publishes on
	// IPv6 too; all must carry the same severity.
	bypass := func(want report.Severity) {
		t.Helper()
		fs, err := New().Audit(ctx, host.NewEnv("/"), pol)
		if err != nil {
			t.Fatal(err)
		}
		var v4 bool
		for _, f := range fs {
			if f.Rule != "host/firewall-docker-bypass" {
				continue
			}
			v4 = v4 || strings.Contains(f.Message, "publishes 0.0.0.0:18080/tcp (→ 80)")
			if f.Target != "ctsec-bypass-web" || f.Severity != want {
				t.Errorf("want %s for ctsec-bypass-web: %+v", want, f)
			}
		}
		if !v4 {
			t.Fatalf("no finding for 0.0.0.0:18080: %+v", fs)
		}
	}
	bypass(report.High)
	if out, err := exec.Command("iptables", "-w", "-I", "DOCKER-USER", "-p", "tcp", "--dport", "80", "-j", "DROP").CombinedOutput(); err != nil {
		t.Fatalf("iptables: %v %s", err, out)
	}
	bypass(report.Info)
}
