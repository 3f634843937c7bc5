package rootfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Ownership says who owns a file WriteFile replaces, and with what mode.
type Ownership struct {
	reset    bool
	uid, gid int
}

var (
	// Keep gives an existing file its own mode and owner back; a new file
	// gets the mode asked for and the writer as owner.
	Keep = Ownership{uid: -1, gid: -1}
	// Reset gives the file the mode asked for and the writer as owner, also
	// when it existed: for files only the writer should control (a root
	// drop-in that someone else came to own).
	Reset = Ownership{reset: true, uid: -1, gid: -1}
)

// Owner gives the file the mode asked for and this owner (a restore puts
// back the owner it recorded).
func Owner(uid, gid int) Ownership { return Ownership{reset: true, uid: uid, gid: gid} }

// WriteFile replaces the host file p with data atomically: a temporary
// file in the same directory is written, synced and renamed over p, all
// through a handle on that directory opened inside the root, so a reader
// or a crash sees the old content or the new, and no symlink on the way can
// lead the write outside the root. The directory must exist (MkdirAll).
// A symlink at p itself is replaced, not followed.
func (r Root) WriteFile(p string, data []byte, perm fs.FileMode, own Ownership) error {
	dir, name, err := splitName(p)
	if err != nil {
		return r.errorf("write", p, err)
	}
	d, err := r.openDir(dir, true)
	if err != nil {
		return r.errorf("write", p, err)
	}
	defer d.Close()
	if err := writeAt(d, name, data, perm, own); err != nil {
		return r.errorf("write", p, err)
	}
	return nil
}

// WriteFileAt is WriteFile for a name inside an already open directory
// (outside any root).
func WriteFileAt(dir *os.File, name string, data []byte, perm fs.FileMode, own Ownership) error {
	if name == "" || strings.Contains(name, "/") || name == "." || name == ".." {
		return fmt.Errorf("%q is not a file name", name)
	}
	return writeAt(dir, name, data, perm, own)
}

// tempMark is in every temporary file name, so a later write in the same
// directory can find the ones a killed process left behind.
const tempMark = ".ctsec-"

func writeAt(d *os.File, name string, data []byte, perm fs.FileMode, own Ownership) error {
	dfd := int(d.Fd())
	mode, uid, gid := perm.Perm(), own.uid, own.gid
	var st unix.Stat_t
	err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return notRegular(fs.ModeDir)
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && !own.reset:
		mode = fs.FileMode(st.Mode & 0o7777).Perm()
		uid, gid = int(st.Uid), int(st.Gid)
	case err == nil && !own.reset && st.Mode&unix.S_IFMT != unix.S_IFLNK:
		return notRegular(modeOf(st.Mode))
	case err != nil && err != unix.ENOENT:
		return err
	}
	removeStale(dfd)
	tmp, f, err := createTemp(dfd, name)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			unix.Unlinkat(dfd, tmp, 0)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return underlying(err)
	}
	if err := f.Chmod(mode); err != nil {
		return underlying(err)
	}
	if uid >= 0 || gid >= 0 {
		// Only root can give a file away; for anyone else the owner already matches.
		if err := f.Chown(uid, gid); err != nil && !errors.Is(err, fs.ErrPermission) {
			return underlying(err)
		}
	}
	if err := f.Sync(); err != nil {
		return underlying(err)
	}
	if err := unix.Renameat(dfd, tmp, dfd, name); err != nil {
		return err
	}
	ok = true
	f.Close() // releases the lock only now: the name is gone
	if err := unix.Fsync(dfd); err != nil && err != unix.EINVAL {
		return fmt.Errorf("syncing the directory: %w", err)
	}
	return nil
}

// createTemp makes ".NAME.ctsec-PID-RANDOM" and holds an exclusive flock
// on it until it is renamed or removed: a temporary file nobody holds
// locked, made by a process that is gone, is left over from a crash.
func createTemp(dfd int, name string) (string, *os.File, error) {
	for range 16 {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", nil, err
		}
		tmp := "." + name + tempMark + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
		fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
			unix.Close(fd)
			unix.Unlinkat(dfd, tmp, 0)
			return "", nil, err
		}
		return tmp, os.NewFile(uintptr(fd), tmp), nil
	}
	return "", nil, errors.New("cannot create a temporary file")
}

// removeStale removes the temporary files a killed ctsec left in the
// directory: ours by name and owner, regular, unlocked, and made by a
// process that no longer runs. One that is locked or whose process still
// runs is being written now, and stays.
func removeStale(dfd int) {
	d, err := unix.Openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(d), ".")
	names, _ := f.Readdirnames(-1)
	f.Close()
	for _, n := range names {
		pid, ok := tempPID(n)
		if !ok || pid == os.Getpid() || processRuns(pid) {
			continue
		}
		fd, err := unix.Openat(dfd, n, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && int(st.Uid) == os.Geteuid() &&
			unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
			unix.Unlinkat(dfd, n, 0)
		}
		unix.Close(fd)
	}
}

// tempPID is the process id in a temporary file's name.
func tempPID(name string) (int, bool) {
	if !strings.HasPrefix(name, ".") {
		return 0, false
	}
	i := strings.LastIndex(name, tempMark)
	if i < 0 {
		return 0, false
	}
	pidText, _, ok := strings.Cut(name[i+len(tempMark):], "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(pidText)
	return pid, err == nil && pid > 0
}

func processRuns(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// MkdirAll creates the directory p and any missing parents inside the
// root with perm (before umask), and returns the host paths it created,
// deepest last.
func (r Root) MkdirAll(p string, perm fs.FileMode) ([]string, error) {
	var created []string
	cur := "/"
	for _, c := range split(p) {
		if c == ".." {
			return nil, r.errorf("mkdir", p, errors.New(`".." in a directory to create`))
		}
		if c == "." {
			continue
		}
		next := path.Join(cur, c)
		st, err := r.Stat(next)
		if err == nil {
			if !st.IsDir() {
				return created, r.errorf("mkdir", next, syscall.ENOTDIR)
			}
			cur = next
			continue
		}
		if !IsNotExist(err) {
			return created, err
		}
		parent, err := r.openDir(cur, false)
		if err != nil {
			return created, r.errorf("mkdir", next, err)
		}
		err = unix.Mkdirat(int(parent.Fd()), c, uint32(perm.Perm()))
		parent.Close()
		if err != nil && err != unix.EEXIST {
			return created, r.errorf("mkdir", next, err)
		}
		if err == nil {
			created = append(created, next)
		}
		cur = next
	}
	return created, nil
}

// Remove removes the host file p (a symlink there itself, not its target);
// a file that is already gone is no error.
func (r Root) Remove(p string) error {
	dir, name, err := splitName(p)
	if err != nil {
		return r.errorf("remove", p, err)
	}
	d, err := r.openDir(dir, false)
	if IsNotExist(err) {
		return nil
	}
	if err != nil {
		return r.errorf("remove", p, err)
	}
	defer d.Close()
	if err := unix.Unlinkat(int(d.Fd()), name, 0); err != nil && err != unix.ENOENT {
		return r.errorf("remove", p, err)
	}
	return nil
}

// RemoveDir removes the empty directory p; one that holds anything stays,
// with an error.
func (r Root) RemoveDir(p string) error {
	dir, name, err := splitName(p)
	if err != nil {
		return r.errorf("remove", p, err)
	}
	d, err := r.openDir(dir, false)
	if err != nil {
		return r.errorf("remove", p, err)
	}
	defer d.Close()
	if err := unix.Unlinkat(int(d.Fd()), name, unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT {
		return r.errorf("remove", p, err)
	}
	return nil
}
