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
	exec.Command("ip", "link", "set", "lo", "up").Run()
	d := startDockerd(t, os.Getenv("CTSEC_FW_DIR"))
	t.Cleanup(func() { d.run(nil, "rm", "-f", "ctsec-bypass-web") })
	d.docker(t, testenv.BusyboxTar(t), "import", "-", "ctsec-bypass:1")
	d.docker(t, nil, "run", "-d", "--name", "ctsec-bypass-web", "-p", "0.0.0.0:18080:80", "ctsec-bypass:1", "sleep", "300")

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

// privateDockerd is a dockerd of the test's own, for a test that runs in
// private network and mount namespaces: its docker0, DNAT and DOCKER-USER
// exist only there. DOCKER_HOST points at it for the rest of the test.
type privateDockerd struct {
	dir, sock string
	cmd       *exec.Cmd
}

func startDockerd(t *testing.T, dir string) *privateDockerd {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	d := &privateDockerd{dir: dir, sock: "unix://" + filepath.Join(dir, "docker.sock")}
	t.Setenv("DOCKER_HOST", d.sock)
	d.start(t)
	t.Cleanup(d.stop)
	return d
}

// start runs dockerd and waits until it answers.
func (d *privateDockerd) start(t *testing.T) {
	t.Helper()
	d.cmd = exec.Command("dockerd", "--host", d.sock, "--data-root", filepath.Join(d.dir, "data"),
		"--exec-root", filepath.Join(d.dir, "exec"), "--pidfile", filepath.Join(d.dir, "docker.pid"))
	logf, err := os.OpenFile(filepath.Join(d.dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); exec.Command("docker", "version").Run() != nil; {
		if time.Now().After(deadline) {
			t.Fatalf("private dockerd did not answer within 60s:\n%s", d.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop ends dockerd as systemctl stop docker would (SIGTERM, wait).
func (d *privateDockerd) stop() {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.cmd.Wait()
	d.cmd = nil
}

func (d *privateDockerd) log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "dockerd.log"))
	return string(b)
}

func (d *privateDockerd) run(stdin []byte, args ...string) (string, error) {
	c := exec.Command("docker", args...)
	c.Stdin = bytes.NewReader(stdin)
	out, err := c.CombinedOutput()
	return string(out), err
}

func (d *privateDockerd) docker(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	out, err := d.run(stdin, args...)
	if err != nil {
		t.Fatalf("docker %v: %v\n%s\ndockerd log:\n%s", args, err, out, d.log())
	}
	return out
}
