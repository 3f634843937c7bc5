package host

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCopyTree(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(src, "d/e"), 0o755)
	os.WriteFile(filepath.Join(src, "d/e/rules"), []byte("x\n"), 0o640)
	os.Symlink("/etc/shadow", filepath.Join(src, "d/link"))
	if err := CopyTree(filepath.Join(src, "d"), filepath.Join(dst, "out")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dst, "out/e/rules"))
	if err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("copied file: %v %v", st, err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "out/link")); !os.IsNotExist(err) {
		t.Errorf("a symlink was copied: %v", err)
	}
	// A single file copies to a path whose directory does not exist yet.
	if err := CopyTree(filepath.Join(src, "d/e/rules"), filepath.Join(dst, "a/b/rules")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "a/b/rules")); string(b) != "x\n" {
		t.Errorf("single file copy = %q", b)
	}
}
