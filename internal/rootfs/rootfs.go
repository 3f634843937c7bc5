// Package rootfs reads and writes the files of a host that lives under a
// root directory (a mounted image, a test tree, or "/" itself) the way a
// program chrooted into that root would see them: every path, symlinks
// included, is resolved inside the root, so neither an absolute link
// ("/etc") nor a relative one ("../../..") can reach a file outside it.
// It also opens only regular files, and never blocks on a FIFO or opens a
// device while finding out what a path is.
//
// The kernel does the resolution where it can (openat2 with
// RESOLVE_IN_ROOT, Linux 5.6 and later), so a directory swapped for a
// symlink between two calls cannot redirect a read or a write; elsewhere an
// equivalent walk in user space gives the same answers.
package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxLinks is the kernel's own limit on symlinks followed in one lookup
// (MAXSYMLINKS), after which it answers ELOOP.
const maxLinks = 40

// Root is the directory that stands for "/" of a host.
type Root struct {
	dir string
	// walk forces the user-space resolver (tests compare it with the
	// kernel's).
	walk bool
}

// New is the host under dir ("" and "/" are the running system).
func New(dir string) Root {
	if dir == "" {
		dir = "/"
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return Root{dir: filepath.Clean(dir)}
}

// Dir is the root directory.
func (r Root) Dir() string { return r.dir }

// IsHost reports whether the root is the running system's "/".
func (r Root) IsHost() bool { return r.dir == "/" }

// Join is where a host path would be if nothing on the way were a symlink:
// for messages, never for opening.
func (r Root) Join(p string) string {
	if r.dir == "/" {
		return path.Clean("/" + p)
	}
	return filepath.Join(r.dir, path.Clean("/"+p))
}

// Error is a path that cannot be used, named as the operator knows it.
type Error struct {
	Op   string // "open", "write", …
	Path string // the path under the root, as Join shows it
	Err  error
}

func (e *Error) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ErrNotRegular is a path that is a FIFO, a socket, a device or a
// directory where a regular file is needed.
var ErrNotRegular = errors.New("not a regular file")

// ErrEscape is a path that can only be reached by leaving the root; the
// kernel's walk never produces it (it keeps ".." and absolute links
// inside), but a tool handed a path under the root would follow the link
// out, so callers that hand paths to tools check for it.
var ErrEscape = errors.New("a symlink on the way leads outside the root")

func (r Root) errorf(op, p string, err error) error {
	var pe *Error
	if errors.As(err, &pe) {
		return err
	}
	return &Error{Op: op, Path: r.Join(p), Err: err}
}

// kind names a file type for people.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "not a regular file"
}

func notRegular(m fs.FileMode) error {
	return fmt.Errorf("%w (%s)", ErrNotRegular, kind(m))
}

// rel is p relative to the root, as openat2 wants it. It is not cleaned:
// "lib/.." is where the link lib leads, then up, not the root.
func rel(p string) string {
	if c := strings.TrimLeft(p, "/"); c != "" {
		return c
	}
	return "."
}

// splitName cuts p into its directory and last component, without
// cleaning; a path that ends in "." or ".." names no file.
func splitName(p string) (dir, name string, err error) {
	p = strings.TrimRight(p, "/")
	i := strings.LastIndexByte(p, '/')
	dir, name = p[:i+1], p[i+1:]
	if name == "" || name == "." || name == ".." {
		return "", "", errors.New("not a file name")
	}
	if dir == "" {
		dir = "/"
	}
	return dir, name, nil
}

// openat2 opens p inside the root with the kernel's RESOLVE_IN_ROOT. ok is
// false when this kernel (or a seccomp filter) lacks openat2.
func (r Root) openat2(p string, flags int) (fd int, ok bool, err error) {
	if r.walk {
		return -1, false, nil
	}
	rootfd, err := unix.Open(r.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, true, err
	}
	defer unix.Close(rootfd)
	how := &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err = unix.Openat2(rootfd, rel(p), how)
		switch err {
		case unix.EINTR, unix.EAGAIN: // EAGAIN: a concurrent rename; the kernel asks to retry
			continue
		case unix.ENOSYS:
			return -1, false, nil
		}
		return fd, true, err
	}
}

// Resolve is the real path of p inside the root with every symlink
// resolved as the root's own programs would resolve it; the last
// component need not exist. The answer holds no symlink, so a tool given it
// reads exactly that file (unless the tree changes in between).
func (r Root) Resolve(p string) (string, error) {
	real, err := r.resolve(p, true)
	if err != nil {
		return "", r.errorf("resolve", p, err)
	}
	return real, nil
}

// resolve walks p component by component under the root: ".." stops at
// the root, an absolute link starts again at the root, at most maxLinks
// links. With followLast false a final symlink is returned itself. A
// missing last component is allowed (the path of a file to create); a
// missing directory before it is ENOENT.
func (r Root) resolve(p string, followLast bool) (string, error) {
	var done []string
	todo := split(p)
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := filepath.Join(append([]string{r.dir}, append(done, c)...)...)
		st, err := os.Lstat(cur)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && len(todo) == 0 {
				return cur, nil
			}
			return "", underlying(err)
		}
		if st.Mode()&fs.ModeSymlink != 0 && (len(todo) > 0 || followLast) {
			if links++; links > maxLinks {
				return "", syscall.ELOOP
			}
			target, err := os.Readlink(cur)
			if err != nil {
				return "", underlying(err)
			}
			if strings.HasPrefix(target, "/") {
				done = done[:0]
			}
			todo = append(split(target), todo...)
			continue
		}
		if len(todo) > 0 && !st.IsDir() {
			return "", syscall.ENOTDIR
		}
		done = append(done, c)
	}
	return filepath.Join(append([]string{r.dir}, done...)...), nil
}

func split(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// underlying strips *PathError so messages name the path once, as Join
// shows it.
func underlying(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// IsNotExist reports a missing file through any wrapping.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
