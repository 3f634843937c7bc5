//go:build lab

package host_test

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/host/hosttest"
	"github.com/ctsec/ctsec/internal/testenv"
)

// The live path on a real host, the lab guest (systemd as PID 1, Debian's
// sshd, fail2ban, unattended-upgrades), through the ctsec binary built from
// the checkout. Each test rolls back what it applied.

func labRun(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func labPolicy(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(p, []byte("version: 1\n"+text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// labOperatorKey lets root in with a key of the test's own (the exec
// channel's key lives elsewhere, so the lockout guards judge this one),
// restoring root's authorized_keys afterwards.
func labOperatorKey(t *testing.T) string {
	t.Helper()
	key := filepath.Join(t.TempDir(), "id_ed25519")
	labRun(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
	pub, _ := os.ReadFile(key + ".pub")
	old, err := os.ReadFile("/root/.ssh/authorized_keys")
	had := err == nil
	os.MkdirAll("/root/.ssh", 0o700)
	if err := os.WriteFile("/root/.ssh/authorized_keys", append(old, pub...), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if had {
			os.WriteFile("/root/.ssh/authorized_keys", old, 0o600)
		} else {
			os.Remove("/root/.ssh/authorized_keys")
		}
	})
	return key
}

// offered is what the guest's sshd offers a client that has no key:
// "publickey,password" or "publickey".
func offered(t *testing.T, addr string) string {
	out, _ := exec.Command("ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "PubkeyAuthentication=no", "-o", "ConnectTimeout=10", "nobody@"+addr, "true").CombinedOutput()
	s := string(out)
	if i := strings.Index(s, "Permission denied ("); i >= 0 {
		s = s[i+len("Permission denied ("):]
		if j := strings.IndexByte(s, ')'); j >= 0 {
			return s[:j]
		}
	}
	return "?" + strings.TrimSpace(string(out))
}

func sysctlValue(t *testing.T, key string) string {
	return strings.TrimSpace(labRun(t, nil, "sysctl", "-n", key))
}

type historyEntry struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	ArmedBy string `json:"armed_by"`
	Reason  string `json:"reason"`
}

func labHistory(t *testing.T, state string) []historyEntry {
	t.Helper()
	out := labRun(t, nil, "ctsec", "host", "history", "--state-dir", state, "--format", "json")
	var doc struct {
		Data struct {
			Changes []historyEntry `json:"changes"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("history: %v\n%s", err, out)
	}
	hs := doc.Data.Changes
	return hs
}

// --confirm-within arms a real transient systemd timer; nobody confirms;
// when it fires, systemd runs ctsec's rollback: the files come back, the
// sysctl value is the old one again and sshd, reloaded through systemctl,
// offers passwords again.
func TestLabConfirmTimerRollsBack(t *testing.T) {
	testenv.Lab(t)
	state := t.TempDir()
	labOperatorKey(t)
	pol := labPolicy(t, "ssh: {settings: {PermitRootLogin: prohibit-password}}\nsysctl: {settings: {net.ipv4.conf.all.rp_filter: \"2\", kernel.kptr_restrict: \"2\"}}\n")
	before := sysctlValue(t, "kernel.kptr_restrict")
	if before == "2" {
		labRun(t, nil, "sysctl", "-w", "kernel.kptr_restrict=1")
		before = "1"
		t.Cleanup(func() { exec.Command("sysctl", "-w", "kernel.kptr_restrict=2").Run() })
	}
	if got := offered(t, "127.0.0.1"); got != "publickey,password" {
		t.Fatalf("before apply sshd offers %q: the test cannot see a change", got)
	}
	sshPID := strings.TrimSpace(labRun(t, nil, "systemctl", "show", "ssh", "-p", "MainPID", "--value"))
	// The operator is root over SSH from 10.0.2.2 (the exec channel's own
	// connection as sshd describes it).
	opEnv := []string{"SSH_CONNECTION=10.0.2.2 40000 10.0.2.15 22"}
	start := time.Now()
	labRun(t, opEnv, "ctsec", "host", "apply", "ssh", "sysctl", "--policy", pol, "--state-dir", state, "--confirm-within", "1m")
	t.Cleanup(func() { exec.Command("ctsec", "host", "rollback", "--state-dir", state).Run() })
	hs := labHistory(t, state)
	if len(hs) != 1 || hs[0].Status != "pending" || !strings.HasPrefix(hs[0].ArmedBy, "systemd:ctsec-rollback-") {
		t.Fatalf("history after apply: %+v", hs)
	}
	unit := strings.TrimPrefix(hs[0].ArmedBy, "systemd:")
	if timers := labRun(t, nil, "systemctl", "list-timers", "--all", "--no-pager"); !strings.Contains(timers, unit+".timer") {
		t.Fatalf("no timer %s in systemctl list-timers:\n%s", unit, timers)
	}
	if got := sysctlValue(t, "kernel.kptr_restrict"); got != "2" {
		t.Errorf("after apply kernel.kptr_restrict = %s", got)
	}
	if got := offered(t, "127.0.0.1"); got != "publickey" {
		t.Errorf("after apply sshd offers %q, want publickey only", got)
	}
	if pid := strings.TrimSpace(labRun(t, nil, "systemctl", "show", "ssh", "-p", "MainPID", "--value")); pid != sshPID {
		t.Errorf("sshd was restarted (pid %s → %s), not reloaded", sshPID, pid)
	}
	if j := labRun(t, nil, "journalctl", "-u", "ssh", "--since", "-5min", "--no-pager"); !strings.Contains(j, "Reloaded") && !strings.Contains(j, "Reloading") {
		t.Errorf("the journal shows no reload of ssh.service:\n%s", j)
	}

	// Nobody confirms: systemd's timer rolls back at the deadline.
	for deadline := start.Add(4 * time.Minute); ; time.Sleep(2 * time.Second) {
		if hs = labHistory(t, state); hs[0].Status == "rolled-back" {
			break
		}
		if time.Now().After(deadline) {
			j, _ := exec.Command("journalctl", "-u", unit, "--no-pager").CombinedOutput()
			t.Fatalf("not rolled back 4 minutes after apply: %+v\n%s", hs, j)
		}
	}
	if took := time.Since(start); took < time.Minute {
		t.Errorf("rolled back after %v, before the minute the operator was given", took)
	}
	if !strings.Contains(hs[0].Reason, "not confirmed") {
		t.Errorf("reason %q", hs[0].Reason)
	}
	if j := labRun(t, nil, "journalctl", "-u", unit+".service", "--no-pager"); !strings.Contains(j, unit) {
		t.Errorf("systemd has no record of running %s:\n%s", unit, j)
	}
	for _, f := range []string{"/etc/ssh/sshd_config.d/00-ctsec.conf", "/etc/sysctl.d/99-zz-ctsec.conf"} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s is still there after the timed rollback", f)
		}
	}
	if got := sysctlValue(t, "kernel.kptr_restrict"); got != before {
		t.Errorf("after the timed rollback kernel.kptr_restrict = %s, want %s", got, before)
	}
	for deadline := time.Now().Add(20 * time.Second); offered(t, "127.0.0.1") != "publickey,password"; time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			t.Errorf("after the timed rollback sshd offers %q", offered(t, "127.0.0.1"))
			break
		}
	}
	if timers := labRun(t, nil, "systemctl", "list-timers", "--all", "--no-pager"); strings.Contains(timers, unit) {
		t.Errorf("the timer is still listed:\n%s", timers)
	}
}

// fail2ban, the runbook's own test: three failed SSH logins within ten
// minutes from a client in another network namespace ban it for an hour
// (its next connection is refused); the operator's whitelisted address,
// failing five times, is never banned; fail2ban reloads through systemctl;
// fail2ban-client status and ctsec host audit agree.
func TestLabFail2banBans(t *testing.T) {
	testenv.Lab(t)
	state := t.TempDir()
	attacker := hosttest.NewNetns(t, "ctsec-att", "10.98.1")
	operator := hosttest.NewNetns(t, "ctsec-op", "10.98.2")
	pol := labPolicy(t, "operator: {trusted_ips: ["+operator.Addr+"]}\n")
	f2bPID := strings.TrimSpace(labRun(t, nil, "systemctl", "show", "fail2ban", "-p", "MainPID", "--value"))
	opEnv := []string{"SSH_CONNECTION=" + operator.Addr + " 40000 " + operator.Host + " 22"}
	out := labRun(t, opEnv, "ctsec", "host", "apply", "fail2ban", "--policy", pol, "--state-dir", state)
	t.Cleanup(func() {
		exec.Command("fail2ban-client", "unban", "--all").Run()
		exec.Command("ctsec", "host", "rollback", "--state-dir", state).Run()
	})
	if !strings.Contains(out, "systemctl reload fail2ban") {
		t.Errorf("apply did not reload through systemctl:\n%s", out)
	}
	if pid := strings.TrimSpace(labRun(t, nil, "systemctl", "show", "fail2ban", "-p", "MainPID", "--value")); pid != f2bPID {
		t.Errorf("fail2ban was restarted (pid %s → %s), not reloaded", f2bPID, pid)
	}
	for key, want := range map[string]string{"maxretry": "3", "findtime": "600", "bantime": "3600"} {
		if got := strings.TrimSpace(labRun(t, nil, "fail2ban-client", "get", "sshd", key)); got != want {
			t.Errorf("running jail %s = %s, want %s", key, got, want)
		}
	}

	login := func(n *hosttest.Netns) error {
		return n.Command("ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "ConnectTimeout=10", "ctsec-nosuch@"+n.Host, "true").Run()
	}
	status := func() string { return labRun(t, nil, "fail2ban-client", "status", "sshd") }
	bannedList := func() string {
		s := status()
		if i := strings.Index(s, "Banned IP list:"); i >= 0 {
			return strings.TrimSpace(s[i+len("Banned IP list:"):])
		}
		return ""
	}
	for range 5 {
		login(operator)
	}
	for i := 1; i <= 3; i++ {
		login(attacker)
		if i < 3 {
			time.Sleep(3 * time.Second) // the journal reaches fail2ban asynchronously
			if strings.Contains(bannedList(), attacker.Addr) {
				t.Fatalf("banned after %d failed logins, want 3", i)
			}
		}
	}
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(bannedList(), attacker.Addr); time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			j, _ := exec.Command("journalctl", "-u", "ssh", "-u", "fail2ban", "--since", "-5min", "--no-pager").CombinedOutput()
			t.Fatalf("not banned after 3 failed logins:\n%s\n%s", status(), j)
		}
	}
	if strings.Contains(bannedList(), operator.Addr) {
		t.Errorf("the whitelisted operator address is banned: %s", bannedList())
	}
	// Refused: fail2ban's REJECT answers with port unreachable.
	conn := attacker.Command("timeout", "10", "bash", "-c", "echo > /dev/tcp/"+attacker.Host+"/22")
	if out, err := conn.CombinedOutput(); err == nil || !strings.Contains(string(out), "refused") {
		t.Errorf("the banned client's next connection: %v %s", err, out)
	}
	if err := operator.Command("timeout", "10", "bash", "-c", "echo > /dev/tcp/"+operator.Host+"/22").Run(); err != nil {
		t.Errorf("the operator cannot connect: %v", err)
	}
	if out := labRun(t, nil, "fail2ban-client", "get", "sshd", "banip", "--with-time"); !strings.Contains(out, attacker.Addr) || !strings.Contains(out, "+ 3600 =") {
		t.Errorf("the ban is not for an hour: %s", out)
	}
	// ctsec host audit says what fail2ban-client status says.
	auditOut, _ := exec.Command("ctsec", "host", "audit", "fail2ban", "--policy", pol, "--format", "json").Output()
	var doc struct {
		Findings []struct {
			Rule, Severity, Message string
		} `json:"findings"`
	}
	if err := json.Unmarshal(auditOut, &doc); err != nil {
		t.Fatalf("audit: %v\n%s", err, auditOut)
	}
	found := false
	for _, f := range doc.Findings {
		if f.Rule == "host/fail2ban-banned" {
			found = true
			if !strings.Contains(f.Message, "bans 1 address(es) now: "+attacker.Addr) || f.Severity != "info" {
				t.Errorf("audit: %s %s (status: %s)", f.Severity, f.Message, bannedList())
			}
		}
		if f.Severity == "high" || f.Severity == "medium" {
			t.Errorf("audit after apply: %s %s %s", f.Severity, f.Rule, f.Message)
		}
	}
	if !found {
		t.Errorf("audit has no host/fail2ban-banned finding:\n%s", auditOut)
	}
}

// unattended-upgrades' timers, after `ctsec host apply updates`: systemd
// schedules apt-daily-upgrade at 02:00 sharp (apt-daily at 01:30), and with
// the guest's clock set to ten seconds before its next elapse, whatever the
// hour the test runs, the timer fires in the minute from 02:00 (systemd's
// AccuracySec, 1 min by default: a loaded guest fired at 02:00:01); apt says
// no automatic reboot, and the guest does not reboot.
func TestLabUpdatesTimers(t *testing.T) {
	testenv.Lab(t)
	state := t.TempDir()
	// A run in progress (a Persistent= catch-up after boot or a clock jump,
	// or 02:00 passing during the apply) leaves the timer without a next
	// elapse until it ends; without network the runs fail anyway.
	stopRuns := func() {
		exec.Command("systemctl", "stop", "apt-daily-upgrade.service", "apt-daily.service").Run()
	}
	stopRuns()
	labRun(t, nil, "ctsec", "host", "apply", "updates", "--state-dir", state)
	t.Cleanup(func() { exec.Command("ctsec", "host", "rollback", "--state-dir", state).Run() })
	stopRuns()
	// The timer's own microseconds over D-Bus (systemctl show prints local
	// text, and "" while there is none; D-Bus says 0 or UINT64_MAX).
	stamp := func(prop string) (time.Time, bool) {
		v := strings.TrimSpace(labRun(t, nil, "busctl", "get-property", "org.freedesktop.systemd1",
			"/org/freedesktop/systemd1/unit/apt_2ddaily_2dupgrade_2etimer", "org.freedesktop.systemd1.Timer", prop))
		usec, err := strconv.ParseUint(strings.TrimPrefix(v, "t "), 10, 64)
		ok := err == nil && usec > 0 && usec != math.MaxUint64
		return time.UnixMicro(int64(usec)).UTC(), ok
	}
	var due time.Time
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		var ok bool
		if due, ok = stamp("NextElapseUSecRealtime"); ok {
			break
		}
		if time.Now().After(deadline) {
			st, _ := exec.Command("systemctl", "status", "--no-pager", "apt-daily-upgrade.timer", "apt-daily-upgrade.service").CombinedOutput()
			t.Fatalf("apt-daily-upgrade.timer has no next elapse:\n%s", st)
		}
	}
	timers := labRun(t, nil, "systemctl", "list-timers", "--all", "--no-pager", "apt-daily-upgrade.timer", "apt-daily.timer")
	for _, want := range []string{" 02:00:00 ", " 01:30:00 "} {
		if !strings.Contains(timers, want) {
			t.Errorf("systemctl list-timers has nothing at%s:\n%s", want, timers)
		}
	}
	if cal := labRun(t, nil, "systemctl", "show", "apt-daily-upgrade.timer", "-p", "TimersCalendar", "-p", "RandomizedDelayUSec"); !strings.Contains(cal, "OnCalendar=*-*-* 02:00:00 ;") || !strings.Contains(cal, "RandomizedDelayUSec=0") || strings.Contains(cal, "06:00") {
		t.Errorf("apt-daily-upgrade.timer: %s", cal)
	}
	if due.Format("15:04:05") != "02:00:00" {
		t.Fatalf("apt-daily-upgrade.timer next elapses at %s, want 02:00:00", due)
	}
	if dump := labRun(t, nil, "apt-config", "dump", "Unattended-Upgrade::Automatic-Reboot"); !strings.Contains(dump, `Unattended-Upgrade::Automatic-Reboot "false";`) {
		t.Errorf("apt-config: %s", dump)
	}
	boot := strings.TrimSpace(labRun(t, nil, "cat", "/proc/sys/kernel/random/boot_id"))

	// The clock moves to just before the next elapse and back afterwards
	// (the guest has no network time to fight it); the upgrade run itself
	// has no network and is stopped again. Not to "tomorrow 01:59:50": run
	// before 02:00, that jump passes today's 02:00 and the timer fires at
	// once, at 01:59:50.
	// The jump would fire every other timer too (dailyaidecheck reads the
	// whole guest for ten minutes under emulation, beside the next tests):
	// they are stopped for the jump and started again after the clock is back.
	var others []string
	for _, u := range strings.Fields(labRun(t, nil, "systemctl", "list-units", "--type=timer", "--state=active", "--plain", "--no-legend", "--no-pager")) {
		if strings.HasSuffix(u, ".timer") && u != "apt-daily-upgrade.timer" {
			others = append(others, u)
		}
	}
	if len(others) > 0 {
		labRun(t, nil, "systemctl", append([]string{"stop"}, others...)...)
		t.Cleanup(func() { exec.Command("systemctl", append([]string{"start"}, others...)...).Run() })
	}
	jump := due.Add(-10 * time.Second)
	start := time.Now()
	labRun(t, nil, "date", "-u", "-s", "@"+strconv.FormatInt(jump.Unix(), 10))
	t.Cleanup(func() {
		stopRuns()
		// Without network the triggered runs fail; they are the test's, not
		// the host's: the system is not left degraded for the tests after.
		exec.Command("systemctl", "reset-failed", "apt-daily-upgrade.service", "apt-daily.service").Run()
		// time.Since counts on the monotonic clock, which date(1) does not move.
		exec.Command("date", "-u", "-s", "@"+strconv.FormatInt(start.Unix()+int64(time.Since(start).Seconds()), 10)).Run()
	})
	// Only a trigger after the jump counts (a clock moved back may fire
	// the Persistent= timer on its own before it).
	var last time.Time
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
		if l, ok := stamp("LastTriggerUSec"); ok && !l.Before(jump) || time.Now().After(deadline) {
			last = l
			break
		}
	}
	if last.Before(due) || !last.Before(due.Add(time.Minute)) {
		t.Errorf("apt-daily-upgrade.timer last fired %s, want in the minute from %s", last, due)
	}
	if now := strings.TrimSpace(labRun(t, nil, "cat", "/proc/sys/kernel/random/boot_id")); now != boot {
		t.Error("the guest rebooted")
	}
}
