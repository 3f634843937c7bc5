//go:build labhost

// Host-side tests of the lab (scripts/lab.sh test testenv): the exec
// channel passes output and exit codes through, survives the guest's own
// firewall, and a reboot keeps the guest's disk.
package testenv_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
)

func TestLabExecPassesThrough(t *testing.T) {
	g := testenv.LabGuest(t)
	r := g.Exec(t, "sh", "-c", `printf '%s|' "$@"; echo; echo to-stderr >&2; exit 7`, "sh", "two words", `it's "quoted"`, "$HOME", "")
	if r.Code != 7 {
		t.Errorf("exit code %d, want 7 (stderr %q)", r.Code, r.Stderr)
	}
	if want := `two words|it's "quoted"|$HOME||` + "\n"; r.Stdout != want {
		t.Errorf("stdout %q, want %q: arguments must reach the guest unchanged", r.Stdout, want)
	}
	if r.Stderr != "to-stderr\n" {
		t.Errorf("stderr %q", r.Stderr)
	}
	if got := strings.TrimSpace(g.Run(t, "id", "-u")); got != "0" {
		t.Errorf("uid in the guest %q, want 0", got)
	}
}

// sshBanner reads the first line the guest's sshd sends on addr.
func sshBanner(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return bufio.NewReader(c).ReadString('\n')
}

// TestLabChannelBesideGuestFirewall: the exec channel does not go through
// the guest's network: with ufw enabled and denying everything incoming,
// the guest's own sshd is unreachable from outside while Exec still works.
func TestLabChannelBesideGuestFirewall(t *testing.T) {
	g := testenv.LabGuest(t)
	g.Run(t, "systemctl", "start", "ssh.service")
	if banner, err := sshBanner(g.SSHAddr); err != nil || !strings.HasPrefix(banner, "SSH-2.0-") {
		t.Fatalf("guest sshd through %s: %q, %v", g.SSHAddr, banner, err)
	}
	g.Run(t, "ufw", "default", "deny", "incoming")
	g.Run(t, "ufw", "--force", "enable")
	defer g.Run(t, "ufw", "--force", "disable")
	if banner, err := sshBanner(g.SSHAddr); err == nil {
		t.Errorf("guest sshd answered %q through a default-deny firewall", banner)
	}
	if out := g.Run(t, "ufw", "status"); !strings.Contains(out, "Status: active") {
		t.Errorf("ufw status: %s", out)
	}
}

// TestLabRebootKeepsDisk: what a test writes survives Reboot, and the guest
// really restarted (a new boot id) — e.g. a sysctl drop-in is applied again.
func TestLabRebootKeepsDisk(t *testing.T) {
	g := testenv.LabGuest(t)
	const dropIn = "/etc/sysctl.d/99-ctsec-lab-test.conf"
	g.Run(t, "sh", "-c", "echo 'vm.swappiness = 13' > "+dropIn)
	defer g.Exec(t, "rm", "-f", dropIn)
	before := g.Run(t, "cat", "/proc/sys/kernel/random/boot_id")
	if got := strings.TrimSpace(g.Run(t, "sysctl", "-n", "vm.swappiness")); got == "13" {
		t.Fatal("vm.swappiness is 13 before the reboot; the test proves nothing")
	}
	g.Reboot(t)
	if after := g.Run(t, "cat", "/proc/sys/kernel/random/boot_id"); after == before {
		t.Fatal("same boot id after Reboot")
	}
	if got := strings.TrimSpace(g.Run(t, "sysctl", "-n", "vm.swappiness")); got != "13" {
		t.Errorf("vm.swappiness after reboot = %s, want 13 from %s", got, dropIn)
	}
}
