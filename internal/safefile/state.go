package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ctsec/ctsec/internal/rootfs"
)

// UntrustedError is a state directory, or a file in it, that someone other
// than the user running ctsec could have written: a manifest there could
// make a rollback write anything anywhere, so nothing in it is used.
type UntrustedError struct {
	Path   string
	Reason string
}

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("refusing to trust %s: %s", e.Path, e.Reason)
}

// MakeStateDir creates dir (and missing parents) 0700 if needed, then
// checks it as CheckStateDir does.
func MakeStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating state directory %s: %w", dir, err)
	}
	return CheckStateDir(dir)
}

// CheckStateDir says whether ctsec may trust what it reads back from dir:
// dir must belong to the running user and be writable by nobody else, and
// every directory above it must belong to root or that user and be
// writable by nobody else unless sticky (/tmp), so no one can swap it.
// A missing dir is fs.ErrNotExist.
func CheckStateDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	st, err := os.Lstat(real)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return &UntrustedError{abs, "not a directory"}
	}
	if err := ownedByMe(abs, st); err != nil {
		return err
	}
	for _, chain := range []string{abs, real} {
		for p := filepath.Dir(chain); ; p = filepath.Dir(p) {
			if err := checkAncestor(p, 0o022); err != nil {
				return err
			}
			if p == "/" || p == "." {
				break
			}
		}
	}
	return nil
}

// checkAncestor refuses a directory above a trusted path that someone
// else could use to swap it: owned by another user, or writable by the
// write bits in mask and not sticky.
func checkAncestor(p string, mask fs.FileMode) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	uid := owner(st)
	switch {
	case uid != 0 && uid != os.Geteuid():
		return &UntrustedError{p, fmt.Sprintf("this directory belongs to uid %d, who could replace what is below it", uid)}
	case st.Mode().Perm()&mask != 0 && st.Mode()&fs.ModeSticky == 0:
		return &UntrustedError{p, fmt.Sprintf("this directory is writable by others (mode %04o) and not sticky, so what is below it could be replaced", st.Mode().Perm())}
	}
	return nil
}

// ownedByMe is the test for the state directory itself and everything
// read back from it.
func ownedByMe(p string, st fs.FileInfo) error {
	if uid := owner(st); uid != os.Geteuid() {
		return &UntrustedError{p, fmt.Sprintf("it belongs to uid %d, not to uid %d who runs ctsec (chown it, or use another --state-dir)", uid, os.Geteuid())}
	}
	if m := st.Mode().Perm(); m&0o022 != 0 {
		return &UntrustedError{p, fmt.Sprintf("it is writable by group or others (mode %04o; chmod go-w it, or use another --state-dir)", m)}
	}
	return nil
}

func owner(st fs.FileInfo) int {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(sys.Uid)
	}
	return -1
}

// ReadState reads a file ctsec wrote into its state directory (a manifest,
// a backup, a journal), at most limit bytes, after checking that it is a
// regular file of the running user that nobody else can write. The caller
// checks the directory (CheckStateDir).
func ReadState(p string, limit int64) ([]byte, error) {
	st, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &UntrustedError{p, "not a regular file"}
	}
	if err := ownedByMe(p, st); err != nil {
		return nil, err
	}
	b, err := rootfs.ReadRegular(p, limit)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// CheckExecutable says whether ctsec may run the program at p as the user
// running it (root, most often), as CheckStateDir does for state: p must be
// a regular file of root or that user that nobody else can write, and every
// directory above it must belong to root or that user and be writable by
// nobody else unless sticky. Group-writable directories are allowed there:
// Debian's /usr/local tree may be 2775 root:staff, and whoever can write it
// can replace ctsec itself too.
func CheckExecutable(p string) error {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return err
	}
	st, err := os.Stat(real)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return &UntrustedError{p, "not a regular file"}
	}
	if uid := owner(st); uid != 0 && uid != os.Geteuid() {
		return &UntrustedError{p, fmt.Sprintf("it belongs to uid %d, not to root or uid %d who runs ctsec (chown root it, or reinstall)", uid, os.Geteuid())}
	}
	if m := st.Mode().Perm(); m&0o022 != 0 {
		return &UntrustedError{p, fmt.Sprintf("it is writable by group or others (mode %04o; chmod go-w it, or reinstall)", m)}
	}
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		if err := checkAncestor(d, 0o002); err != nil {
			return err
		}
		if d == "/" || d == "." {
			return nil
		}
	}
}

// IsUntrusted reports an UntrustedError through any wrapping.
func IsUntrusted(err error) bool {
	var u *UntrustedError
	return errors.As(err, &u)
}
