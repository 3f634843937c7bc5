package bench

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/testenv"
)

// TestSwarmChecksPrivateDockerd makes the private dockerd a one-node swarm
// (offline, on loopback) with one plain and one encrypted overlay network.
func TestSwarmChecksPrivateDockerd(t *testing.T) {
	docker := testenv.Tool(t, "docker")
	before := interfaces(t)
	socket, _ := privateDockerd(t, `{}`, 0o644)
	t.Cleanup(func() {
		// Cleanups run last-in first-out: this one after the daemon stopped.
		// Only names a dockerd creates count: other tests on a shared
		// machine may add and remove interfaces of their own meanwhile.
		// A veth of the shared engine's container that another test is
		// removing right now has lost its bridge but not yet gone: what is
		// left after a moment is what leaked.
		made := dockerMade(interfaces(t), before)
		for i := 0; made != "" && i < 20; i++ {
			time.Sleep(250 * time.Millisecond)
			made = dockerMade(interfaces(t), before)
		}
		if made != "" {
			t.Errorf("the host got docker interfaces: %s (before: %s)", made, before)
		}
	})
	run := func(args ...string) {
		t.Helper()
		full := append([]string{"--host", "unix://" + socket}, args...)
		if out, err := exec.Command(docker, full...).CombinedOutput(); err != nil {
			t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:0")
	run("network", "create", "--driver", "overlay", "plain-overlay")
	run("network", "create", "--driver", "overlay", "--opt", "encrypted", "secret-overlay")

	collect := func() map[string]Result {
		c, err := engine.Connect("unix://" + socket)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		snap, err := Collect(ctx, c, Options{})
		if err != nil {
			t.Fatal(err)
		}
		results, _ := Run(snap, Selection{Checks: []string{"5.1", "7"}})
		got := map[string]Result{}
		for _, r := range results {
			got[r.ID] = r
		}
		return got
	}
	got := collect()
	for id, st := range map[string]Status{"5.1": Fail, "7.1": Manual, "7.3": Fail, "7.5": Fail, "7.9": Manual} {
		if got[id].Status != st {
			t.Errorf("%s = %s (%s %v), want %s", id, got[id].Status, got[id].Detail, got[id].Items, st)
		}
	}
	if items := got["7.3"].Items; len(items) != 1 || items[0].Target != "network plain-overlay" {
		t.Errorf("7.3 items = %v, want only plain-overlay", items)
	}
	if !strings.Contains(got["7.1"].Detail, "1 managers of 1 nodes") {
		t.Errorf("7.1 detail = %q", got["7.1"].Detail)
	}

	run("swarm", "update", "--autolock=true")
	if st := collect()["7.5"].Status; st != Pass {
		t.Errorf("after --autolock: 7.5 = %s", st)
	}
}

func interfaces(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	return strings.Join(names, ",")
}

// dockerMade lists the interfaces in after, not in before, that a dockerd
// or swarm would create (bridges, the gateway bridge, veths, vxlans).
func dockerMade(after, before string) string {
	had := map[string]bool{}
	for _, n := range strings.Split(before, ",") {
		had[n] = true
	}
	var made []string
	for _, n := range strings.Split(after, ",") {
		if had[n] {
			continue
		}
		// A container of the shared engine, run by another test meanwhile,
		// hangs its veth on a bridge that was there before: not ours.
		if master, err := os.Readlink("/sys/class/net/" + n + "/master"); err == nil && had[filepath.Base(master)] {
			continue
		}
		for _, p := range []string{"docker", "br-", "veth", "vx-", "ov-"} {
			if strings.HasPrefix(n, p) {
				made = append(made, n)
				break
			}
		}
	}
	return strings.Join(made, ",")
}
