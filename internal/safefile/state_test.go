package safefile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/rootfs"
)

func testStore(t *testing.T, dir string) *Store {
	return &Store{Dir: dir, Clock: clock.NewStep(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Second)}
}

func asRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
}

// The reported attack: another user owns the backups directory (mode 777)
// and forges a manifest naming a root-only 0600 file, with their content
// and mode 0644. Rollback must refuse, in one line, and change nothing.
func TestForgedManifestInForeignStateDirRefused(t *testing.T) {
	asRoot(t)
	base := t.TempDir()
	victim := filepath.Join(base, "shadow")
	os.WriteFile(victim, []byte("root only\n"), 0o600)
	s := testStore(t, filepath.Join(base, "state"))
	c, err := s.NewChange("x")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Save(victim); err != nil {
		t.Fatal(err)
	}
	backups := filepath.Join(s.Dir, "backups")
	m, _ := s.Load(c.ID())
	m.Files[0].Mode = 0o644
	forged := "attacker content\n"
	m.Files[0].SHA256 = sha(forged)
	os.WriteFile(filepath.Join(backups, c.ID(), m.Files[0].Backup), []byte(forged), 0o666)
	writeJSON(t, filepath.Join(backups, c.ID(), "manifest.json"), m)
	for _, p := range []string{backups, filepath.Join(backups, c.ID()), filepath.Join(backups, c.ID(), "manifest.json"), filepath.Join(backups, c.ID(), m.Files[0].Backup)} {
		os.Chown(p, 1001, 1001)
	}
	os.Chmod(backups, 0o777)
	_, err = s.Restore(c.ID())
	if err == nil || !IsUntrusted(err) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "uid 1001") {
		t.Fatalf("restore from a foreign state dir: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "root only\n" {
		t.Errorf("victim changed: %q", b)
	}
	if st, _ := os.Stat(victim); st.Mode().Perm() != 0o600 {
		t.Errorf("victim mode %v", st.Mode().Perm())
	}
	if _, err := s.List(); !IsUntrusted(err) {
		t.Errorf("List of a foreign state dir: %v", err)
	}
	if _, err := s.NewChange("y"); !IsUntrusted(err) {
		t.Errorf("NewChange in a foreign state dir: %v", err)
	}
}

// Each thing read back is checked on its own: our directory with one
// manifest another user wrote (or made group-writable) is refused too.
func TestForeignFileInOwnStateDirRefused(t *testing.T) {
	asRoot(t)
	base := t.TempDir()
	p := filepath.Join(base, "f")
	os.WriteFile(p, []byte("v1"), 0o600)
	s := testStore(t, filepath.Join(base, "state"))
	c, _ := s.NewChange("x")
	c.Save(p)
	manifest := filepath.Join(s.Dir, "backups", c.ID(), "manifest.json")
	os.Chown(manifest, 1001, 0)
	if _, err := s.Restore(c.ID()); !IsUntrusted(err) {
		t.Errorf("a manifest owned by another user: %v", err)
	}
	os.Chown(manifest, 0, 0)
	os.Chmod(manifest, 0o620)
	if _, err := s.Restore(c.ID()); !IsUntrusted(err) || !strings.Contains(err.Error(), "writable by group or others") {
		t.Errorf("a group-writable manifest: %v", err)
	}
	os.Chmod(manifest, 0o600)
	if _, err := s.Restore(c.ID()); err != nil {
		t.Errorf("restore from a sound state dir: %v", err)
	}
}

func TestStateDirUnderWritableParentRefused(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	s := testStore(t, filepath.Join(open, "state"))
	if _, err := s.NewChange("x"); !IsUntrusted(err) || !strings.Contains(err.Error(), "not sticky") {
		t.Errorf("state dir under a world-writable directory: %v", err)
	}
	os.Chmod(open, 0o777|os.ModeSticky)
	if _, err := s.NewChange("x"); err != nil {
		t.Errorf("under a sticky directory (as /tmp): %v", err)
	}
}

