package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// MaxStateSize bounds the container state an agent accepts: runc's is a few
// kilobytes; anything near this is not runc.
const MaxStateSize = 1 << 20

// maxIDLen bounds a container id (Docker's are 64 hex digits).
const maxIDLen = 1024

// AgentState is what a runtime tells the agent about the container whose
// listener it sends.
type AgentState struct {
	Container Container
	// SeccompFd is the index of the listener among the received fds.
	SeccompFd int
}

// ParseState parses the specs.ContainerProcessState JSON runc sends with a
// listener (runc's seccomp-agent protocol: one message, JSON payload, the
// fds named in "fds" passed over SCM_RIGHTS in the same order). nfds is the
// number of fds received with it.
func ParseState(data []byte, nfds int) (AgentState, error) {
	if len(data) == 0 {
		return AgentState{}, errors.New("container state: empty message")
	}
	if len(data) > MaxStateSize {
		return AgentState{}, fmt.Errorf("container state: %d bytes, more than the %d allowed", len(data), MaxStateSize)
	}
	var s specs.ContainerProcessState
	if err := json.Unmarshal(data, &s); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return AgentState{}, fmt.Errorf("container state: invalid JSON at byte %d: %v", syn.Offset, syn)
		case errors.As(err, &typ):
			return AgentState{}, fmt.Errorf("container state: %q at byte %d: want %s, not %s", typ.Field, typ.Offset, typ.Type, typ.Value)
		}
		return AgentState{}, fmt.Errorf("container state: %w", err)
	}
	if s.Version == "" {
		return AgentState{}, errors.New("container state: no ociVersion")
	}
	idx := -1
	for i, name := range s.Fds {
		if name != specs.SeccompFdName {
			continue
		}
		if idx != -1 {
			return AgentState{}, fmt.Errorf("container state: %q named twice in fds", specs.SeccompFdName)
		}
		idx = i
	}
	if idx == -1 {
		return AgentState{}, fmt.Errorf("container state: no %q in fds %q", specs.SeccompFdName, s.Fds)
	}
	if idx >= nfds {
		return AgentState{}, fmt.Errorf("container state: %q is fd #%d but only %d came with the message", specs.SeccompFdName, idx, nfds)
	}
	id := s.State.ID
	switch {
	case id == "":
		return AgentState{}, errors.New("container state: no container id")
	case len(id) > maxIDLen:
		return AgentState{}, fmt.Errorf("container state: container id of %d bytes", len(id))
	case !utf8.ValidString(id) || strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return AgentState{}, errors.New("container state: container id with control characters or invalid UTF-8")
	}
	if s.Pid < 0 {
		return AgentState{}, fmt.Errorf("container state: pid %d", s.Pid)
	}
	return AgentState{
		Container: Container{ID: id, Metadata: s.Metadata, Bundle: s.State.Bundle, Pid: s.Pid},
		SeccompFd: idx,
	}, nil
}

// SafeName turns a container id or metadata (untrusted: any client of the
// socket can send one) into a file name part: letters, digits, '.', '_' and
// '-', no leading dot, at most 128 bytes.
func SafeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 128 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.TrimLeft(b.String(), ".")
	if name == "" {
		return "container"
	}
	return name
}
