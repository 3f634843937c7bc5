package record

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/ctsec/ctsec/profiles"
	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Bases a recorded profile can add to what was observed.
const (
	BaseNone    = ""
	BaseRuntime = "runtime"
)

// RuntimeBase is what runc does itself after it has loaded a container's
// filter and before the container's process runs (finishing init, dropping
// capabilities, changing user, waiting on the exec fifo): the names the
// built-in `runtime` profile allows, plus the syscalls runc init's Go runtime
// may make at any moment (containerFilterAllowed), which one recording of
// runc can miss. A profile recorded from a plain process needs it to run
// under runc or Docker.
func RuntimeBase() ([]string, error) {
	data, err := profiles.Seccomp("runtime")
	if err != nil {
		return nil, err
	}
	var p seccomp.Seccomp
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("built-in runtime profile: %w", err)
	}
	set := map[string]bool{}
	for _, rule := range p.Syscalls {
		if rule.Action == specs.ActAllow {
			for _, name := range rule.Names {
				set[name] = true
			}
		}
	}
	for _, s := range containerFilterAllowed {
		set[s.Name] = true
	}
	names := make([]string, 0, len(set))
	for name := range set {
		if resolvesOnNative(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// ProfileOptions shape a recorded profile.
type ProfileOptions struct {
	// Base adds a base set: BaseNone or BaseRuntime.
	Base string
	// DefaultErrno is the errno denied syscalls get; 0 means EPERM (1),
	// Docker's choice.
	DefaultErrno uint
}

// Profile turns an observation into an allow-list profile in the Docker/moby
// format: default ERRNO, every observed and implicit syscall allowed, and
// clone3 answered with ENOSYS when it was not observed, so glibc falls back
// to clone instead of failing.
func Profile(obs *Observation, opts ProfileOptions) (*seccomp.Seccomp, error) {
	arches, err := nativeArches()
	if err != nil {
		return nil, err
	}
	allow := map[string]bool{}
	for _, s := range obs.Syscalls {
		allow[s.Name] = true
	}
	for _, s := range obs.Implicit {
		if resolvesOnNative(s.Name) {
			allow[s.Name] = true
		}
	}
	switch opts.Base {
	case BaseNone:
	case BaseRuntime:
		base, err := RuntimeBase()
		if err != nil {
			return nil, err
		}
		for _, name := range base {
			allow[name] = true
		}
	default:
		return nil, fmt.Errorf("unknown base %q (want %q or none)", opts.Base, BaseRuntime)
	}
	names := make([]string, 0, len(allow))
	for name := range allow {
		names = append(names, name)
	}
	sort.Strings(names)
	errno := opts.DefaultErrno
	if errno == 0 {
		errno = 1
	}
	p := &seccomp.Seccomp{
		LinuxSeccomp: specs.LinuxSeccomp{
			DefaultAction:   specs.ActErrno,
			DefaultErrnoRet: &errno,
			Architectures:   archList(arches),
		},
		Syscalls: []*seccomp.Syscall{{
			LinuxSyscall: specs.LinuxSyscall{Names: names, Action: specs.ActAllow},
			Comment:      "recorded by ctsec profile record",
		}},
	}
	if !allow["clone3"] {
		enosys := uint(38)
		p.Syscalls = append(p.Syscalls, &seccomp.Syscall{
			LinuxSyscall: specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
			Comment:      "not observed: ENOSYS makes glibc fall back to clone",
		})
	}
	return p, nil
}

// RecordingProfile is the profile a container runs under while an Agent
// records it: every syscall libseccomp knows notified to listenerPath, except
// the ones runc or the recorder need to let through. Syscalls newer than the
// host's libseccomp cannot be named; the LOG default lets them run and leaves
// a kernel audit record instead of breaking the container.
func RecordingProfile(listenerPath, metadata string) (*seccomp.Seccomp, error) {
	arches, err := nativeArches()
	if err != nil {
		return nil, err
	}
	allowed := map[string]bool{}
	var allowNames []string
	for _, s := range containerFilterAllowed {
		allowed[s.Name] = true
		if resolvesOnNative(s.Name) {
			allowNames = append(allowNames, s.Name)
		}
	}
	var notify []string
	for _, name := range syscallNames(arches) {
		if !allowed[name] {
			notify = append(notify, name)
		}
	}
	sort.Strings(notify)
	return &seccomp.Seccomp{
		LinuxSeccomp: specs.LinuxSeccomp{
			DefaultAction:    specs.ActLog,
			Architectures:    archList(arches),
			ListenerPath:     listenerPath,
			ListenerMetadata: metadata,
		},
		Syscalls: []*seccomp.Syscall{
			{LinuxSyscall: specs.LinuxSyscall{Names: allowNames, Action: specs.ActAllow},
				Comment: "runc cannot notify write; exit and signal return must work without the recorder"},
			{LinuxSyscall: specs.LinuxSyscall{Names: notify, Action: specs.ActNotify},
				Comment: "recorded by ctsec profile record --listen"},
		},
	}, nil
}

func archList(arches []libseccomp.ScmpArch) []specs.Arch {
	var out []specs.Arch
	for _, s := range specArches(arches) {
		out = append(out, specs.Arch(s))
	}
	return out
}