// A backup of a private file is never readable by others, whatever the
// state directory's own mode was, and the state directory is made 0700.
func TestBackupsArePrivate(t *testing.T) {
	base := t.TempDir()
	p := filepath.Join(base, "key")
	os.WriteFile(p, []byte("private"), 0o644)
	s := testStore(t, filepath.Join(base, "state"))
	c, err := s.NewChange("x")
	if err != nil {
		t.Fatal(err)
	}
	c.Save(p)
	m, _ := s.Load(c.ID())
	for path, want := range map[string]os.FileMode{
		s.Dir: 0o700, filepath.Join(s.Dir, "backups"): 0o700, filepath.Join(s.Dir, "backups", c.ID()): 0o700,
		filepath.Join(s.Dir, "backups", c.ID(), m.Files[0].Backup): 0o600, filepath.Join(s.Dir, "backups", c.ID(), "manifest.json"): 0o600,
	} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, st.Mode().Perm(), want)
		}
	}
}

// A record in a root is saved and restored through the root: a directory
// the root's tree turned into a link to outside never leads the restore
// there.
func TestSaveInRestoresInsideRoot(t *testing.T) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	os.MkdirAll(filepath.Join(root, "etc/app"), 0o755)
	os.MkdirAll(outside, 0o755)
	os.WriteFile(filepath.Join(root, "etc/app/a.conf"), []byte("v1"), 0o640)
	s := testStore(t, filepath.Join(base, "state"))
	c, _ := s.NewChange("x")
	if err := c.SaveIn(rootfs.New(root), "/etc/app/a.conf"); err != nil {
		t.Fatal(err)
	}
	// The tree changes: etc/app becomes a link to a real directory outside.
	os.RemoveAll(filepath.Join(root, "etc/app"))
	os.Symlink(outside, filepath.Join(root, "etc/app"))
	_, err := s.Restore(c.ID())
	if err == nil {
		t.Log("restore went ahead inside the root")
	}
	if es, _ := os.ReadDir(outside); len(es) != 0 {
		t.Fatalf("restore wrote outside the root: %v", es)
	}
	// Put back as it was, the restore works and keeps the mode.
	os.Remove(filepath.Join(root, "etc/app"))
	os.MkdirAll(filepath.Join(root, "etc/app"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/app/a.conf"), []byte("v2"), 0o666)
	if _, err := s.Restore(c.ID()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(root, "etc/app/a.conf"))
	st, _ := os.Stat(filepath.Join(root, "etc/app/a.conf"))
	if string(b) != "v1" || st.Mode().Perm() != 0o640 {
		t.Errorf("restored %q mode %v", b, st.Mode().Perm())
	}
}

// A temporary file left by a killed ctsec is removed by the next write in
// its directory.
func TestWriteFileRemovesStaleTemp(t *testing.T) {
	dir := t.TempDir()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skip(err)
	}
	stale := filepath.Join(dir, ".f.conf.ctsec-"+strconv.Itoa(gone.Process.Pid)+"-0123456789ab")
	os.WriteFile(stale, []byte("full new content"), 0o600)
	if err := WriteFile(filepath.Join(dir, "g.conf"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file still there: %v", err)
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func writeJSON(t *testing.T, p string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCheckExecutable: a helper ctsec runs as root must be no easier to
// replace than ctsec itself.
func TestCheckExecutable(t *testing.T) {
	for _, tt := range []struct {
		name             string
		dirMode, binMode os.FileMode
		want             string // "" for trusted
	}{
		{"installed", 0o755, 0o755, ""},
		{"group-writable directory (Debian's /usr/local: 2775 root:staff)", 0o775 | os.ModeSetgid, 0o755, ""},
		{"sticky open directory", 0o777 | os.ModeSticky, 0o755, ""},
		{"open directory", 0o777, 0o755, "not sticky"},
		{"group-writable program", 0o755, 0o775, "chmod go-w"},
		{"world-writable program", 0o755, 0o757, "chmod go-w"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "libexec")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			bin := filepath.Join(dir, "helper")
			if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(bin, tt.binMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tt.dirMode); err != nil {
				t.Fatal(err)
			}
			err := CheckExecutable(bin)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !IsUntrusted(err) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want an UntrustedError saying %q", err, tt.want)
			}
		})
	}
}
