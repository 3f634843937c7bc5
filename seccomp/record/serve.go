package record

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/ctsec/ctsec/internal/clock"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// admitter decides whether a notification belongs to the recording (the
// process recorder ignores the shim's own syscalls before the exec).
type admitter interface {
	admit(req *libseccomp.ScmpNotifReq) bool
}

// server answers every notification on one listener with "continue" and
// counts it. One goroutine serves one listener: a second reader could block
// in NOTIF_RECV after the last task is gone and never wake up again.
type server struct {
	fd    libseccomp.ScmpFd
	wake  int // eventfd: written to stop the loop
	gate  admitter
	tally *Tally
	pids  map[uint32]struct{} // thread ids seen, for reporting leftovers
	clock clock.Clock         // dates first and last sightings

	stopOnce sync.Once
	// Answered counts notifications answered, admitted or not.
	answered uint64
}

func newServer(fd libseccomp.ScmpFd, gate admitter, clk clock.Clock) (*server, error) {
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating eventfd: %w", err)
	}
	// Synchronous wake-up (Linux 6.6+) switches the CPU straight between
	// the recorded task and the recorder instead of going through the
	// scheduler on every notification; older kernels refuse it, harmlessly.
	unix.IoctlSetInt(int(fd), unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, userNotifFdSyncWakeUp)
	return &server{fd: fd, wake: wake, gate: gate, tally: NewTally(), pids: map[uint32]struct{}{}, clock: clock.Or(clk)}, nil
}

// stop makes run return at its next poll. Tasks still under the filter then
// get ENOSYS for every notified syscall, so callers stop only when told to.
func (s *server) stop() {
	s.stopOnce.Do(func() {
		var one = [8]byte{1}
		unix.Write(s.wake, one[:])
	})
}

// close releases the listener and the eventfd; call it after run returned.
func (s *server) close() {
	unix.Close(int(s.fd))
	unix.Close(s.wake)
}

// run serves until every task under the filter is gone (the listener polls
// HUP) or stop is called.
func (s *server) run() error {
	fds := []unix.PollFd{
		{Fd: int32(s.fd), Events: unix.POLLIN},
		{Fd: int32(s.wake), Events: unix.POLLIN},
	}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("polling the seccomp listener: %w", err)
		}
		if fds[1].Revents != 0 {
			return nil
		}
		ev := fds[0].Revents
		if ev&unix.POLLIN != 0 {
			if err := s.answer(); err != nil {
				return err
			}
			continue
		}
		if ev&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
			return nil
		}
	}
}

// answer receives one notification, lets it continue and counts it. A
// notification whose task was interrupted by a signal is gone by the time
// we answer (ENOENT); the kernel restarts the call as a new notification, so
// only answered ones are counted and nothing is counted twice.
func (s *server) answer() error {
	req, err := libseccomp.NotifReceive(s.fd)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("receiving a seccomp notification: %w", err)
	}
	admitted := s.gate == nil || s.gate.admit(req)
	resp := &libseccomp.ScmpNotifResp{ID: req.ID, Flags: libseccomp.NotifRespFlagContinue}
	if err := libseccomp.NotifRespond(s.fd, resp); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("answering a seccomp notification: %w", err)
	}
	s.answered++
	if admitted {
		s.pids[req.Pid] = struct{}{}
		arch, nr := req.Data.Arch, int32(req.Data.Syscall)
		if arch == libseccomp.ArchAMD64 && nr&x32SyscallBit != 0 {
			arch = libseccomp.ArchX32 // x32 calls carry x86_64's audit arch
		}
		s.tally.add(arch, nr, s.clock.Now())
	}
	return nil
}

// userNotifFdSyncWakeUp is SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP.
const userNotifFdSyncWakeUp = 1

// isNotifyFd reports whether fd is a seccomp user-notification listener.
func isNotifyFd(pid, fd int) bool {
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
	return err == nil && link == "anon_inode:seccomp notify"
}

// seenPids are the thread ids whose syscalls were recorded; read it only
// after run returned.
func (s *server) seenPids() map[uint32]struct{} { return s.pids }
