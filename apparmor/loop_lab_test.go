//go:build lab

// The weekly AppArmor loop on a real kernel (issue 12 part 2), run in the
// lab guest by scripts/lab.sh test apparmor: gen → load (complain) → the
// container works → the kernel's own ALLOWED events, from audit.log and
// from the journal with auditd stopped → review → promote --add-rules →
// the same workload works enforced → an action outside what was learnt is
// DENIED → demote.
package apparmor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
)

type guestCmd struct {
	t *testing.T
}

func (g guestCmd) run(name string, args ...string) (string, int) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		g.t.Fatalf("%s %q: %v", name, args, err)
	}
	return string(out), code
}

func (g guestCmd) must(name string, args ...string) string {
	g.t.Helper()
	out, code := g.run(name, args...)
	if code != 0 {
		g.t.Fatalf("%s %q: exit %d\n%s", name, args, code, out)
	}
	return out
}

// workload is what the service does: copy a helper and run it (an exec the
// profile has no rule for, learnt in complain mode), write its state. The
// copies keep the name busybox: a multi-call busybox called by another
// name looks for an applet of that name.
const workload = `mkdir -p /tmp/job && cp /bin/busybox /tmp/job/busybox && /tmp/job/busybox echo learnt > /tmp/state && cat /tmp/state`

// outsider is something the service never did while it was learnt.
const outsider = `mkdir -p /run/intruder && cp /bin/busybox /run/intruder/busybox && /run/intruder/busybox echo outside`

