//go:build labhost

package host_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// The runbook from outside, as an operator does it: from this machine,
// over SSH into the lab guest's own sshd through its network and firewall
// (the guest sees the operator at 10.0.2.2, QEMU's gateway).
//
//   - `ctsec host apply --confirm-within 10m` (every module but integrity,
//     which host/integrity's lab test applies and rolls back: its
//     `rkhunter --propupd` alone takes minutes under emulation) in one login;
//     `ctsec host confirm` in that same login is refused; a NEW login with
//     the operator's key gets in and confirms; the armed systemd timer is
//     gone.
//   - After apply a key login succeeds and a password login fails (before,
//     the password login worked). The other account, op, gets a key too:
//     without one the ssh-keys guard refuses the apply, since op logs in
//     with a password today and could not afterwards.
//   - After a reboot of the guest: the sysctls hold, ufw is active, the
//     Docker published port 8080 (not in firewall.allow) stays closed to a
//     client in another network namespace while 5432 answers, the jail runs
//     with the policy's values, upgrades are still timed for 02:00, and the
//     operator still gets in with the key and not with a password.
//   - `ctsec host rollback` puts everything back: 8080 answers, passwords
//     work again.
func TestLabRunbookFromOutside(t *testing.T) {
	g := testenv.LabGuest(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, _ := os.ReadFile(key + ".pub")
	askpass := filepath.Join(dir, "askpass")
	os.WriteFile(askpass, []byte("#!/bin/sh\necho ctsec-test-pw\n"), 0o700)
	host, port, err := net.SplitHostPort(g.SSHAddr)
	if err != nil {
		t.Fatal(err)
	}
	const state, pol = "/var/lib/ctsec-runbook-test", "/root/ctsec-runbook.yaml"

	g.Run(t, "sh", "-c", `set -e
mkdir -p /root/.ssh; chmod 700 /root/.ssh
cp -a /root/.ssh/authorized_keys /root/.ssh/authorized_keys.ctsec-test 2>/dev/null || true
printf '%s' "$1" >> /root/.ssh/authorized_keys; chmod 600 /root/.ssh/authorized_keys
id op >/dev/null 2>&1 || useradd -m -s /bin/sh op
echo op:ctsec-test-pw | chpasswd
install -d -o op -g op -m 700 /home/op/.ssh; printf '%s' "$1" > /home/op/.ssh/authorized_keys; chown op:op /home/op/.ssh/authorized_keys
rm -rf "$2"
printf 'version: 1\noperator: {trusted_ips: [10.0.2.2]}\nssh: {settings: {PermitRootLogin: prohibit-password}}\nintegrity: ~\n' > "$3"`, "sh", string(pub), state, pol)
	t.Cleanup(func() {
		g.Exec(t, "sh", "-c", `ctsec host rollback --state-dir "$1" >/dev/null 2>&1
docker rm -f ctsec-pg ctsec-web >/dev/null 2>&1; ip netns del ctsec-cl 2>/dev/null
if [ -e /root/.ssh/authorized_keys.ctsec-test ]; then mv /root/.ssh/authorized_keys.ctsec-test /root/.ssh/authorized_keys; else rm -f /root/.ssh/authorized_keys; fi
userdel -r op 2>/dev/null; rm -f "$2"; ufw --force disable >/dev/null 2>&1; true`, "sh", state, pol)
	})

	ssh := func(args ...string) (string, error) {
		cmd := exec.Command("ssh", append([]string{"-i", key, "-p", port, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR", "root@" + host}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	passwordLogin := func() error {
		cmd := exec.Command("ssh", "-p", port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive",
			"-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=20", "op@"+host, "true")
		cmd.Env = append(os.Environ(), "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0")
		return cmd.Run()
	}
	if err := passwordLogin(); err != nil {
		t.Fatalf("before apply a password login fails already (%v): the test cannot see the change", err)
	}

	// Two published ports, and a client for them in a namespace of its own.
	g.Run(t, "sh", "-c", `set -e
for s in "ctsec-pg 5432:5432 5432" "ctsec-web 8080:80 80"; do set -- $s
  docker rm -f "$1" >/dev/null 2>&1 || true
  docker run -d --restart always --name "$1" -p "0.0.0.0:$2" ctsec-test/busybox:latest sh -c "mkdir -p /www && echo $1 > /www/index.html && exec httpd -f -p $3 -h /www" >/dev/null
done`)
	client := func() string {
		return `ip netns del ctsec-cl 2>/dev/null; ip netns add ctsec-cl && ip link add ctsec-cl-h type veth peer name ctsec-cl-c netns ctsec-cl &&
ip addr add 10.98.0.1/24 dev ctsec-cl-h && ip link set ctsec-cl-h up && ip -n ctsec-cl addr add 10.98.0.2/24 dev ctsec-cl-c &&
ip -n ctsec-cl link set ctsec-cl-c up && ip -n ctsec-cl link set lo up; `
	}
	// reach asks from the client's namespace, up to tries times a second
	// apart (containers come back a while after a boot).
	reach := func(port string, tries int) bool {
		r := g.Exec(t, "sh", "-c", `for i in $(seq $2); do ip netns exec ctsec-cl timeout 3 busybox wget -q -O- http://10.98.0.1:$1/ && exit 0; sleep 1; done; exit 1`, "sh", port, strconv.Itoa(tries))
		return r.Code == 0
	}
	g.Run(t, "sh", "-c", client())
	if !reach("5432", 30) || !reach("8080", 30) {
		t.Fatal("before apply the published ports do not answer the client")
	}

	// Apply in one login; confirming from that same login is refused.
	out, err := ssh("ctsec host apply --policy " + pol + " --state-dir " + state + " --confirm-within 10m && ctsec host confirm --state-dir " + state)
	if err == nil || !strings.Contains(out, "applied ") || !strings.Contains(out, "NEW SSH login") {
		t.Fatalf("apply, then confirm from the same login: %v\n%s", err, out)
	}
	// A new login gets in with the key and confirms.
	if out, err := ssh("ctsec host confirm --state-dir " + state); err != nil {
		t.Fatalf("confirm from a new login: %v\n%s", err, out)
	}
	if timers := g.Run(t, "systemctl", "list-timers", "--all", "--no-pager"); strings.Contains(timers, "ctsec-rollback-") {
		t.Errorf("the rollback timer is still armed after confirm:\n%s", timers)
	}
	if h := g.Run(t, "ctsec", "host", "history", "--state-dir", state); !strings.Contains(h, "confirmed") {
		t.Errorf("history after confirm:\n%s", h)
	}
	if err := passwordLogin(); err == nil {
		t.Error("after apply a password login still succeeds")
	}

	g.Reboot(t)
	g.Run(t, "sh", "-c", client())
	for key, want := range map[string]string{"net.ipv4.conf.all.rp_filter": "2", "kernel.kptr_restrict": "2", "net.ipv4.conf.default.accept_redirects": "0", "net.ipv4.ip_forward": "1"} {
		if got := strings.TrimSpace(g.Run(t, "sysctl", "-n", key)); got != want {
			t.Errorf("after reboot %s = %s, want %s", key, got, want)
		}
	}
	if s := g.Run(t, "ufw", "status"); !strings.Contains(s, "Status: active") {
		t.Errorf("after reboot: %s", s)
	}
	if !reach("5432", 60) {
		t.Error("after reboot 5432 (allowed) does not answer")
	}
	if reach("8080", 1) {
		t.Error("after reboot 8080 (not in firewall.allow) answers the client")
	}
	if got := strings.TrimSpace(g.Run(t, "fail2ban-client", "get", "sshd", "maxretry")); got != "3" {
		t.Errorf("after reboot the jail's maxretry is %s", got)
	}
	if s := g.Run(t, "systemctl", "show", "apt-daily-upgrade.timer", "-p", "TimersCalendar"); !strings.Contains(s, "02:00:00") {
		t.Errorf("after reboot: %s", s)
	}
	if out, err := ssh("true"); err != nil {
		t.Errorf("after reboot the operator's key login fails: %v %s", err, out)
	}
	// The audit watches under /run (Docker's sockets) load once Docker has
	// started, and loading the rules at boot failed no unit (on Debian 13
	// audit-rules.service stopped at the first /run path).
	if s := g.Run(t, "sh", "-c", "for i in $(seq 30); do auditctl -l | grep -q -- '-w /run/' && break; sleep 1; done; auditctl -l"); !strings.Contains(s, "-w /run/") {
		t.Errorf("after reboot no audit watch under /run is loaded:\n%s", s)
	}
	if r := g.Exec(t, "systemctl", "--failed", "--no-legend", "--plain"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("after reboot units failed:\n%s", r.Stdout)
	}
	if err := passwordLogin(); err == nil {
		t.Error("after reboot a password login succeeds")
	}

	if out, err := ssh("ctsec host rollback --state-dir " + state); err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	if !reach("5432", 30) || !reach("8080", 30) {
		t.Error("after rollback the published ports do not both answer")
	}
	if err := passwordLogin(); err != nil {
		t.Errorf("after rollback a password login fails: %v", err)
	}
}
