package rootfs

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// FuzzResolve walks arbitrary paths through a tree of hostile links: the
// answer is always inside the root, and the user-space walk agrees with the
// kernel's RESOLVE_IN_ROOT wherever the kernel finds the file.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"/etc/abs-srv/a.conf", "../../etc/rel-outside/x", "/etc/dotdot/etc/dotdot/lib", "/etc/loop1/x", "etc/ssh/up/etc/file-link", "/lib/../etc/abs-outside/..", "//./etc//ssh/", "\x00", "/etc/ssh/sshd_config/x"} {
		f.Add(s)
	}
	root, _ := tree(f)
	r := New(root)
	f.Fuzz(func(t *testing.T, p string) {
		if len(p) > 512 || strings.ContainsRune(p, 0) {
			return
		}
		got, err := r.Resolve(p)
		if err == nil && got != root && !strings.HasPrefix(got, root+"/") {
			t.Fatalf("Resolve(%q) = %s, outside the root", p, got)
		}
		kernel, ok := kernelResolve(root, p)
		if !ok {
			return
		}
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Resolve(%q): %v, but the kernel finds %s", p, err, kernel)
			}
			return
		}
		if kernel != got {
			t.Fatalf("Resolve(%q) = %s, the kernel says %s", p, got, kernel)
		}
	})
}
