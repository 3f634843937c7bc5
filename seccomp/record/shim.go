package record

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// ShimCommand is the hidden ctsec subcommand that runs Shim.
const ShimCommand = "__record-shim"

// shimSyncFd is where the shim finds the write end of its sync pipe.
const shimSyncFd = 3

// Sync bytes the shim sends before it loads the filter.
const (
	syncReady = 'R' // the filter is being loaded now; take the listener
	syncError = 'E' // followed by a one-line reason; the shim exits
)

// Shim is the re-executed half of Record. It resolves the command, builds a
// filter that notifies every syscall (but the few in filterAllowed), tells the
// parent it is about to load it, loads it and execs the command. It returns
// only when it could not exec; the caller exits non-zero.
//
// The shim never sends the listener itself: any syscall after loading the
// filter waits for a recorder that does not have the listener yet. The parent
// instead finds the listener in /proc/PID/fd and copies it with pidfd_getfd.
//
// Callers should run Shim on the main OS thread (runtime.LockOSThread in an
// init function), so the exec comes from the thread group leader and the
// recorder can tell the command's syscalls from the shim's dying threads.
func Shim(args []string) error {
	runtime.LockOSThread()
	// Without the recorder's pipe nobody would take the listener and the
	// first syscall after loading the filter would wait forever.
	var st unix.Stat_t
	if err := unix.Fstat(shimSyncFd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return fmt.Errorf("recording shim: fd %d is not the recorder's pipe; it is run by ctsec profile record only", shimSyncFd)
	}
	sync := os.NewFile(shimSyncFd, "record-sync")
	fail := func(err error) error {
		sync.Write(append([]byte{syncError}, []byte(err.Error())...))
		sync.Close()
		return err
	}
	if len(args) == 0 {
		return fail(fmt.Errorf("no command to record"))
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return fail(err)
	}
	filter, err := processFilter()
	if err != nil {
		return fail(err)
	}
	if _, err := sync.Write([]byte{syncReady}); err != nil {
		return fmt.Errorf("recording shim: telling the recorder: %w", err)
	}
	sync.Close()
	if err := filter.Load(); err != nil {
		// The parent now waits for a listener that never comes; it notices
		// the shim's exit.
		return fmt.Errorf("loading the recording filter: %w", err)
	}
	err = syscall.Exec(path, args, os.Environ())
	return fmt.Errorf("executing %s: %w", path, err)
}

// processFilter notifies every syscall on the native architecture and its
// compat ABIs, except filterAllowed.
func processFilter() (*libseccomp.ScmpFilter, error) {
	filter, err := libseccomp.NewFilter(libseccomp.ActNotify)
	if err != nil {
		return nil, fmt.Errorf("creating the recording filter: %w", err)
	}
	arches, err := nativeArches()
	if err != nil {
		return nil, err
	}
	for _, a := range arches[1:] {
		if err := filter.AddArch(a); err != nil {
			return nil, fmt.Errorf("adding architecture %s to the recording filter: %w", a, err)
		}
	}
	for _, s := range filterAllowed {
		nr, err := libseccomp.GetSyscallFromName(s.Name)
		if err != nil {
			continue // e.g. sigreturn has no number on x86_64; AddRule maps per arch
		}
		if err := filter.AddRule(nr, libseccomp.ActAllow); err != nil {
			return nil, fmt.Errorf("allowing %s in the recording filter: %w", s.Name, err)
		}
	}
	// Root keeps setuid binaries working as they do in production;
	// unprivileged users need no_new_privs to load a filter at all.
	if err := filter.SetNoNewPrivsBit(os.Geteuid() != 0); err != nil {
		return nil, fmt.Errorf("setting no_new_privs on the recording filter: %w", err)
	}
	return filter, nil
}
