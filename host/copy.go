package host

import (
	"os"
	"path/filepath"
)

// CopyTree copies a file, or a directory with its regular files and their
// permission bits, to dst. Modules use it to hand a real tool (ufw) a
// private copy of the root's files; tests use it to build temporary roots.
// Symlinks and special files are skipped: a copy must never reach outside
// the tree it was made from.
func CopyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, b, info.Mode().Perm())
	})
}
