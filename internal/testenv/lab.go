package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The lab tier (docs/lab.md): tests that need a real kernel with AppArmor or
// systemd as PID 1 run in a Debian guest that scripts/lab.sh boots.
//
//   - Guest tests: TestLab* functions in *_lab_test.go files (build tag lab).
//     scripts/lab.sh test compiles them on the host and runs them in the
//     guest as root, from /src/<package dir>; they call Lab first and then use
//     the guest as their own machine (Docker, Busybox, Tool... work as usual).
//   - Host tests: TestLab* functions in *_labhost_test.go files (build tag
//     labhost), run on the host while the guest is up, for what a process in
//     the guest cannot do to itself: reboot it, reach it from outside. They
//     call LabGuest.

// labMarker is written into the guest image by scripts/lab/build.sh.
const labMarker = "/etc/ctsec-lab/dist"

// LabInfo describes the lab guest a test runs in.
type LabInfo struct {
	// Dist is the guest's Debian release: "bookworm" (Debian 12) or
	// "trixie" (Debian 13).
	Dist string
}

// Lab makes the test unavailable unless it runs as root in the lab guest
// (skipped elsewhere, a failure under CTSEC_REQUIRE_INTEGRATION=1), and says
// which guest it is.
func Lab(t testing.TB) LabInfo {
	t.Helper()
	data, err := os.ReadFile(labMarker)
	if err != nil {
		Unavailable(t, "needs the lab guest (a VM with AppArmor and systemd as init): run it with scripts/lab.sh test")
	}
	Root(t)
	return LabInfo{Dist: strings.TrimSpace(string(data))}
}

// Guest is the host's handle on this checkout's running lab guest.
type Guest struct {
	// Dist is the guest's Debian release.
	Dist string
	// SSHAddr is the host address (127.0.0.1:PORT) that reaches the guest's
	// own sshd on port 22, through the guest's network and firewall: a
	// client from outside, as an operator would connect.
	SSHAddr string
	script  string
}

// LabExecTimeout bounds one Guest.Exec.
const LabExecTimeout = 10 * time.Minute

// LabGuest returns the handle on the guest scripts/lab.sh test (or
// scripts/lab.sh up) started for this checkout: the distribution comes from
// CTSEC_LAB_DIST, set by scripts/lab.sh test, else LAB_DIST, else bookworm.
// Without a guest the test is unavailable.
func LabGuest(t testing.TB) *Guest {
	t.Helper()
	if _, err := os.Stat(labMarker); err == nil {
		t.Skip("a host-side lab test: it drives the guest from outside (build tag labhost, run by scripts/lab.sh test)")
	}
	Root(t)
	dist := os.Getenv("CTSEC_LAB_DIST")
	if dist == "" {
		dist = os.Getenv("LAB_DIST")
	}
	if dist == "" {
		dist = "bookworm"
	}
	g := &Guest{Dist: dist, script: filepath.Join(ModuleRoot(t), "scripts", "lab.sh")}
	out, err := exec.Command("bash", g.script, "--dist", dist, "env").Output()
	if err != nil {
		Unavailable(t, "no %s lab guest is up for this checkout (scripts/lab.sh test, or scripts/lab.sh --dist %s up)", dist, dist)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && k == "LAB_NET0_SSH" {
			g.SSHAddr = v
		}
	}
	return g
}

// ExecResult is what a command in the guest did.
type ExecResult struct {
	Stdout, Stderr string
	// Code is the command's exit code; 255 when the guest or the channel
	// failed (as with ssh).
	Code int
}

// Exec runs a command in the guest as root, with no input, in the guest's
// own namespaces (as a login would), bounded by LabExecTimeout.
func (g *Guest) Exec(t testing.TB, args ...string) ExecResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), LabExecTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{g.script, "--dist", g.Dist, "exec", "--"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := ExecResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.Code = exitErr.ExitCode()
	default:
		t.Fatalf("lab exec %q: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("lab exec %q: not done after %v", args, LabExecTimeout)
	}
	return res
}

// Run is Exec of a command that must succeed; it returns its stdout.
func (g *Guest) Run(t testing.TB, args ...string) string {
	t.Helper()
	r := g.Exec(t, args...)
	if r.Code != 0 {
		t.Fatalf("lab exec %q: exit %d\nstdout: %s\nstderr: %s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// Reboot reboots the guest and returns once systemd reports it running (or
// degraded) again; the disk, with everything the test wrote, is kept.
func (g *Guest) Reboot(t testing.TB) {
	t.Helper()
	out, err := exec.Command("bash", g.script, "--dist", g.Dist, "reboot").CombinedOutput()
	if err != nil {
		t.Fatalf("lab reboot: %v\n%s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}
