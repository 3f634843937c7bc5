//go:build linux

// Package seccompgen renders ctsec's built-in seccomp profiles from the
// pinned github.com/moby/profiles/seccomp module, so default.json is
// generated, never copied or edited by hand, and strict.json is derived
// from it by a rule anyone can read below.
package seccompgen

import (
	"encoding/json"
	"slices"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// MobyVersion is the pinned module version (go.mod must agree; the test
// checks it). v0.2.3 is what docker-v29.5 to v29.7 ship.
const MobyVersion = "v0.2.3"

// Render returns the built-in profiles by file name.
func Render() (map[string][]byte, error) {
	out := map[string][]byte{}
	def := seccomp.DefaultProfile()
	b, err := marshal(def)
	if err != nil {
		return nil, err
	}
	out["default.json"] = b
	if out["strict.json"], err = marshal(Strict(seccomp.DefaultProfile())); err != nil {
		return nil, err
	}
	if out["runtime.json"], err = marshal(Runtime(seccomp.DefaultProfile())); err != nil {
		return nil, err
	}
	return out, nil
}

// marshal writes JSON exactly as moby's generate.go does (tab indent, no
// trailing newline), so default.json is byte-identical to moby's.
func marshal(p *seccomp.Seccomp) ([]byte, error) {
	return json.MarshalIndent(p, "", "\t")
}

// keptCapRules are capability-gated groups strict keeps because Docker grants
// the capability by default and the syscall is not on the dangerous list.
var keptCapRules = []string{"CAP_SYS_CHROOT"}

// strictDrop are names removed from every ALLOW rule of the default:
// ptrace and cross-process memory access (allowed on kernels >= 4.8 without
// any capability), socketcall (on x86-32 it reaches socket() with arguments
// BPF cannot inspect, bypassing the AF_ALG/AF_VSOCK filter), and
// name_to_handle_at (only useful together with open_by_handle_at).
var strictDrop = []string{"ptrace", "process_vm_readv", "process_vm_writev", "socketcall", "name_to_handle_at"}

// Strict is Docker's default minus the dangerous groups: every rule that
// allows something only for a capability (mount, namespaces, bpf, perf,
// modules, reboot, clock, ptrace, raw I/O, NUMA policy, syslog, acct...) is
// removed, so adding the capability to a container no longer opens the
// syscalls; the capability-free variants (masked clone, clone3 -> ENOSYS)
// then apply whatever the capabilities are.
func Strict(p *seccomp.Seccomp) *seccomp.Seccomp {
	var rules []*seccomp.Syscall
	for _, r := range p.Syscalls {
		if r.Action == specs.ActAllow && r.Includes != nil && len(r.Includes.Caps) > 0 &&
			!slices.Equal(r.Includes.Caps, keptCapRules) {
			continue
		}
		if r.Excludes != nil && len(r.Excludes.Caps) > 0 {
			r.Excludes.Caps = nil
			if len(r.Excludes.Arches) == 0 && r.Excludes.MinKernel == nil {
				r.Excludes = nil
			}
		}
		if r.Action == specs.ActAllow {
			r.Names = slices.DeleteFunc(r.Names, func(n string) bool { return slices.Contains(strictDrop, n) })
			if len(r.Names) == 0 {
				continue
			}
		}
		rules = append(rules, r)
	}
	p.Syscalls = rules
	return p
}

// runcBase is what runc itself does between loading the filter and
// executing the container's process: the names the Security Profiles
// Operator recorded for runc v1.4.2 on x86_64 (examples/baseprofile-runc.yaml),
// which include every name runc 1.1.5 (Debian 12) needs to start a container
// (seccomp.RuncStartNeeds, measured), plus what runc init's Go runtime may
// do on that thread at any moment (memory, threads, signals, exit).
var runcBase = []string{
	"arch_prctl", "brk", "capget", "capset", "chdir", "close", "close_range", "epoll_ctl",
	"epoll_pwait", "execve", "exit", "exit_group", "faccessat2", "fcntl", "fstat", "fstatfs", "futex",
	"getcwd", "getdents64", "getpid", "getppid", "gettid", "getuid", "madvise", "mmap", "mprotect",
	"munmap", "nanosleep", "newfstatat", "openat", "openat2", "prctl", "read", "recvfrom",
	"rt_sigprocmask", "rt_sigreturn", "sched_yield", "set_tid_address", "setgid", "setgroups",
	"setuid", "sigaltstack", "statx", "tgkill", "write",
}

// processBase is what the container's own first process needs to be a
// shell: start children (clone, below), wait for them, connect them with
// pipes, redirect with dup, and handle signals. Without these busybox sh
// starts and then prints "can't fork" or "can't create pipe" (issue 18.1);
// wait4, pipe2, dup2, rt_sigaction and rt_sigsuspend are each needed by a
// busybox pipeline, the others are the same calls' variants other shells
// and architectures use.
var processBase = []string{
	"dup", "dup2", "dup3", "kill", "pipe", "pipe2", "rt_sigaction", "rt_sigsuspend", "wait4", "waitid",
}

// Runtime is the smallest base for an allow-list profile: the default's
// actions and architectures, runc's own syscalls, a shell's process basics,
// clone without namespace flags (Docker's argument filter, as strict keeps
// it) and clone3 answered with ENOSYS so glibc falls back to that clone.
func Runtime(def *seccomp.Seccomp) *seccomp.Seccomp {
	enosys := uint(38)
	rules := []*seccomp.Syscall{
		{LinuxSyscall: specs.LinuxSyscall{Names: slices.Clone(runcBase), Action: specs.ActAllow},
			Comment: "runc after loading the filter (runc 1.1.5 measured; runc v1.4.2 per security-profiles-operator baseprofile-runc.yaml) and runc init's Go runtime"},
		{LinuxSyscall: specs.LinuxSyscall{Names: slices.Clone(processBase), Action: specs.ActAllow},
			Comment: "a shell's process basics: wait, pipes, redirections, signals"},
	}
	for _, r := range Strict(def).Syscalls {
		if slices.Equal(r.Names, []string{"clone"}) && r.Action == specs.ActAllow {
			rules = append(rules, r)
		}
	}
	rules = append(rules, &seccomp.Syscall{
		LinuxSyscall: specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		Comment:      "ENOSYS makes glibc fall back to clone"})
	return &seccomp.Seccomp{
		LinuxSeccomp: specs.LinuxSeccomp{DefaultAction: def.DefaultAction, DefaultErrnoRet: def.DefaultErrnoRet},
		ArchMap:      def.ArchMap,
		Syscalls:     rules,
	}
}
