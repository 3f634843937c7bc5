package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/testenv"
)

// benchPrefix runs the checks on the real engine for the containers named
// prefix* and returns the results.
func benchPrefix(t *testing.T, prefix string) []Result {
	t.Helper()
	c, err := engine.Connect("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snap, err := Collect(ctx, c, Options{Root: "/"})
	if err != nil {
		t.Fatal(err)
	}
	results, _ := Run(snap, Selection{Checks: []string{"5.7", "5.8", "5.9", "5.14"}, IncludeContainers: []string{prefix + "*"}})
	return results
}

func itemDetail(results []Result, id, target string) string {
	for _, r := range results {
		for _, it := range r.Items {
			if r.ID == id && it.Target == target {
				return it.Detail
			}
		}
	}
	return ""
}

// TestSshdStartedWithExec (issue 18.4): an sshd started with docker exec is
// a child of the shim, not of the container's init, and its argv[0] need
// not say sshd; the kernel's name for it does. 5.7 reads the container's
// cgroup and /proc/PID/comm, so it is found; the process tree under
// State.Pid and argv[0] missed it.
func TestSshdStartedWithExec(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.Root(t)
	prefix := fmt.Sprintf("ctsec-bench-sshd-%d-", os.Getpid())
	createContainers(t, docker, prefix, map[string][]string{"exec": {}, "plain": {}}, "exec", "plain")
	// comm "sshd" (the name it was executed by), argv "busybox sleep 3600".
	script := "ln -s /bin/busybox /tmp/sshd && exec -a busybox /tmp/sshd sleep 3600"
	if out, err := exec.Command(docker, "exec", "-d", prefix+"exec", "sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("docker exec: %v: %s", err, out)
	}
	var results []Result
	for range 50 { // docker exec -d returns before the shell has exec'd
		results = benchPrefix(t, prefix)
		if flags(results, "5.7", prefix+"exec") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !flags(results, "5.7", prefix+"exec") {
		t.Errorf("5.7 missed the sshd started with docker exec")
	} else if d := itemDetail(results, "5.7", prefix+"exec"); !strings.Contains(d, "busybox sleep 3600") {
		t.Errorf("5.7 detail %q does not show the command line", d)
	}
	if flags(results, "5.7", prefix+"plain") {
		t.Errorf("5.7 flagged a container without sshd")
	}
}

// TestPortsListedOnce (issue 18.5): a port published without a host IP was
// listed three times (the request, and the engine's 0.0.0.0 and ::
// bindings), and a random host port as "*:->80/tcp". Each binding is listed
// once, with the port the engine chose; a container that has not started
// says its port is still random.
func TestPortsListedOnce(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.Root(t)
	prefix := fmt.Sprintf("ctsec-bench-ports-%d-", os.Getpid())
	createContainers(t, docker, prefix, map[string][]string{
		"running": {"-p", "80", "-p", "127.0.0.1::81"},
		"created": {"-p", "82"},
	}, "running")
	results := benchPrefix(t, prefix)
	// The engine may give the IPv4 and IPv6 bindings different host ports
	// (seen under a busy engine): then they are two bindings, each listed
	// once; with one port they are one "*" binding.
	const all = `(\*:\d+->80/tcp|0\.0\.0\.0:\d+->80/tcp, \[::\]:\d+->80/tcp)`
	re := regexp.MustCompile(`^publishes ` + all + `, 127\.0\.0\.1:\d+->81/tcp$`)
	if d := itemDetail(results, "5.9", prefix+"running"); !re.MatchString(d) {
		t.Errorf("5.9 running: %q, want each port once with its host port", d)
	}
	if d := itemDetail(results, "5.14", prefix+"running"); !regexp.MustCompile(`^published on all interfaces: ` + all + `$`).MatchString(d) {
		t.Errorf("5.14 running: %q", d)
	}
	if d := itemDetail(results, "5.9", prefix+"created"); d != "publishes *:random->82/tcp" {
		t.Errorf("5.9 created: %q", d)
	}
}
