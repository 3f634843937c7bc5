package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
)

// SIGINT or SIGTERM ends a command that is stuck in work that does not look
// at its context — here a review reading a pipe nobody writes to — within
// about a second, with the shell's exit code for an interrupt. The bound asserted is generous for a loaded machine; the grace
// itself is interruptGrace.
func TestInterruptEndsAStuckCommand(t *testing.T) {
	testenv.Tool(t, "go")
	bin := buildCtsec(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			cmd := exec.Command(bin, "apparmor", "review", "--log", "-", "--profiles-dir", t.TempDir())
			cmd.Stdin = r
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			r.Close()
			waitReadingStdin(t, cmd.Process.Pid)
			sent := time.Now()
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("still running 5 s after %s\n%s", sig, stderr.String())
			}
			took := time.Since(sent)
			t.Logf("%s: exited after %v", sig, took)
			if code := cmd.ProcessState.ExitCode(); code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
				t.Errorf("exit %d, stderr %q; want %d and 'interrupted'", code, stderr.String(), exitInterrupted)
			}
			if took > 3*time.Second {
				t.Errorf("took %v to stop, want about %v", took, interruptGrace)
			}
		})
	}
}

// waitReadingStdin waits until one of pid's threads is blocked in read(0,
// …): the command is past its start-up (signal handling is set up) and
// stuck where the test wants it.
func waitReadingStdin(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
		for _, f := range tasks {
			if b, err := os.ReadFile(f); err == nil && strings.HasPrefix(string(b), "0 0x0 ") {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("pid %d never blocked reading its stdin", pid)
}
