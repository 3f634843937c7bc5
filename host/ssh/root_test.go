package ssh

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctsec/ctsec/host"
)

// outsideDir is a directory beside the test root, with a drop-in that must
// never be read, and a snapshot to prove it is never written.
func outsideDir(t *testing.T) (string, func() []string) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "99-outside.conf"), []byte("PasswordAuthentication yes\n"), 0o644)
	return dir, func() []string {
		es, _ := os.ReadDir(dir)
		var names []string
		for _, e := range es {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			names = append(names, e.Name()+"="+string(b))
		}
		return names
	}
}

// R/etc/ssh/sshd_config.d as a link to a directory outside R, absolute or
// relative: plan refuses to write through it (it leads to nothing inside
// R), audit never reads the outside drop-in, and nothing outside changes.
func TestSymlinkEscapeRefusedInPlanAndApply(t *testing.T) {
	for _, kind := range []string{"absolute", "relative"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			env := sshRoot(t, true)
			outside, list := outsideDir(t)
			before := list()
			d := env.Path("/etc/ssh/sshd_config.d")
			os.RemoveAll(d)
			target := outside
			if kind == "relative" {
				target = strings.Repeat("../", 40) + strings.TrimPrefix(outside, "/")
			}
			if err := os.Symlink(target, d); err != nil {
				t.Fatal(err)
			}
			fs, err := New().Audit(ctx, env, baseline(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fs {
				if strings.Contains(f.File, "99-outside") || strings.Contains(f.Message, "99-outside") {
					t.Errorf("audit read the drop-in outside the root: %+v", f)
				}
			}
			e := engine(t, env)
			_, err = e.Plan(ctx, baseline(t))
			if err == nil || !strings.Contains(err.Error(), "does not exist inside the root") || !strings.Contains(err.Error(), d) {
				t.Fatalf("plan through an escaping link: %v", err)
			}
			if after := list(); !reflect.DeepEqual(before, after) {
				t.Errorf("outside changed: %v → %v", before, after)
			}
		})
	}
}

// An absolute link means the root's own path, as in a chroot: when the
// root has that directory, ctsec reads and writes there, never at the
// directory of the same name on this machine.
func TestAbsoluteLinkResolvedInsideRoot(t *testing.T) {
	ctx := context.Background()
	env := sshRoot(t, true)
	outside, list := outsideDir(t)
	before := list()
	d := env.Path("/etc/ssh/sshd_config.d")
	os.RemoveAll(d)
	os.Symlink(outside, d)
	inside := env.Path(outside)
	os.MkdirAll(inside, 0o755)
	e := engine(t, env)
	plan, err := e.Plan(ctx, baseline(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, plan, host.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(inside, "00-ctsec.conf")); err != nil || !strings.Contains(string(b), "PasswordAuthentication no") {
		t.Errorf("drop-in inside the root: %q, %v", b, err)
	}
	if after := list(); !reflect.DeepEqual(before, after) {
		t.Errorf("outside changed: %v → %v", before, after)
	}
	if _, err := e.Rollback(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(inside, "00-ctsec.conf")); !os.IsNotExist(err) {
		t.Errorf("rollback left the drop-in: %v", err)
	}
}

// A drop-in another user owns lets them change sshd's configuration: the
// plan says so (even when the content is already right) and apply gives it
// to root, without group or other write.
func TestForeignOwnedDropInGivenToRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
	ctx := context.Background()
	env := sshRoot(t, true)
	p := env.Path(DropIn)
	os.WriteFile(p, Render(baseline(t)), 0o664)
	os.Chmod(p, 0o664)
	os.Chown(p, 1001, 1001)
	e := engine(t, env)
	plan, err := e.Plan(ctx, baseline(t))
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(plan.Modules[0].Notes, "\n")
	if !plan.Changed() || !strings.Contains(notes, "belongs to uid 1001") || !strings.Contains(notes, "writable by group or others (mode 0664)") {
		t.Fatalf("plan for a foreign-owned drop-in: changed=%v notes:\n%s", plan.Changed(), notes)
	}
	if _, err := e.Apply(ctx, plan, host.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	sys := st.Sys().(*syscall.Stat_t)
	if sys.Uid != 0 || sys.Gid != 1001 || st.Mode().Perm() != 0o644 {
		t.Errorf("after apply: uid %d gid %d mode %v, want 0, 1001 (kept), 0644", sys.Uid, sys.Gid, st.Mode().Perm())
	}
	plan, _ = e.Plan(ctx, baseline(t))
	if plan.Changed() {
		t.Errorf("second plan still changes: %+v", plan.Modules[0])
	}
	// Rollback puts the owner back as it was: rollback is exact.
	if _, err := e.Rollback(ctx, ""); err != nil {
		t.Fatal(err)
	}
	st, _ = os.Stat(p)
	if st.Sys().(*syscall.Stat_t).Uid != 1001 {
		t.Errorf("rollback owner %d, want 1001", st.Sys().(*syscall.Stat_t).Uid)
	}
}

// A FIFO in sshd_config.d made host audit wait forever for a writer; it
// is refused at once, naming the file (sshd itself would hang on it too).
func TestFIFOInDropInDirRefused(t *testing.T) {
	env := sshRoot(t, true)
	fifo := env.Path("/etc/ssh/sshd_config.d/50-fifo.conf")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := New().Audit(context.Background(), env, baseline(t)); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), fifo) || !strings.Contains(err.Error(), "a FIFO") {
			t.Errorf("audit with a FIFO drop-in: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("audit blocked on a FIFO")
	}
}
