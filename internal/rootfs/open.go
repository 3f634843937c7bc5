package rootfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Open opens a regular file of the host for reading. A FIFO, socket,
// device or directory is refused before it is opened for reading, so
// nothing blocks and no device sees an open.
func (r Root) Open(p string) (*os.File, error) {
	f, err := r.open(p)
	if err != nil {
		return nil, r.errorf("open", p, err)
	}
	return f, nil
}

func (r Root) open(p string) (*os.File, error) {
	// O_PATH first: it has no effect on what it names, not even on a
	// watchdog device, and fstat tells what it is.
	pfd, ok, err := r.openat2(p, unix.O_PATH)
	if !ok {
		real, err := r.resolve(p, true)
		if err != nil {
			return nil, err
		}
		return openRegular(real, unix.O_NOFOLLOW)
	}
	if err != nil {
		return nil, err
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, err
	}
	if err := checkRegular(&st); err != nil {
		return nil, err
	}
	fd, _, err := r.openat2(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return nil, err
	}
	return finishOpen(fd, &st, r.Join(p))
}

// OpenRegular opens an absolute or relative path outside any root (a
// policy file, a profile, a log) for reading, refusing FIFOs, sockets,
// devices and directories without blocking on them.
func OpenRegular(name string) (*os.File, error) {
	f, err := openRegular(name, 0)
	if err != nil {
		return nil, &Error{Op: "open", Path: name, Err: err}
	}
	return f, nil
}

func openRegular(name string, extra int) (*os.File, error) {
	pfd, err := unix.Open(name, unix.O_PATH|unix.O_CLOEXEC|extra, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, err
	}
	if err := checkRegular(&st); err != nil {
		return nil, err
	}
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC|extra, 0)
	if err != nil {
		return nil, err
	}
	return finishOpen(fd, &st, name)
}

func checkRegular(st *unix.Stat_t) error {
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		return nil
	}
	return notRegular(modeOf(st.Mode))
}

// finishOpen checks the opened file is the one inspected (not swapped in
// between) and makes it blocking again for ordinary reads.
func finishOpen(fd int, want *unix.Stat_t, name string) (*os.File, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if st.Dev != want.Dev || st.Ino != want.Ino || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, errors.New("changed while being opened")
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func modeOf(m uint32) fs.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	}
	return fs.ModeIrregular
}

// TooLargeError is a file over a reader's size limit.
type TooLargeError struct {
	Path  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: larger than %d bytes", e.Path, e.Limit)
}

// ReadFile reads a regular file of the host, at most limit bytes (more is
// an error, not a silent cut).
func (r Root) ReadFile(p string, limit int64) ([]byte, error) {
	f, err := r.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, r.Join(p), limit)
}

// ReadRegular is ReadFile for a path outside any root.
func ReadRegular(name string, limit int64) ([]byte, error) {
	f, err := OpenRegular(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, name, limit)
}

func readAll(f *os.File, name string, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &Error{Op: "read", Path: name, Err: underlying(err)}
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Path: name, Limit: limit}
	}
	return b, nil
}

// Stat describes what p names inside the root, following symlinks there.
func (r Root) Stat(p string) (fs.FileInfo, error) { return r.stat(p, true) }

// Lstat is Stat without following a final symlink.
func (r Root) Lstat(p string) (fs.FileInfo, error) { return r.stat(p, false) }

func (r Root) stat(p string, follow bool) (fs.FileInfo, error) {
	flags := unix.O_PATH
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	fd, ok, err := r.openat2(p, flags)
	if ok {
		if err != nil {
			return nil, r.errorf("stat", p, err)
		}
		f := os.NewFile(uintptr(fd), r.Join(p))
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, r.errorf("stat", p, underlying(err))
		}
		return st, nil
	}
	real, err := r.resolve(p, follow)
	if err != nil {
		return nil, r.errorf("stat", p, err)
	}
	st, err := os.Lstat(real)
	if err != nil {
		return nil, r.errorf("stat", p, underlying(err))
	}
	return st, nil
}

// Exists reports whether p names anything inside the root.
func (r Root) Exists(p string) bool {
	_, err := r.Stat(p)
	return err == nil
}

