package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
)

// buildCtsec builds the real binary: signal handling lives in main.
func buildCtsec(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ctsec")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestProfileRecordCtrlC: SIGINT ends a recording cleanly and the profile
// is still written — whether the terminal sent SIGINT to the whole process
// group (Ctrl-C) or only ctsec got it (kill -INT), which it then forwards.
func TestProfileRecordCtrlC(t *testing.T) {
	testenv.Root(t)
	testenv.Tool(t, "go")
	busybox := testenv.Tool(t, "busybox")
	bin := buildCtsec(t)
	for _, group := range []bool{true, false} {
		name := map[bool]string{true: "process group", false: "ctsec only"}[group]
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "sleep.json")
			cmd := exec.Command(bin, "profile", "record", "-o", out, "--", busybox, "sleep", "30")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitSleeping(t, waitForChild(t, cmd.Process.Pid, "busybox"))
			target := cmd.Process.Pid
			if group {
				target = -target
			}
			syscall.Kill(target, syscall.SIGINT)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("ctsec: %v\n%s", err, stderr.String())
				}
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("ctsec did not stop after SIGINT\n%s", stderr.String())
			}
			// With the whole group signalled, busybox may die before ctsec
			// notices its own SIGINT, so "interrupted" is not always said.
			if !strings.Contains(stderr.String(), "killed by SIGINT") {
				t.Errorf("summary: %s", stderr.String())
			}
			data, err := os.ReadFile(out)
			if err != nil || !strings.Contains(string(data), "nanosleep") {
				t.Errorf("profile after Ctrl-C: %v\n%s", err, data)
			}
		})
	}
}

// waitSleeping waits until pid sleeps in the kernel's nanosleep: its
// nanosleep has been notified, recorded and answered, so the profile must
// name it whenever the signal comes, however loaded the machine.
func waitSleeping(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/wchan"); strings.Contains(string(b), "nanosleep") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("process %d is not in nanosleep after 20s", pid)
}

// waitForChild waits until pid has a child process running comm, so a signal
// is sent to a recording that has really started, however loaded the machine,
// and returns the child's pid.
// /proc/PID/task/TID/children is per thread and Go forks from any thread, so
// every process's parent is read instead.
func waitForChild(t *testing.T, pid int, comm string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		procs, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, p := range procs {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			// pid (comm) state ppid ...; comm may hold spaces, so split after ')'.
			open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
			if open < 0 || close < open {
				continue
			}
			f := strings.Fields(string(b[close+1:]))
			if len(f) > 1 && f[1] == strconv.Itoa(pid) && string(b[open+1:close]) == comm {
				child, _ := strconv.Atoi(strings.TrimSpace(string(b[:open])))
				return child
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("process %d has no %s child after 20s", pid, comm)
	return 0
}
