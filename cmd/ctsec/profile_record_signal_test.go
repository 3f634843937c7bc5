package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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
			time.Sleep(700 * time.Millisecond)
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
			if !strings.Contains(stderr.String(), "killed by SIGINT, interrupted") {
				t.Errorf("summary: %s", stderr.String())
			}
			data, err := os.ReadFile(out)
			if err != nil || !strings.Contains(string(data), "nanosleep") {
				t.Errorf("profile after Ctrl-C: %v\n%s", err, data)
			}
		})
	}
}