// openDir opens a directory inside the root (O_PATH unless readable).
func (r Root) openDir(p string, readable bool) (*os.File, error) {
	flags := unix.O_DIRECTORY
	if readable {
		flags |= unix.O_RDONLY
	} else {
		flags |= unix.O_PATH
	}
	fd, ok, err := r.openat2(p, flags)
	if !ok {
		real, rerr := r.resolve(p, true)
		if rerr != nil {
			return nil, rerr
		}
		fd, err = unix.Open(real, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), r.Join(p)), nil
}

// ReadDir lists a directory of the host, sorted by name.
func (r Root) ReadDir(p string) ([]fs.DirEntry, error) {
	d, err := r.openDir(p, true)
	if err != nil {
		return nil, r.errorf("open", p, err)
	}
	defer d.Close()
	es, err := d.ReadDir(-1)
	if err != nil {
		return nil, r.errorf("read", p, underlying(err))
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Name() < es[j].Name() })
	return es, nil
}

// Glob expands a host path pattern inside the root, as glob(3) does for
// sshd, fail2ban and systemd: "*", "?" and "[…]" in any component, a
// leading "." only matched by a pattern that starts with one, results in
// lexical order. The paths returned are host paths as the pattern spells
// them, not resolved; a malformed pattern is filepath.ErrBadPattern.
func (r Root) Glob(pattern string) ([]string, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, err
	}
	join := func(dir, c string) string {
		if dir == "/" {
			return "/" + c
		}
		return dir + "/" + c
	}
	out := []string{"/"}
	for _, c := range split(pattern) {
		var next []string
		for _, dir := range out {
			if !hasMeta(c) {
				p := join(dir, c)
				if _, err := r.Lstat(p); err == nil {
					next = append(next, p)
				}
				continue
			}
			es, err := r.ReadDir(dir)
			if err != nil {
				continue // not a directory, or unreadable: glob(3) skips it too
			}
			for _, e := range es {
				n := e.Name()
				if strings.HasPrefix(n, ".") && !strings.HasPrefix(c, ".") {
					continue
				}
				if ok, _ := path.Match(c, n); ok {
					next = append(next, join(dir, n))
				}
			}
		}
		out = next
		if len(out) == 0 {
			return nil, nil
		}
	}
	if len(out) == 1 && out[0] == "/" && pattern != "/" {
		return nil, nil
	}
	sort.Strings(out)
	return out, nil
}

func hasMeta(c string) bool { return strings.ContainsAny(c, `*?[\`) }

// CopyOut copies a host file, or a directory tree of the host, to dst on
// this machine, so a real tool can be handed a private copy that cannot
// lead it outside the root: symlinks are resolved inside the root (a link
// to a directory is copied as that directory), permission bits are kept,
// and a FIFO, socket or device anywhere in it is an error. dst must not
// exist yet or be an empty directory.
func (r Root) CopyOut(p, dst string) error {
	return r.copyOut(p, dst, 0)
}

func (r Root) copyOut(p, dst string, depth int) error {
	if depth > 64 {
		return r.errorf("copy", p, errors.New("directories nested too deep (a symlink loop?)"))
	}
	st, err := r.Stat(p)
	if err != nil {
		if lst, lerr := r.Lstat(p); IsNotExist(err) && depth > 0 && lerr == nil && lst.Mode()&fs.ModeSymlink != 0 {
			return nil // a dangling link holds nothing to copy
		}
		return err
	}
	switch {
	case st.IsDir():
		if err := os.MkdirAll(dst, st.Mode().Perm()|0o700); err != nil {
			return err
		}
		es, err := r.ReadDir(p)
		if err != nil {
			return err
		}
		for _, e := range es {
			if err := r.copyOut(path.Join(p, e.Name()), filepath.Join(dst, e.Name()), depth+1); err != nil {
				return err
			}
		}
		return nil
	case st.Mode().IsRegular():
		b, err := r.ReadFile(p, 64<<20)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, st.Mode().Perm())
	}
	return r.errorf("copy", p, notRegular(st.Mode()))
}
