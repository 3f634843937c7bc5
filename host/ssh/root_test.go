package ssh

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/hosttest"
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

// manyMatches is sshd_config followed by n Match blocks that re-enable
// passwords, each for its own network.
func manyMatches(t testing.TB, env *host.Env, n int) {
	var b strings.Builder
	b.WriteString(hosttest.Read(t, env, MainConfig))
	for i := range n {
		fmt.Fprintf(&b, "Match Address 10.%d.%d.0/24\n  PasswordAuthentication yes\n  X11Forwarding yes\n", i/250, i%250)
	}
	hosttest.Write(t, env, MainConfig, b.String())
}

// 3,000 Match blocks took host audit over 30 s (one sshd -T each): sshd
// now runs for the first maxMatchRuns distinct connections, and every
// other block is still reported, judged from the file and saying so.
func TestManyMatchBlocksBounded(t *testing.T) {
	env := sshRoot(t, true)
	manyMatches(t, env, 3000)
	fs, err := New().Audit(context.Background(), env, baseline(t))
	if err != nil {
		t.Fatal(err)
	}
	evaluated, fromFile := map[string]bool{}, 0
	for _, f := range find(fs, "host/ssh-match") {
		if i := strings.Index(f.Message, "(sshd -T -C "); i >= 0 {
			evaluated[f.Message[i:]] = true
		} else if strings.Contains(f.Message, "read from the file: sshd -T ran for the first 16 of 3000") {
			fromFile++
		}
	}
	if len(evaluated) != maxMatchRuns || fromFile != 2*(3000-maxMatchRuns) {
		t.Errorf("%d connections evaluated by sshd, %d findings from the file; want %d and %d", len(evaluated), fromFile, maxMatchRuns, 2*(3000-maxMatchRuns))
	}
}

// BenchmarkAuditManyMatches is host audit ssh on 3,000 Match blocks.
//
//	go test -run '^$' -bench AuditManyMatches -benchtime 3x ./host/ssh/
func BenchmarkAuditManyMatches(b *testing.B) {
	env := sshRoot(b, true)
	manyMatches(b, env, 3000)
	pol, _ := host.BaselinePolicy()
	for b.Loop() {
		if _, err := New().Audit(context.Background(), env, pol); err != nil {
			b.Fatal(err)
		}
	}
}

// `Include ../../../../../etc/shadow` put a line of that file into the
// error text. Neither ctsec's parser nor sshd's message may quote a line
// of a file outside /etc/ssh.
func TestIncludeOutsideConfigTreeLeaksNothing(t *testing.T) {
	const secret = "SECRETHASHb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"
	for name, content := range map[string]string{
		"shadow line":  "root:$y$j9T$" + secret + ":19000:0:99999:7:::\n",
		"base64 line":  secret + "\n", // a valid-looking keyword: only sshd rejects it
		"key and args": "Ciphers " + secret + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			env := sshRoot(t, true)
			hosttest.Write(t, env, "/etc/shadow", content)
			hosttest.Write(t, env, MainConfig, "Include ../../../../../etc/shadow\n"+hosttest.Read(t, env, MainConfig))
			var msgs []string
			fs, err := New().Audit(context.Background(), env, baseline(t))
			if err != nil {
				msgs = append(msgs, err.Error())
			}
			for _, f := range fs {
				msgs = append(msgs, f.Message, f.Target)
			}
			plan, err := engine(t, env).Plan(context.Background(), baseline(t))
			if err != nil {
				msgs = append(msgs, err.Error())
			} else {
				for _, r := range plan.Refusals() {
					msgs = append(msgs, r.Reason)
				}
				msgs = append(msgs, plan.Modules[0].Notes...)
			}
			all := strings.Join(msgs, "\n")
			if strings.Contains(all, "SECRET") || strings.Contains(all, "j9T") {
				t.Fatalf("a line of /etc/shadow reached the messages:\n%s", all)
			}
			if !strings.Contains(all, "/etc/shadow") {
				t.Errorf("the messages do not name /etc/shadow:\n%s", all)
			}
		})
	}
}
