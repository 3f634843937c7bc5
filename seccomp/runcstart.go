package seccomp

import (
	"fmt"
	"strings"

	"github.com/ctsec/ctsec/internal/report"
)

// LintRuncStart is the lint rule for profiles runc cannot start a container
// under.
const LintRuncStart = "seccomp/runc-start"

// runcNeed is a syscall runc makes itself after it has loaded the
// container's filter and before it executes the container's process.
type runcNeed struct {
	name string
	// what runc fails to do without it (its own error text).
	does string
	// nnp: needed with no-new-privileges too. runc loads the filter before
	// it drops capabilities and changes user unless no_new_privs is set
	// (Docker's default is without), and just before execve when it is.
	nnp bool
}

// runcStartNeeds is measured, not read from documentation: runc 1.1.5
// (Debian 12) starting a busybox container through dockerd 20.10 under an
// allow-list without each name in turn (TestRuncStartNeeds repeats it).
// Every one of them stops the container from starting; the error is runc's.
// Names runc makes but can do without (epoll_ctl, fcntl, getpid, and the Go
// runtime's mmap, nanosleep, sigaltstack...) are not listed.
var runcStartNeeds = []runcNeed{
	{"capget", "read its capabilities", false},
	{"capset", "apply its capabilities", false},
	{"chdir", "change to the working directory", false},
	{"close", "close its log pipe", true},
	{"execve", "execute the container's process", true},
	{"faccessat2", "find the container's command", false},
	{"fstat", "set up the user (fstat /dev/stdin)", false},
	{"fstatfs", "close inherited fds (ensure /proc/self/fd is on procfs)", true},
	{"futex", "wake its Go runtime's threads (futexwakeup)", true},
	{"getcwd", "verify the working directory is safe", false},
	{"getdents64", "close inherited fds (readdirent /proc/self/fd)", true},
	{"getppid", "check its parent is alive", false},
	{"newfstatat", "set up the user (stat /dev/null)", false},
	{"openat", "open /proc/self/fd and the exec fifo", true},
	{"prctl", "apply the capability bounding set", false},
	{"read", "read /proc/self/status", false},
	{"setgid", "set up the user", false},
	{"setgroups", "set up the user (setgroups)", false},
	{"setuid", "set up the user", false},
	{"write", "tell its parent it is ready (the exec fifo)", true},
}

// RuncStartNeeds lists the syscalls runc (1.1.5, measured) needs after
// loading a container's filter: all of them without no-new-privileges
// (Docker's default), the smaller set with it.
func RuncStartNeeds(noNewPrivileges bool) []string {
	var out []string
	for _, n := range runcStartNeeds {
		if n.nnp || !noNewPrivileges {
			out = append(out, n.name)
		}
	}
	return out
}

// lintRuncStart warns when the profile denies what runc needs to finish
// starting the container: such a profile validates and lints clean otherwise,
// yet no container starts under it ("ensure /proc/self/fd is on procfs").
func (p *Profile) lintRuncStart(t Target) []report.Finding {
	e := p.Resolve(t)
	res := NewResolver()
	var always, unlessNNP []runcNeed
	for _, n := range runcStartNeeds {
		if !res.Known(n.name, t.Arch) {
			continue // another architecture's name for it (runc resolves on the native arch)
		}
		switch e.actionFor(n.name) {
		case ActAllow, ActLog, ActTrace, ActNotify:
			// TRACE and NOTIFY: the tracer or agent answers.
			continue
		}
		if n.nnp {
			always = append(always, n)
		} else {
			unlessNNP = append(unlessNNP, n)
		}
	}
	if len(always)+len(unlessNNP) == 0 {
		return nil
	}
	all := append(append([]runcNeed(nil), always...), unlessNNP...)
	names := make([]string, len(all))
	for i, n := range all {
		names[i] = n.name
	}
	f := p.finding("defaultAction")
	f.Rule, f.Severity = LintRuncStart, report.Medium
	if len(always) == 0 {
		f.Message = fmt.Sprintf("runc cannot start a container under this profile unless it runs with no-new-privileges: without it (Docker's default) runc loads the filter earlier and then needs %s", strings.Join(names, ", "))
	} else {
		f.Message = fmt.Sprintf("runc cannot start a container under this profile: it needs %s after loading the filter", strings.Join(names, ", "))
		if len(unlessNNP) > 0 {
			f.Message += fmt.Sprintf(" (the last %d only without no-new-privileges, Docker's default)", len(unlessNNP))
		}
	}
	f.Message += fmt.Sprintf("; without %s it cannot %s (measured with runc 1.1.5)", all[0].name, all[0].does)
	f.Fix = fmt.Sprintf("allow %s, or start from the runtime set (ctsec profile gen --base runtime)", strings.Join(names, ", "))
	return []report.Finding{f}
}
