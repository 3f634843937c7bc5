// Package safefile changes files so that nothing is ever half-written or lost:
// atomic replacement, and backups with a manifest that rollback can restore,
// kept in a state directory that is trusted only when nobody else can write
// to it.
package safefile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ctsec/ctsec/internal/rootfs"
)

// WriteFile replaces path with data atomically: a temporary file in the same
// directory is written, synced and renamed over path, so a reader (or a crash)
// sees either the old or the new content. An existing file keeps its mode and
// owner; a new file gets perm. Temporary files a killed ctsec left in that
// directory are removed first.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return writeFile(path, data, perm, rootfs.Keep)
}

func writeFile(path string, data []byte, perm fs.FileMode, own rootfs.Ownership) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	d, err := os.Open(filepath.Dir(abs))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer d.Close()
	if err := rootfs.WriteFileAt(d, filepath.Base(abs), data, perm, own); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