func TestLabApparmorWeeklyLoop(t *testing.T) {
	testenv.Lab(t)
	ctsec := testenv.Tool(t, "ctsec")
	docker := testenv.Docker(t)
	image := testenv.Busybox(t)
	g := guestCmd{t}
	dir, state, name := labDirs(t, "loop")
	profile := "ctsec-" + name
	spec := filepath.Join(dir, "spec.yaml")
	// Only busybox itself may run: anything else execs outside the profile.
	os.WriteFile(spec, []byte("filesystem:\n  executables: [/bin/busybox, /usr/bin/busybox]\n"), 0o644)
	src := filepath.Join(dir, name+".apparmor")
	g.must(ctsec, "apparmor", "gen", name, "--spec", spec, "-o", src)
	t.Cleanup(func() {
		exec.Command("apparmor_parser", "-R", filepath.Join("/etc/apparmor.d/containers", profile)).Run()
		os.Remove(filepath.Join("/etc/apparmor.d/containers", profile))
	})

	// load --write really loads, in complain mode.
	g.must(ctsec, "apparmor", "load", "--write", "--state-dir", state, src)
	st := status(t, g, ctsec)
	if st.mode(profile) != "complain" {
		t.Fatalf("after load: %s not loaded in complain mode: %+v", profile, st.Loaded)
	}

	// The guest's clock is the kernel's: a small margin for audit's
	// timestamps being taken before the record is written.
	start := time.Now().Add(-5 * time.Second)
	runIn := func(script string) (string, int) {
		return g.run(docker, "run", "--rm", "--security-opt", "apparmor="+profile, image, "sh", "-c", script)
	}
	if out, code := runIn(workload); code != 0 || !strings.Contains(out, "learnt") {
		t.Fatalf("workload in complain mode: exit %d\n%s", code, out)
	}
	// status shows the container using the profile while it runs.
	cname := name + "-status"
	g.must(docker, "run", "-d", "--name", cname, "--security-opt", "apparmor="+profile, image, "sleep", "60")
	t.Cleanup(func() { exec.Command(docker, "rm", "-f", cname).Run() })
	if c := status(t, g, ctsec).container(cname); c.Profile != profile {
		t.Errorf("status: container %s runs under %q, want %s", cname, c.Profile, profile)
	}
	exec.Command(docker, "rm", "-f", cname).Run()

	// The kernel's own ALLOWED events, from audit.log…
	auditLog := "/var/log/audit/audit.log"
	waitFor(t, auditLog, `apparmor="ALLOWED"`, profile)
	since := "--since=" + start.UTC().Format(time.RFC3339)
	rv := review(t, g, ctsec, state, since, "--log", auditLog, "--profile", profile)
	if !rv.proposes(profile, `"/tmp/job/busybox"`) {
		t.Fatalf("review of audit.log proposes no exec rule for /tmp/job/busybox: %+v", rv)
	}
	// …and from the journal, with auditd stopped (the kernel then logs to
	// kmsg). kauditd prints through printk_ratelimit (10 a burst, then one
	// per 5 s): a container start under emulation makes more than ten
	// records, the exec's among them is dropped and the review rightly says
	// "blocked" for the lost events. The test is about the journal path,
	// not the rate limit: it is lifted for the run and put back after.
	if old, err := os.ReadFile("/proc/sys/kernel/printk_ratelimit"); err == nil {
		g.must("sysctl", "-w", "kernel.printk_ratelimit=0")
		t.Cleanup(func() { exec.Command("sysctl", "-w", "kernel.printk_ratelimit="+strings.TrimSpace(string(old))).Run() })
	}
	g.must("systemctl", "stop", "auditd")
	t.Cleanup(func() { exec.Command("systemctl", "start", "auditd").Run() })
	jstart := time.Now().Add(-5 * time.Second)
	if out, code := runIn(workload); code != 0 {
		t.Fatalf("workload with auditd stopped: exit %d\n%s", code, out)
	}
	// journald reads kmsg asynchronously: the review is asked again until
	// the exec shows, for up to 20 s.
	var rvj labReview
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(2 * time.Second) {
		rvj = review(t, g, ctsec, state, "--since="+jstart.UTC().Format(time.RFC3339), "--journal", "--profile", profile)
		if rvj.proposes(profile, `"/tmp/job/busybox"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("review of the journal proposes no exec rule for /tmp/job/busybox: %+v", rvj)
		}
	}
	g.must("systemctl", "start", "auditd")

	// promote --add-rules --write reloads in enforce mode.
	g.must(ctsec, "apparmor", "promote", profile, "--add-rules", "--write", "--state-dir", state, since,
		"--log", auditLog, "--min-complain", "0s")
	if m := status(t, g, ctsec).mode(profile); m != "enforce" {
		t.Fatalf("after promote: mode %q", m)
	}
	// The same workload still works; an action outside what was learnt is denied.
	if out, code := runIn(workload); code != 0 || !strings.Contains(out, "learnt") {
		t.Fatalf("workload enforced: exit %d\n%s", code, out)
	}
	if out, code := runIn(outsider); code == 0 || strings.Contains(out, "outside") {
		prof, _ := os.ReadFile(filepath.Join("/etc/apparmor.d/containers", profile))
		kernel, _ := os.ReadFile("/sys/kernel/security/apparmor/profiles")
		t.Fatalf("outsider enforced: exit %d\n%s\nprofile after promote:\n%s\nkernel:\n%s", code, out, prof, kernel)
	}
	waitFor(t, auditLog, `apparmor="DENIED"`, profile)
	rve := review(t, g, ctsec, state, since, "--log", auditLog, "--profile", profile)
	if v := rve.verdict(profile); v != "breaking" {
		t.Errorf("review after the denial: verdict %q, want breaking", v)
	}

	// demote brings it back to complain.
	g.must(ctsec, "apparmor", "demote", profile, "--write", "--state-dir", state)
	if m := status(t, g, ctsec).mode(profile); m != "complain" {
		t.Fatalf("after demote: mode %q", m)
	}
	if out, code := runIn(outsider); code != 0 {
		t.Errorf("outsider after demote: exit %d\n%s", code, out)
	}
}

// labDirs: a work directory, a state directory as ctsec wants it (0700) and
// a profile name unique to the test.
func labDirs(t *testing.T, prefix string) (dir, state, name string) {
	dir, state = t.TempDir(), t.TempDir()
	os.Chmod(state, 0o700)
	// t.TempDir's base is a counter ("001") and the guest's audit.log
	// outlives a run: a name repeated across runs would let one run's
	// events (the outsider, allowed after demote) be learnt by the next.
	name = fmt.Sprintf("%s%x", prefix, time.Now().UnixNano()&0xffffffffff)
	return dir, state, name
}

type labStatus struct {
	Loaded     []struct{ Name, Mode string }
	Containers []struct{ Container, Profile string }
}

func (s labStatus) mode(p string) string {
	for _, l := range s.Loaded {
		if l.Name == p {
			return l.Mode
		}
	}
	return ""
}

func (s labStatus) container(n string) struct{ Container, Profile string } {
	for _, c := range s.Containers {
		if c.Container == n {
			return c
		}
	}
	return struct{ Container, Profile string }{}
}

func status(t *testing.T, g guestCmd, ctsec string) labStatus {
	t.Helper()
	out, _ := g.run(ctsec, "apparmor", "status", "--format", "json", "--fail-on", "none")
	var rep struct{ Data labStatus }
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status json: %v\n%s", err, out)
	}
	return rep.Data
}

type labReview struct {
	Profiles []struct {
		Profile, Verdict, Reason string
		Proposed                 []struct{ Rule string }
	}
}

func (r labReview) proposes(profile, sub string) bool {
	for _, p := range r.Profiles {
		if p.Profile == profile {
			for _, x := range p.Proposed {
				if strings.Contains(x.Rule, sub) {
					return true
				}
			}
		}
	}
	return false
}

func (r labReview) verdict(profile string) string {
	for _, p := range r.Profiles {
		if p.Profile == profile {
			return p.Verdict
		}
	}
	return ""
}

func review(t *testing.T, g guestCmd, ctsec, state string, args ...string) labReview {
	t.Helper()
	out, _ := g.run(ctsec, append([]string{"apparmor", "review", "--format", "json", "--fail-on", "none",
		"--state-dir", state, "--min-complain", "0s"}, args...)...)
	var rep struct{ Data labReview }
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("review json: %v\n%s", err, out)
	}
	return rep.Data
}

// waitFor waits until the log holds a line with both strings: auditd
// writes asynchronously.
func waitFor(t *testing.T, log, a, b string) {
	t.Helper()
	for range 50 {
		data, _ := os.ReadFile(log)
		for _, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, a) && strings.Contains(l, b) {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no line with %s and %s in %s", a, b, log)
}

// A reload the kernel rejects: ctsec runs without CAP_MAC_ADMIN (setpriv
// drops it from the bounding set), so apparmor_parser compiles the changed
// profile but the kernel refuses to replace it. load and promote both exit
// 1, put the previous file back and leave the previously loaded policy in
// the kernel: the same profile, the same mode, the same policy hash.
func TestLabApparmorRejectedReload(t *testing.T) {
	testenv.Lab(t)
	ctsec := testenv.Tool(t, "ctsec")
	setpriv := testenv.Tool(t, "setpriv")
	g := guestCmd{t}
	dir, state, name := labDirs(t, "reject")
	profile := "ctsec-" + name
	installed := filepath.Join("/etc/apparmor.d/containers", profile)
	t.Cleanup(func() {
		exec.Command("apparmor_parser", "-R", installed).Run()
		os.Remove(installed)
	})
	gen := func(spec string) string {
		p := filepath.Join(dir, "spec.yaml")
		os.WriteFile(p, []byte(spec), 0o644)
		src := filepath.Join(dir, name+".apparmor")
		g.must(ctsec, "apparmor", "gen", name, "--spec", p, "-o", src, "--force")
		return src
	}
	g.must(ctsec, "apparmor", "load", "--write", "--state-dir", state,
		gen("filesystem:\n  executables: [/bin/busybox]\n"))
	before, _ := os.ReadFile(installed)
	hash := func() string {
		// The kernel's hash of the loaded policy.
		dirs, _ := filepath.Glob("/sys/kernel/security/apparmor/policy/profiles/*")
		for _, d := range dirs {
			if n, _ := os.ReadFile(filepath.Join(d, "name")); strings.TrimSpace(string(n)) == profile {
				h, _ := os.ReadFile(filepath.Join(d, "sha1"))
				if len(h) == 0 {
					h, _ = os.ReadFile(filepath.Join(d, "sha256"))
				}
				return strings.TrimSpace(string(h))
			}
		}
		return ""
	}
	loadedHash := hash()
	if loadedHash == "" {
		// Debian's kernels keep it (CONFIG_SECURITY_APPARMOR_HASH): without
		// it the check below would compare nothing.
		t.Fatalf("the kernel shows no policy hash for %s", profile)
	}
	if m := status(t, g, ctsec).mode(profile); m != "complain" {
		t.Fatalf("after load: mode %q", m)
	}
	unprivileged := func(args ...string) (string, int) {
		return g.run(setpriv, append([]string{"--bounding-set", "-mac_admin", "--inh-caps", "-mac_admin", "--", ctsec}, args...)...)
	}
	check := func(what string) {
		t.Helper()
		if after, _ := os.ReadFile(installed); string(after) != string(before) {
			t.Errorf("%s: the installed file was not restored:\n%s", what, after)
		}
		if m := status(t, g, ctsec).mode(profile); m != "complain" {
			t.Errorf("%s: the kernel holds mode %q, want the previous complain", what, m)
		}
		if h := hash(); h != loadedHash {
			t.Errorf("%s: the kernel's policy hash changed from %q to %q", what, loadedHash, h)
		}
	}

	// A changed profile, reloaded by load.
	src := gen("filesystem:\n  executables: [/bin/busybox, /usr/bin/busybox]\n")
	out, code := unprivileged("apparmor", "load", "--write", "--state-dir", state, src)
	if code != 1 || !strings.Contains(out, "restored") {
		t.Errorf("load rejected by the kernel: exit %d, want 1 and a word that it was restored\n%s", code, out)
	}
	check("load")

	// promote: complain → enforce, refused by the kernel.
	out, code = unprivileged("apparmor", "promote", profile, "--write", "--state-dir", state, "--min-complain", "0s")
	if code != 1 || !strings.Contains(out, "restored") {
		t.Errorf("promote rejected by the kernel: exit %d, want 1 and a word that it was restored\n%s", code, out)
	}
	check("promote")
	t.Logf("kernel policy hash %q held through both rejected reloads", loadedHash)
}
