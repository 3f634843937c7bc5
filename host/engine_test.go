package host_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/hosttest"
	"github.com/ctsec/ctsec/host/modules"
	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/testenv"
)

// TestMain lets this test binary stand in for ctsec in child processes:
// the armed rollback ("host rollback … --if-unconfirmed ID") and an apply
// killed by a fault hook.
func TestMain(m *testing.M) {
	switch os.Getenv("CTSEC_HOST_HELPER") {
	case "rollback":
		os.Exit(helperRollback(os.Args[1:]))
	case "apply-kill":
		helperApplyKill()
	case "ssh-connection":
		fmt.Println(host.NewEnv("/").SSHConnection)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helperRollback(args []string) int {
	var stateDir, id string
	var wait time.Duration
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--state-dir":
			i++
			stateDir = args[i]
		case "--wait":
			i++
			wait, _ = time.ParseDuration(args[i])
		case "host", "rollback", "--if-unconfirmed":
		default:
			id = args[i]
		}
	}
	e := &host.Engine{Env: host.NewEnv("/"), StateDir: stateDir, Modules: modules.All()}
	if _, err := e.RollbackIfUnconfirmed(context.Background(), id, wait); err != nil {
		return 1
	}
	return 0
}

// helperApplyKill applies the updates policy (three files) and is killed
// with SIGKILL right after the first file is written.
func helperApplyKill() {
	env := host.NewEnv(os.Getenv("CTSEC_ROOT"))
	pol, _ := host.BaselinePolicy()
	e := &host.Engine{Env: env, StateDir: os.Getenv("CTSEC_STATE"), Modules: []host.Module{mustModule("updates")}}
	e.Hook = func(point string) {
		if strings.HasPrefix(point, "wrote ") {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	plan, err := e.Plan(context.Background(), pol)
	if err != nil {
		os.Exit(3)
	}
	e.Apply(context.Background(), plan, host.ApplyOptions{})
	os.Exit(4) // not reached: killed in the middle
}

func mustModule(name string) host.Module {
	ms, err := modules.Select([]string{name})
	if err != nil {
		panic(err)
	}
	return ms[0]
}

func updatesRoot(t *testing.T) *host.Env {
	testenv.Tool(t, "apt-config")
	testenv.Tool(t, "systemd-analyze")
	env := hosttest.Root(t)
	for name, dst := range map[string]string{
		"50unattended-upgrades":   "/etc/apt/apt.conf.d/50unattended-upgrades",
		"apt-daily-upgrade.timer": "/lib/systemd/system/apt-daily-upgrade.timer",
	} {
		b, err := os.ReadFile(filepath.Join("updates/testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		hosttest.Write(t, env, dst, string(b))
	}
	return env
}

// A kill in the middle of apply leaves every file either old or new, never
// half-written, and the recorded backup restores the root exactly.
func TestKillMidApplyLeavesNoHalfWrittenFile(t *testing.T) {
	env := updatesRoot(t)
	state := t.TempDir()
	before := hosttest.Snapshot(t, env)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CTSEC_HOST_HELPER=apply-kill", "CTSEC_ROOT="+env.Root, "CTSEC_STATE="+state)
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper was not killed: %v", err)
	}
	pol, _ := host.BaselinePolicy()
	mp, err := mustModule("updates").Plan(context.Background(), env, pol)
	if err != nil {
		t.Fatal(err)
	}
	after := hosttest.Snapshot(t, env)
	written := 0
	for p, content := range after {
		if strings.Contains(filepath.Base(p), ".ctsec-") {
			t.Errorf("temporary file left: %s", p)
		}
		if before[p] == content {
			continue
		}
		written++
		// A changed file must be exactly what the plan wanted.
		full := false
		for _, ed := range mp.Edits {
			full = full || string(ed.New) == content
		}
		if !full && p != "/etc/apt/apt.conf.d/52ctsec-unattended-upgrades" {
			t.Errorf("%s is neither old nor new: %q", p, content)
		}
	}
	if written != 1 {
		t.Errorf("%d files changed before the kill, want 1", written)
	}
	e := &host.Engine{Env: env, StateDir: state, Modules: modules.All(), Clock: testenv.Clock(t)}
	hist, err := e.History()
	if err != nil || len(hist) != 1 || hist[0].Status != host.StatusApplying {
		t.Fatalf("history = %+v, %v (want one interrupted apply)", hist, err)
	}
	if _, err := e.Rollback(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, hosttest.Snapshot(t, env)) {
		t.Error("rollback did not restore the root exactly")
	}
}

func armedEngine(t *testing.T, env *host.Env) *host.Engine {
	t.Setenv("CTSEC_HOST_HELPER", "rollback")
	return &host.Engine{Env: env, StateDir: t.TempDir(), Modules: []host.Module{mustModule("updates")}, Self: []string{os.Args[0]}, Clock: testenv.Clock(t)}
}

func waitStatus(t *testing.T, e *host.Engine, want string, within time.Duration) host.Journal {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		hist, err := e.History()
		if err == nil && len(hist) == 1 && hist[0].Status == want {
			return hist[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never became %s: %+v %v", want, hist, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Without confirmation the armed (detached) rollback restores everything
// once the time is up.
func TestUnconfirmedApplyRollsBack(t *testing.T) {
	env := updatesRoot(t)
	before := hosttest.Snapshot(t, env)
	e := armedEngine(t, env)
	pol, _ := host.BaselinePolicy()
	plan, err := e.Plan(context.Background(), pol)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Apply(context.Background(), plan, host.ApplyOptions{ConfirmWithin: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Armed, "process:") {
		t.Errorf("armed by %q, want a detached process (no systemd here)", res.Armed)
	}
	if reflect.DeepEqual(before, hosttest.Snapshot(t, env)) {
		t.Fatal("apply changed nothing")
	}
	j := waitStatus(t, e, host.StatusRolledBack, 10*time.Second)
	if !strings.Contains(j.Reason, "not confirmed") {
		t.Errorf("reason = %q", j.Reason)
	}
	if !reflect.DeepEqual(before, hosttest.Snapshot(t, env)) {
		t.Error("files not restored after the deadline")
	}
	if _, err := e.Confirm(context.Background(), j.ID, false); err == nil || !strings.Contains(err.Error(), "too late") {
		t.Errorf("late confirm = %v", err)
	}
}

// Confirming from the applying session is refused; from a new login it
// keeps the change and the armed rollback does nothing.
func TestConfirmKeepsChange(t *testing.T) {
	env := updatesRoot(t)
	env.SSHConnection = "198.51.100.7 50000 192.0.2.1 22"
	e := armedEngine(t, env)
	pol, _ := host.BaselinePolicy()
	plan, err := e.Plan(context.Background(), pol)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(context.Background(), plan, host.ApplyOptions{ConfirmWithin: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	applied := hosttest.Snapshot(t, env)
	if _, err := e.Confirm(context.Background(), "", false); !errors.Is(err, host.ErrSameSession) {
		t.Fatalf("same-session confirm = %v", err)
	}
	e.Env.SSHConnection = "198.51.100.7 50001 192.0.2.1 22"
	if _, err := e.Confirm(context.Background(), "", false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	waitStatus(t, e, host.StatusConfirmed, time.Second)
	if !reflect.DeepEqual(applied, hosttest.Snapshot(t, env)) {
		t.Error("confirmed change was rolled back")
	}
	// A manual rollback still restores it afterwards.
	if _, err := e.Rollback(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Rollback(context.Background(), ""); err == nil {
		t.Error("second rollback of the only change succeeded")
	}
}

// Rollback removes the directories apply created for new drop-ins, so the
// root is as it was; a directory someone has put a file in since stays.
func TestRollbackRemovesCreatedDirs(t *testing.T) {
	ctx := context.Background()
	env := updatesRoot(t)
	e := &host.Engine{Env: env, StateDir: t.TempDir(), Modules: []host.Module{mustModule("updates")}, Clock: testenv.Clock(t)}
	pol, _ := host.BaselinePolicy()
	apply := func() {
		t.Helper()
		plan, err := e.Plan(ctx, pol)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Apply(ctx, plan, host.ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		if !env.Exists("/etc/systemd/system/apt-daily-upgrade.timer.d/ctsec.conf") {
			t.Fatal("apply did not write the timer drop-in")
		}
	}
	apply()
	if _, err := e.Rollback(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if env.Exists("/etc/systemd") {
		t.Error("rollback left /etc/systemd, which apply created")
	}
	if !env.Exists("/etc/apt/apt.conf.d/50unattended-upgrades") {
		t.Error("rollback removed a file it did not create")
	}
	apply()
	hosttest.Write(t, env, "/etc/systemd/system/apt-daily.timer.d/local.conf", "[Timer]\n")
	if _, err := e.Rollback(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if hosttest.Read(t, env, "/etc/systemd/system/apt-daily.timer.d/local.conf") != "[Timer]\n" || env.Exists("/etc/systemd/system/apt-daily-upgrade.timer.d") {
		t.Error("rollback removed a directory holding someone else's file, or kept an empty one")
	}
}

// sudo's env_reset drops SSH_CONNECTION; the lockout guards and confirm
// still need it, so it is read from the nearest ancestor (sudo itself, the
// login shell). Here a shell stands in for sudo: it holds SSH_CONNECTION and
// starts ctsec with an empty environment, as env_reset does.
func TestSSHConnectionSurvivesEnvReset(t *testing.T) {
	const conn = "198.51.100.7 50022 192.0.2.1 22"
	cmd := exec.Command("sh", "-c", `env -i CTSEC_HOST_HELPER=ssh-connection "$0"; true`, os.Args[0])
	cmd.Env = []string{"SSH_CONNECTION=" + conn, "PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != conn {
		t.Errorf("through an environment reset: %q, %v; want %q", out, err, conn)
	}
	// Its own variable wins over an ancestor's.
	cmd = exec.Command("sh", "-c", `env -i CTSEC_HOST_HELPER=ssh-connection SSH_CONNECTION="$1" "$0"; true`, os.Args[0], "203.0.113.9 1 192.0.2.1 22")
	cmd.Env = []string{"SSH_CONNECTION=" + conn, "PATH=" + os.Getenv("PATH")}
	if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) != "203.0.113.9 1 192.0.2.1 22" {
		t.Errorf("own SSH_CONNECTION: %q, %v", out, err)
	}
}

// Applies made within one second (ids name the second only) list in the
// order they were made, and rollback without an id takes the newest.
func TestHistoryOrderWithinOneSecond(t *testing.T) {
	ctx := context.Background()
	env := updatesRoot(t)
	e := &host.Engine{Env: env, StateDir: t.TempDir(), Modules: []host.Module{mustModule("updates")},
		Clock: clock.NewStep(testenv.Now(t), time.Microsecond)}
	pol, _ := host.BaselinePolicy()
	var made []string
	for i := range 6 {
		plan, err := e.Plan(ctx, pol)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Apply(ctx, plan, host.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, res.ID)
		if i < 5 {
			if _, err := e.Rollback(ctx, res.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	hist, err := e.History()
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, j := range hist {
		listed = append(listed, j.ID)
	}
	if !slices.Equal(listed, made) {
		t.Fatalf("history lists\n%v\nwant the order of the applies\n%v", listed, made)
	}
	if id, err := e.Rollback(ctx, ""); err != nil || id != made[5] {
		t.Errorf("rollback of the newest undid %s (%v), want %s", id, err, made[5])
	}
}
