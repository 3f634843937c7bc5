package record

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Agent records containers: it serves runc's seccomp-agent protocol on a
// unix socket (the recording profile's listenerPath), and records each
// container's listener until every process under it has exited.
type Agent struct {
	// Done gets each finished container recording. Several `runc exec`
	// sessions of one container are merged and finish with the last one.
	// It runs on the agent's goroutine, one call at a time.
	Done func(*Observation)
	// Log gets one line per event (container started, rejected message).
	Log io.Writer
	// Once stops the agent after the first container finished.
	Once bool
	// Clock dates the recordings; nil is the system clock.
	Clock clock.Clock
}

// Listen creates the agent socket at path, readable and writable by its
// owner only: whoever can connect can hand the agent listeners. A stale
// socket is replaced; any other file at path is an error.
func Listen(path string) (*net.UnixListener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("listening on %q: exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("listening on %q: another agent answers there", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale socket %q: %w", path, err)
		}
	}
	old := unix.Umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listening on %q: %w", path, err)
	}
	return ln, nil
}

type session struct {
	id  string
	srv *server
	err error
}

type recording struct {
	obs      Observation
	tally    *Tally
	sessions map[*server]bool
}

// Serve accepts runtimes on ln until ctx is cancelled (or, with Once, the
// first container finished). On cancel, containers still running are
// stopped being served — their notified syscalls then fail with ENOSYS —
// and what was recorded of them is handed to Done, marked interrupted.
func (a *Agent) Serve(ctx context.Context, ln *net.UnixListener) error {
	defer ln.Close()
	conns := make(chan *net.UnixConn)
	acceptErr := make(chan error, 1)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				acceptErr <- err
				return
			}
			select {
			case conns <- c:
			case <-quit:
				c.Close()
				return
			}
		}
	}()
	ended := make(chan session)
	recs := map[string]*recording{}
	finish := func(id string, interrupted bool) {
		r := recs[id]
		delete(recs, id)
		r.obs.Ended = clock.Or(a.Clock).Now().UTC()
		r.obs.Interrupted = interrupted
		r.tally.fill(&r.obs)
		if a.Done != nil {
			a.Done(&r.obs)
		}
	}
	stopAll := func() {
		for _, r := range recs {
			for srv := range r.sessions {
				srv.stop()
			}
		}
	}
	for {
		select {
		case c := <-conns:
			st, fd, err := receive(c)
			c.Close()
			if err != nil {
				a.logf("rejected a connection: %v", err)
				continue
			}
			srv, err := newServer(fd, nil, a.Clock)
			if err != nil {
				unix.Close(int(fd))
				a.logf("container %s: %v", st.Container.ID, err)
				continue
			}
			r := recs[st.Container.ID]
			if r == nil {
				r = &recording{
					obs: Observation{
						Version: ObservationVersion, Source: SourceContainer,
						Container: &st.Container, Started: clock.Or(a.Clock).Now().UTC(),
						Implicit: implicitFor(SourceContainer),
						Host:     thisHost(),
					},
					tally: NewTally(), sessions: map[*server]bool{},
				}
				recs[st.Container.ID] = r
				a.logf("recording container %s (pid %d)", st.Container.ID, st.Container.Pid)
			}
			r.sessions[srv] = true
			go func(id string) { ended <- session{id: id, srv: srv, err: srv.run()} }(st.Container.ID)
		case s := <-ended:
			r := recs[s.id]
			s.srv.close()
			delete(r.sessions, s.srv)
			r.tally.Merge(s.srv.tally)
			if s.err != nil {
				a.logf("container %s: %v", s.id, s.err)
			}
			if len(r.sessions) == 0 {
				finish(s.id, s.err != nil)
				if a.Once {
					stopAll()
					return a.drain(recs, ended, finish)
				}
			}
		case err := <-acceptErr:
			stopAll()
			if derr := a.drain(recs, ended, finish); derr != nil {
				return derr
			}
			return fmt.Errorf("accepting on the agent socket: %w", err)
		case <-ctx.Done():
			stopAll()
			return a.drain(recs, ended, finish)
		}
	}
}

// drain waits for stopped sessions and finishes their recordings.
func (a *Agent) drain(recs map[string]*recording, ended chan session, finish func(string, bool)) error {
	for len(recs) > 0 {
		s := <-ended
		r := recs[s.id]
		s.srv.close()
		delete(r.sessions, s.srv)
		r.tally.Merge(s.srv.tally)
		if len(r.sessions) == 0 {
			finish(s.id, true)
		}
	}
	return nil
}

func (a *Agent) logf(format string, args ...any) {
	if a.Log != nil {
		fmt.Fprintf(a.Log, format+"\n", args...)
	}
}

// maxAgentFds bounds the fds one message may carry.
const maxAgentFds = 16

// receive reads one runtime message: the state JSON, with the fds in the
// first segment's SCM_RIGHTS, then the rest of the JSON until the runtime
// closes the connection. Every fd but the verified listener is closed.
func receive(c *net.UnixConn) (AgentState, libseccomp.ScmpFd, error) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second)) // elapsed: the socket deadline is on the wall clock
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*maxAgentFds))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return AgentState{}, -1, fmt.Errorf("reading the runtime's message: %w", err)
	}
	fds, err := parseRights(oob[:oobn])
	closeAll := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	if err != nil {
		closeAll()
		return AgentState{}, -1, err
	}
	if flags&unix.MSG_CTRUNC != 0 {
		closeAll()
		return AgentState{}, -1, fmt.Errorf("more than %d fds in one message", maxAgentFds)
	}
	// runc sends the state in one sendmsg and keeps the connection open
	// (1.1 closes only a dup of it), so read on only while the JSON is
	// incomplete rather than up to EOF.
	data := buf[:n]
	for !json.Valid(data) && len(data) <= MaxStateSize {
		more := make([]byte, 64<<10)
		m, err := c.Read(more)
		data = append(data, more[:m]...)
		if err != nil {
			break // ParseState says what is wrong with what came
		}
	}
	st, err := ParseState(data, len(fds))
	if err != nil {
		closeAll()
		return AgentState{}, -1, err
	}
	fd := fds[st.SeccompFd]
	for i, other := range fds {
		if i != st.SeccompFd {
			unix.Close(other)
		}
	}
	if !isNotifyFd(os.Getpid(), fd) {
		unix.Close(fd)
		return AgentState{}, -1, fmt.Errorf("container %s: the %q fd is not a seccomp listener", st.Container.ID, "seccompFd")
	}
	return st, libseccomp.ScmpFd(fd), nil
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parsing the runtime's control message: %w", err)
	}
	var fds []int
	var firstErr error
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("parsing the runtime's control message: %w", err)
			}
			continue
		}
		fds = append(fds, got...)
	}
	if firstErr == nil && len(fds) == 0 {
		firstErr = errors.New("the runtime sent no fds")
	}
	return fds, firstErr
}
