package apparmor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// escapeRoot makes ROOT/etc/apparmor.d/containers a link out of ROOT
// (absolute or ../../..) to a directory holding a profile that must never
// be read or written, and the same profile inside ROOT where the link
// really leads when resolved as a chroot would.
func escapeRoot(t *testing.T, relative bool) (root, outside, inside string) {
	t.Helper()
	root = t.TempDir()
	outside = t.TempDir()
	write(t, filepath.Join(outside, "ctsec-web"), webProfile)
	target := outside
	if relative {
		target = strings.Repeat("../", 40) + strings.TrimPrefix(outside, "/")
	}
	os.MkdirAll(filepath.Join(root, "etc/apparmor.d"), 0o755)
	if err := os.Symlink(target, filepath.Join(root, DefaultProfilesDir)); err != nil {
		t.Fatal(err)
	}
	inside = filepath.Join(root, outside)
	write(t, filepath.Join(inside, "ctsec-web"), webProfile)
	return root, outside, inside
}

// `apparmor promote --root R` with a symlinked containers/ wrote outside
// R; now the link is resolved inside R, so the promote changes R's file.
func TestPromoteStaysInsideRoot(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	for _, relative := range []bool{false, true} {
		root, outside, inside := escapeRoot(t, relative)
		o := ChangeOptions{Root: root, Dir: filepath.Join(root, DefaultProfilesDir), StateDir: filepath.Join(t.TempDir(), "state"), Write: true, Clock: testenv.Clock(t)}
		res, err := SetMode(context.Background(), []string{"ctsec-web"}, "enforce", o)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(outside, "ctsec-web")); string(b) != webProfile {
			t.Fatalf("relative=%v: the profile outside the root changed:\n%s", relative, b)
		}
		if b, _ := os.ReadFile(filepath.Join(inside, "ctsec-web")); strings.Contains(string(b), "complain") || !strings.HasPrefix(res[0].File, root+"/") {
			t.Errorf("relative=%v: the root's own profile was not promoted (%s):\n%s", relative, res[0].File, b)
		}
	}
}

func TestLoadStaysInsideRoot(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	root, outside, inside := escapeRoot(t, false)
	os.Remove(filepath.Join(inside, "ctsec-web"))
	src := generated(t, t.TempDir(), "web", "enforce")
	res, err := Load(context.Background(), []string{src}, LoadOptions{Root: root, Write: true, NoLoad: true, StateDir: filepath.Join(t.TempDir(), "state"), Clock: testenv.Clock(t)})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "ctsec-web")); string(b) != webProfile {
		t.Fatalf("the profile outside the root changed:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(inside, "ctsec-web")); err != nil || !strings.HasPrefix(res.Actions[0].Target, inside) {
		t.Errorf("not installed inside the root: %v (target %s)", err, res.Actions[0].Target)
	}
}
