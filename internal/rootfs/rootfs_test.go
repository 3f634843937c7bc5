package rootfs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tree builds a root with the links an image or an attacker can hold, and
// a directory beside it that nothing may reach.
func tree(t testing.TB) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{"etc/ssh/sshd_config.d", "usr/lib", "srv/real", "tmp", outside} {
		if !filepath.IsAbs(d) {
			d = filepath.Join(root, d)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "etc/ssh/sshd_config"), "inside\n")
	write(filepath.Join(root, "srv/real/a.conf"), "srv\n")
	write(filepath.Join(outside, "secret"), "outside\n")
	write(filepath.Join(outside, "a.conf"), "outside conf\n")
	links := map[string]string{
		"etc/abs-outside": outside, // absolute link to a real directory outside
		"etc/rel-outside": "../../../../../../../../" + strings.TrimPrefix(outside, "/"),
		"etc/abs-srv":     "/srv/real", // an image's own absolute link
		"etc/rel-srv":     "../srv/real",
		"etc/loop1":       "loop2",
		"etc/loop2":       "loop1",
		"etc/dotdot":      "..",
		"lib":             "usr/lib", // usrmerge
		"etc/file-link":   "/etc/ssh/sshd_config",
		"etc/dangling":    "/nonexistent/x",
		"etc/ssh/up":      "../../..",
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func roots(t *testing.T, dir string) map[string]Root {
	kernel := New(dir)
	if _, ok, _ := kernel.openat2("/", unix.O_PATH); !ok {
		t.Log("openat2 is not available: only the user-space walk is tested")
		return map[string]Root{"walk": {dir: kernel.dir, walk: true}}
	}
	return map[string]Root{"kernel": kernel, "walk": {dir: kernel.dir, walk: true}}
}

func TestReadStaysInsideRoot(t *testing.T) {
	root, outside := tree(t)
	cases := []struct {
		path, want string // want "" = must fail
		notExist   bool
	}{
		{"/etc/ssh/sshd_config", "inside\n", false},
		{"etc/ssh/sshd_config", "inside\n", false},
		{"/etc/file-link", "inside\n", false},
		{"/etc/abs-srv/a.conf", "srv\n", false},
		{"/etc/rel-srv/a.conf", "srv\n", false},
		{"/../../../../etc/ssh/sshd_config", "inside\n", false},
		{"/etc/dotdot/etc/ssh/sshd_config", "inside\n", false},
		{"/etc/ssh/up/etc/ssh/sshd_config", "inside\n", false},
		// An absolute link is read as the root's own path: the real
		// directory of that name outside is never reached.
		{"/etc/abs-outside/secret", "", true},
		{"/etc/rel-outside/secret", "", true},
		{"/etc/dangling", "", true},
	}
	for name, r := range roots(t, root) {
		for _, c := range cases {
			b, err := r.ReadFile(c.path, 1<<20)
			if c.want == "" {
				if err == nil {
					t.Errorf("%s: ReadFile(%s) = %q, want an error", name, c.path, b)
				} else if c.notExist && !IsNotExist(err) {
					t.Errorf("%s: ReadFile(%s) error %v, want not-exist", name, c.path, err)
				}
				continue
			}
			if err != nil || string(b) != c.want {
				t.Errorf("%s: ReadFile(%s) = %q, %v; want %q", name, c.path, b, err, c.want)
			}
		}
		if _, err := r.ReadFile("/etc/loop1", 100); !errors.Is(err, syscall.ELOOP) {
			t.Errorf("%s: a symlink loop gave %v, want ELOOP", name, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "outside\n" {
		t.Fatal("test tree broken")
	}
}

func TestResolveAgreesWithKernel(t *testing.T) {
	root, _ := tree(t)
	for _, p := range []string{"/etc/abs-srv/a.conf", "/etc/rel-outside", "/etc/ssh/up/lib", "/lib/x", "/etc/abs-outside", "/etc/dotdot/../..", "/etc/file-link"} {
		got, err := New(root).Resolve(p)
		if IsNotExist(err) {
			if _, ok := kernelResolve(root, p); ok {
				t.Errorf("Resolve(%s): %v, but the kernel finds it", p, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Resolve(%s): %v", p, err)
			continue
		}
		if !strings.HasPrefix(got+"/", root+"/") {
			t.Errorf("Resolve(%s) = %s, outside %s", p, got, root)
		}
		if kernel, ok := kernelResolve(root, p); ok && kernel != got {
			t.Errorf("Resolve(%s) = %s, the kernel says %s", p, got, kernel)
		}
	}
}

// kernelResolve asks openat2 where p leads, for paths that exist.
func kernelResolve(root, p string) (string, bool) {
	r := New(root)
	fd, ok, err := r.openat2(p, unix.O_PATH)
	if !ok || err != nil {
		return "", false
	}
	defer unix.Close(fd)
	got, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	return got, err == nil
}

func TestWriteThroughEscapingLinksStaysInside(t *testing.T) {
	root, outside := tree(t)
	for name, r := range roots(t, root) {
		for _, dir := range []string{"/etc/abs-outside", "/etc/rel-outside"} {
			err := r.WriteFile(dir+"/a.conf", []byte("written by "+name), 0o644, Keep)
			if err == nil {
				// The link resolved inside the root; the write went there.
				real, _ := r.Resolve(dir + "/a.conf")
				if !strings.HasPrefix(real, root+"/") {
					t.Errorf("%s: wrote %s outside the root", name, real)
				}
			} else if !IsNotExist(err) {
				t.Errorf("%s: WriteFile(%s): %v", name, dir, err)
			}
			// A link to a directory the root lacks: nothing is created
			// through it (mkdir -p in a chroot fails the same way).
			if _, err := r.MkdirAll(dir+"/sub", 0o755); !IsNotExist(err) {
				t.Errorf("%s: MkdirAll(%s/sub): %v, want not-exist", name, dir, err)
			}
			if err := r.Remove(dir + "/a.conf"); err != nil {
				t.Errorf("%s: Remove: %v", name, err)
			}
		}
		// Once the root has a directory of that name, the same write lands
		// there: the link means the root's own path, as in a chroot.
		mirror := filepath.Join(root, outside)
		if err := os.MkdirAll(mirror, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteFile("/etc/abs-outside/a.conf", []byte(name), 0o644, Keep); err != nil {
			t.Errorf("%s: write through a link the root resolves: %v", name, err)
		}
		if b, _ := os.ReadFile(filepath.Join(mirror, "a.conf")); string(b) != name {
			t.Errorf("%s: the write did not land inside the root: %q", name, b)
		}
		os.RemoveAll(filepath.Join(root, strings.Split(strings.TrimPrefix(outside, "/"), "/")[0]))
		if b, _ := os.ReadFile(filepath.Join(outside, "a.conf")); string(b) != "outside conf\n" {
			t.Fatalf("%s: the file outside the root changed: %q", name, b)
		}
		if es, _ := os.ReadDir(outside); len(es) != 2 {
			t.Fatalf("%s: something was created outside the root: %v", name, es)
		}
	}
}

func TestWriteKeepsOrResetsOwnerAndMode(t *testing.T) {
	root := t.TempDir()
	r := New(root)
	p := filepath.Join(root, "f.conf")
	os.WriteFile(p, []byte("old"), 0o666)
	os.Chmod(p, 0o666)
	if os.Geteuid() == 0 {
		os.Chown(p, 1001, 1001)
	}
	if err := r.WriteFile("/f.conf", []byte("kept"), 0o644, Keep); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o666 {
		t.Errorf("Keep: mode %v, want 0666", st.Mode().Perm())
	}
	if os.Geteuid() == 0 && st.Sys().(*syscall.Stat_t).Uid != 1001 {
		t.Errorf("Keep: owner %d, want 1001", st.Sys().(*syscall.Stat_t).Uid)
	}
	if err := r.WriteFile("/f.conf", []byte("reset"), 0o644, Reset); err != nil {
		t.Fatal(err)
	}
	st, _ = os.Stat(p)
	if st.Mode().Perm() != 0o644 || int(st.Sys().(*syscall.Stat_t).Uid) != os.Geteuid() {
		t.Errorf("Reset: mode %v owner %d, want 0644 and %d", st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid, os.Geteuid())
	}
	if b, _ := os.ReadFile(p); string(b) != "reset" {
		t.Errorf("content %q", b)
	}
	if es, _ := os.ReadDir(root); len(es) != 1 {
		t.Errorf("temporary files left: %v", es)
	}
}

// A FIFO or a device is refused at once: opening a FIFO for reading would
// wait for a writer forever, and opening a device can act (a watchdog).
func TestSpecialFilesRefusedWithoutBlocking(t *testing.T) {
	root := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(root, "fifo.conf"), 0o644); err != nil {
		t.Fatal(err)
	}
	specials := []string{"/fifo.conf"}
	if os.Geteuid() == 0 {
		if err := unix.Mknod(filepath.Join(root, "null.conf"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3))); err == nil {
			specials = append(specials, "/null.conf")
		}
	}
	os.Symlink("/fifo.conf", filepath.Join(root, "link.conf"))
	specials = append(specials, "/link.conf")
	for name, r := range roots(t, root) {
		for _, p := range specials {
			done := make(chan error, 1)
			go func() { _, err := r.ReadFile(p, 100); done <- err }()
			select {
			case err := <-done:
				if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), filepath.Join(root, p)) {
					t.Errorf("%s: ReadFile(%s) = %v, want a not-a-regular-file error naming it", name, p, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: ReadFile(%s) blocked", name, p)
			}
		}
		if _, err := r.ReadFile("/", 100); !errors.Is(err, ErrNotRegular) {
			t.Errorf("%s: reading a directory: %v", name, err)
		}
	}
	done := make(chan error, 1)
	go func() { _, err := ReadRegular(filepath.Join(root, "fifo.conf"), 100); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "a FIFO") {
			t.Errorf("ReadRegular(fifo) = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadRegular blocked on a FIFO")
	}
}

func TestReadFileLimit(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "big"), make([]byte, 101), 0o644)
	_, err := New(root).ReadFile("/big", 100)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Path != filepath.Join(root, "big") {
		t.Errorf("over the limit: %v", err)
	}
	if b, err := New(root).ReadFile("/big", 101); err != nil || len(b) != 101 {
		t.Errorf("at the limit: %d, %v", len(b), err)
	}
}

func TestGlobLikeGlob3(t *testing.T) {
	root, _ := tree(t)
	for _, n := range []string{"10-a.conf", ".hidden.conf", "20-b.conf", "notes.txt"} {
		os.WriteFile(filepath.Join(root, "etc/ssh/sshd_config.d", n), nil, 0o644)
	}
	for name, r := range roots(t, root) {
		got, err := r.Glob("/etc/ssh/sshd_config.d/*.conf")
		if err != nil || strings.Join(got, " ") != "/etc/ssh/sshd_config.d/10-a.conf /etc/ssh/sshd_config.d/20-b.conf" {
			t.Errorf("%s: Glob = %v, %v", name, got, err)
		}
		got, _ = r.Glob("/etc/ssh/sshd_config.d/.*.conf")
		if len(got) != 1 {
			t.Errorf("%s: dot glob = %v", name, got)
		}
		// Through an absolute link: the root's /srv/real, never outside.
		got, _ = r.Glob("/etc/abs-srv/*.conf")
		if strings.Join(got, " ") != "/etc/abs-srv/a.conf" {
			t.Errorf("%s: glob through a link = %v", name, got)
		}
		if got, _ := r.Glob("/etc/abs-outside/*"); len(got) != 0 {
			t.Errorf("%s: glob reached outside: %v", name, got)
		}
		if got, _ := r.Glob("/etc/ssh/sshd_config"); len(got) != 1 {
			t.Errorf("%s: literal glob = %v", name, got)
		}
		if _, err := r.Glob("/etc/[x"); err == nil {
			t.Errorf("%s: a bad pattern was accepted", name)
		}
	}
}

func TestCopyOutRefusesSpecialsAndStaysInside(t *testing.T) {
	root, _ := tree(t)
	dst := filepath.Join(t.TempDir(), "copy")
	if err := New(root).CopyOut("/etc", dst); err == nil {
		t.Fatal("copied a tree with a symlink loop")
	}
	os.Remove(filepath.Join(root, "etc/loop1"))
	os.Remove(filepath.Join(root, "etc/dotdot"))
	os.Remove(filepath.Join(root, "etc/ssh/up"))
	os.RemoveAll(dst)
	if err := New(root).CopyOut("/etc", dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "abs-srv/a.conf")); string(b) != "srv\n" {
		t.Errorf("the image's own link was not followed inside it: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dst, "abs-outside/secret")); err == nil {
		t.Error("copied a file from outside the root")
	}
	syscall.Mkfifo(filepath.Join(root, "etc/ssh/sshd_config.d/x.conf"), 0o644)
	os.RemoveAll(dst)
	if err := New(root).CopyOut("/etc/ssh", dst); !errors.Is(err, ErrNotRegular) {
		t.Errorf("copying a FIFO: %v", err)
	}
}

// A process killed between creating its temporary file and renaming it
// leaves the whole new content beside the target; the next write in that
// directory removes it, but never a temporary file that is being written.
func TestStaleTempFilesRemoved(t *testing.T) {
	if os.Getenv("ROOTFS_TEST_CHILD") != "" {
		dir := os.Getenv("ROOTFS_TEST_CHILD")
		d, _ := os.Open(dir)
		_, f, err := createTemp(int(d.Fd()), "target.conf")
		if err != nil {
			os.Exit(3)
		}
		f.WriteString("secret new content")
		if os.Getenv("ROOTFS_TEST_HOLD") != "" {
			os.Stdout.WriteString("holding\n")
			time.Sleep(time.Minute)
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run", "^TestStaleTempFilesRemoved$")
	child.Env = append(os.Environ(), "ROOTFS_TEST_CHILD="+dir)
	child.Run()
	stale := temps(t, dir)
	if len(stale) != 1 {
		t.Fatalf("the killed child left %v, want one temporary file", stale)
	}
	// A live writer's temporary file, locked, stays.
	holder := exec.Command(os.Args[0], "-test.run", "^TestStaleTempFilesRemoved$")
	holder.Env = append(os.Environ(), "ROOTFS_TEST_CHILD="+dir, "ROOTFS_TEST_HOLD=1")
	out, _ := holder.StdoutPipe()
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	buf := make([]byte, 8)
	out.Read(buf)
	if err := New(dir).WriteFile("/other.conf", []byte("x"), 0o644, Keep); err != nil {
		t.Fatal(err)
	}
	left := temps(t, dir)
	if len(left) != 1 || left[0] == stale[0] {
		t.Errorf("after the next write: %v; want only the live writer's file (stale was %s)", left, stale[0])
	}
}

func temps(t *testing.T, dir string) []string {
	var out []string
	es, _ := os.ReadDir(dir)
	for _, e := range es {
		if strings.Contains(e.Name(), tempMark) {
			out = append(out, e.Name())
		}
	}
	return out
}
