package safefile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
)

func TestWriteFileKeepsModeAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.conf")
	if err := os.WriteFile(p, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("content = %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left: %v", entries)
	}
	q := filepath.Join(dir, "new.conf")
	if err := WriteFile(q, []byte("x"), 0o604); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(q); st.Mode().Perm() != 0o604 {
		t.Errorf("new file mode = %v", st.Mode().Perm())
	}
}

func TestWriteFileRefusesDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFile(dir, []byte("x"), 0o600); err == nil {
		t.Fatal("writing over a directory succeeded")
	}
}

func TestBackupRestore(t *testing.T) {
	root := t.TempDir()
	s := &Store{Dir: filepath.Join(root, "state"), Clock: clock.NewStep(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Second)}
	existing := filepath.Join(root, "etc", "a.conf")
	created := filepath.Join(root, "etc", "b.conf")
	os.MkdirAll(filepath.Dir(existing), 0o755)
	if err := os.WriteFile(existing, []byte("original\n"), 0o640); err != nil {
		t.Fatal(err)
	}

	c, err := s.NewChange("test apply")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{existing, created, existing} {
		if err := c.Save(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteFile(existing, []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(created, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(existing, 0o666)

	list, err := s.List()
	if err != nil || len(list) != 1 || len(list[0].Files) != 2 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if _, err := s.Restore(c.ID()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "original\n" {
		t.Errorf("restored content = %q", b)
	}
	if st, _ := os.Stat(existing); st.Mode().Perm() != 0o640 {
		t.Errorf("restored mode = %v", st.Mode().Perm())
	}
	if _, err := os.Stat(created); !os.IsNotExist(err) {
		t.Errorf("created file not removed: %v", err)
	}
	// A second change never reuses the first one's directory.
	c2, err := s.NewChange("again")
	if err != nil || c2.ID() == c.ID() {
		t.Fatalf("second change id %v, %v", c2, err)
	}
}

// Replace is backup then atomic write: the change restores the file as it
// was (mode included), and a file Replace created is removed again.
func TestReplace(t *testing.T) {
	root := t.TempDir()
	s := &Store{Dir: filepath.Join(root, "state"), Clock: clock.NewStep(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Second)}
	path := filepath.Join(root, "compose.yaml")
	os.WriteFile(path, []byte("old\n"), 0o640)
	id, err := s.Replace("test", path, []byte("new\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new\n" {
		t.Fatalf("content %q", b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the old file's 0640", st.Mode().Perm())
	}
	fresh := filepath.Join(root, "fresh.yaml")
	id2, err := s.Replace("test", fresh, []byte("x"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{id, id2} {
		if _, err := s.Restore(id); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != "old\n" {
		t.Errorf("restored %q", b)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("created file still there: %v", err)
	}
	if _, err := s.Replace("test", filepath.Join(root, "no", "dir", "x"), []byte("x"), 0o600); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
	// Refused writes (a missing directory, a directory, a symlink) leave
	// no change behind: only the two that happened are listed.
	os.Symlink(path, filepath.Join(root, "link"))
	for _, p := range []string{filepath.Join(root, "state"), filepath.Join(root, "link")} {
		if _, err := s.Replace("test", p, []byte("x"), 0o600); err == nil {
			t.Errorf("replacing %s succeeded", p)
		}
	}
	if cs, err := s.List(); err != nil || len(cs) != 2 {
		t.Errorf("changes after refused writes: %d (%v), want the 2 made", len(cs), err)
	}
}

func TestRestoreRefusesCorruptBackup(t *testing.T) {
	root := t.TempDir()
	s := &Store{Dir: filepath.Join(root, "state"), Clock: clock.NewStep(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Second)}
	p := filepath.Join(root, "a")
	os.WriteFile(p, []byte("v1"), 0o600)
	c, _ := s.NewChange("x")
	if err := c.Save(p); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, []byte("v2"), 0o600)
	m, _ := s.Load(c.ID())
	os.WriteFile(filepath.Join(s.Dir, "backups", c.ID(), m.Files[0].Backup), []byte("tampered"), 0o600)
	if _, err := s.Restore(c.ID()); err == nil {
		t.Fatal("restore of corrupt backup succeeded")
	}
	if b, _ := os.ReadFile(p); string(b) != "v2" {
		t.Errorf("file changed by failed restore: %q", b)
	}
	if _, err := s.Load("../etc"); err == nil {
		t.Error("Load accepted a path as id")
	}
}

// Change ids carry the time to the second: changes made within one second
// still list in the order they were made (history and "the newest change"
// depend on it), and ids and manifests are dated by the store's clock.
func TestListOrdersChangesWithinOneSecond(t *testing.T) {
	start := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	s := &Store{Dir: t.TempDir(), Clock: clock.NewStep(start, time.Microsecond)}
	var made []string
	for range 20 {
		c, err := s.NewChange("test")
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, c.ID())
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range list {
		if m.ID != made[i] {
			t.Fatalf("listed %d: %s, want %s (made in this order: %v)", i, m.ID, made[i], made)
		}
		if !strings.HasPrefix(m.ID, "20310506T070809Z-") || m.Time.Truncate(time.Second) != start {
			t.Errorf("change %s dated %s, want the clock's %s", m.ID, m.Time, start)
		}
	}
}
