package record

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Options says what to record and how.
type Options struct {
	// Args is the command and its arguments.
	Args []string
	// Shim runs Shim in a new process: the ctsec binary and ShimCommand.
	Shim []string
	// Stdin, Stdout and Stderr are the command's; nil means /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Env is the command's environment; nil means the recorder's.
	Env []string
	// Dir is the command's working directory; empty means the recorder's.
	Dir string
	// Clock dates the recording; nil is the system clock.
	Clock clock.Clock
	// Grace is how long an interrupted command gets to exit before it is
	// killed. Zero means 10 seconds.
	Grace time.Duration
	// ForwardInterrupt sends SIGINT to the command when ctx is cancelled.
	// Leave it false when a terminal already sent SIGINT to the command's
	// process group (Ctrl-C), so the command does not get it twice.
	ForwardInterrupt bool
}

// Result is a finished process recording.
type Result struct {
	Observation Observation
	// ExitCode is the command's exit status, -1 when a signal ended it.
	ExitCode int
	// Signal names the signal that ended the command, if one did.
	Signal string
	// Answered is the number of notifications answered, the shim's included.
	Answered uint64
	// Leftover lists processes the command started that were still running
	// under the recording filter when the recorder had to stop.
	Leftover []int
}

// Record runs opts.Args under a notify filter and records every syscall of
// the command and everything it starts, until all of them have exited.
// Cancelling ctx ends the recording cleanly: the command is interrupted,
// given opts.Grace to exit, then killed, and the recording is still returned.
func Record(ctx context.Context, opts Options) (*Result, error) {
	if len(opts.Args) == 0 {
		return nil, errors.New("no command to record")
	}
	if len(opts.Shim) == 0 {
		return nil, errors.New("no recording shim configured")
	}
	if opts.Grace <= 0 {
		opts.Grace = 10 * time.Second
	}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating the shim's sync pipe: %w", err)
	}
	defer syncR.Close()
	args := append(append(append([]string{}, opts.Shim[1:]...), "--"), opts.Args...)
	cmd := exec.Command(opts.Shim[0], args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.Stdin, opts.Stdout, opts.Stderr
	cmd.Env, cmd.Dir = opts.Env, opts.Dir
	cmd.ExtraFiles = []*os.File{syncW} // fd 3 = shimSyncFd
	clk := clock.Or(opts.Clock)
	started := clk.Now()
	if err := cmd.Start(); err != nil {
		syncW.Close()
		return nil, fmt.Errorf("starting the recording shim %s: %w", opts.Shim[0], err)
	}
	syncW.Close()
	// exited is closed once the shim (by then the command) has been reaped;
	// its status is in cmd.ProcessState.
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()

	fd, err := takeListener(cmd.Process.Pid, syncR, exited)
	if err != nil {
		cmd.Process.Kill()
		<-exited
		return nil, fmt.Errorf("recording %s: %w", opts.Args[0], err)
	}
	srv, err := newServer(fd, newShimGate(cmd.Process.Pid), clk)
	if err != nil {
		unix.Close(int(fd))
		cmd.Process.Kill()
		<-exited
		return nil, err
	}
	defer srv.close()
	served := make(chan error, 1)
	go func() { served <- srv.run() }()

	res := &Result{}
	var serveErr error
	var waitDone, serveDone, interrupted, stopped bool
	var grace, last <-chan time.Time
	ctxDone := ctx.Done()
	for !serveDone {
		select {
		case <-exited:
			exited, waitDone = nil, true
		case serveErr = <-served:
			serveDone = true
		case <-ctxDone:
			ctxDone, interrupted = nil, true
			if !waitDone && opts.ForwardInterrupt {
				cmd.Process.Signal(os.Interrupt)
			}
			grace = time.After(opts.Grace)
		case <-grace:
			grace = nil
			if !waitDone {
				cmd.Process.Kill()
			}
			last = time.After(2 * time.Second)
		case <-last:
			// Processes that left the command's control (daemons) still
			// hold the filter; stop serving them and say so below.
			stopped = true
			srv.stop()
		}
		if serveErr != nil && !waitDone {
			// Without a recorder every notified syscall fails; end the
			// command rather than leave it half-working.
			cmd.Process.Kill()
		}
	}
	if !waitDone {
		<-exited
	}
	// The interrupt may have ended the command (a terminal's Ctrl-C reaches
	// it directly) before this loop saw ctx; it was interrupted all the same.
	interrupted = interrupted || ctx.Err() != nil
	if serveErr != nil {
		return nil, fmt.Errorf("recording %s: %w", opts.Args[0], serveErr)
	}
	if stopped {
		res.Leftover = stillRunning(srv)
	}
	res.Answered = srv.answered
	res.ExitCode = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = unix.SignalName(ws.Signal())
	}
	res.Observation = Observation{
		Version: ObservationVersion, Source: SourceProcess,
		Command: append([]string(nil), opts.Args...),
		Started: started.UTC(), Ended: clk.Now().UTC(), Interrupted: interrupted,
		Implicit: implicitFor(SourceProcess),
		Host:     thisHost(),
	}
	srv.tally.fill(&res.Observation)
	return res, nil
}

// takeListener waits for the shim to say it is loading the filter, then
// finds the listener in the shim's descriptor table and copies it with
// pidfd_getfd. The shim is blocked in its first notified syscall meanwhile.
func takeListener(pid int, sync *os.File, exited <-chan struct{}) (libseccomp.ScmpFd, error) {
	msg, err := io.ReadAll(io.LimitReader(sync, 4096))
	if err != nil {
		return -1, fmt.Errorf("reading from the recording shim: %w", err)
	}
	if len(msg) == 0 {
		return -1, errors.New("the recording shim exited before loading its filter")
	}
	if msg[0] == syncError {
		return -1, errors.New(strings.TrimSpace(string(msg[1:])))
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("pidfd_open(%d): %w", pid, err)
	}
	defer unix.Close(pidfd)
	timeout := time.After(10 * time.Second)
	for delay := 50 * time.Microsecond; ; delay = min(2*delay, 10*time.Millisecond) {
		if n, ok := findListener(pid); ok {
			fd, err := unix.PidfdGetfd(pidfd, n, 0)
			if err != nil {
				return -1, fmt.Errorf("copying the listener from the shim (pidfd_getfd): %w", err)
			}
			return libseccomp.ScmpFd(fd), nil
		}
		select {
		case <-exited:
			return -1, errors.New("the recording shim exited while loading its filter")
		case <-timeout:
			return -1, errors.New("the recording shim loaded no seccomp listener within 10s")
		case <-time.After(delay):
		}
	}
}

// findListener looks for the seccomp listener among a process's descriptors.
func findListener(pid int) (int, bool) {
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return 0, false
	}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err == nil && isNotifyFd(pid, n) {
			return n, true
		}
	}
	return 0, false
}

// stillRunning lists the processes the recording saw that are still alive.
// They are only reported, never signalled: a pid seen earlier may by now
// belong to an unrelated process.
func stillRunning(srv *server) []int {
	var pids []int
	for pid := range srv.seenPids() {
		if unix.Kill(int(pid), 0) == nil {
			pids = append(pids, int(pid))
		}
	}
	return pids
}
