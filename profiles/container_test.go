package profiles

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
)

// TestBuiltinProfilesRunShellPipeline: every built-in profile starts a real
// container on the engine and lets its shell fork, pipe, redirect, substitute
// and wait. The runtime set once lacked clone (glibc falls back to it from
// clone3, which the set answers with ENOSYS) and pipe2, so busybox sh said
// "can't fork" / "can't create pipe" although the container started.
func TestBuiltinProfilesRunShellPipeline(t *testing.T) {
	docker := testenv.Docker(t)
	image := testenv.Busybox(t)
	const script = `echo hello | tr a-z A-Z; x=$(echo sub | cat); echo "$x" > /tmp/f; cat < /tmp/f; sleep 0 & wait; echo done`
	const want = "HELLO\nsub\ndone\n"
	for _, name := range SeccompNames() {
		for _, nnp := range []bool{false, true} {
			data, err := Seccomp(name)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), name+".json")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"run", "--rm", "--security-opt", "seccomp=" + file}
			if nnp {
				args = append(args, "--security-opt", "no-new-privileges")
			}
			args = append(args, image, "sh", "-c", script)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			out, err := exec.CommandContext(ctx, docker, args...).CombinedOutput()
			cancel()
			if err != nil || string(out) != want {
				t.Errorf("%s (no-new-privileges %v): %v\ngot  %q\nwant %q", name, nnp, err, out, want)
			}
		}
	}
}
