package seccomp

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/profiles"
)

// Lint rule ids: policy, not syntax (validate covers syntax).
const (
	LintDefaultAllow = "seccomp/default-allow"
	LintDangerous    = "seccomp/dangerous-syscall"
	LintClone3       = "seccomp/clone3-not-enosys"
	LintClone3Args   = "seccomp/clone3-args"
	LintSocketcall   = "seccomp/socketcall-bypass"
	LintCompatArch   = "seccomp/missing-compat-arch"
	LintPtraceKernel = "seccomp/ptrace-old-kernel"
	LintNoEffect     = "seccomp/rule-no-effect"
	LintRecording    = "seccomp/recording-profile"
)

// dangerous are syscalls that widen the kernel's attack surface or cross
// container boundaries (Docker's "significant syscalls blocked" table plus
// io_uring, the new mount API, fanotify, lsm_*, pidfd_getfd).
var dangerous = map[string]string{
	"acct": "process accounting", "add_key": "kernel keyring, not namespaced", "bpf": "loads programs into the kernel",
	"clock_settime": "sets the host clock", "clock_settime64": "sets the host clock", "settimeofday": "sets the host clock", "stime": "sets the host clock",
	"clone": "can create namespaces", "clone3": "can create namespaces (arguments not filterable)", "unshare": "creates namespaces", "setns": "joins namespaces",
	"create_module": "kernel modules", "delete_module": "kernel modules", "finit_module": "kernel modules", "init_module": "kernel modules", "query_module": "kernel modules", "get_kernel_syms": "kernel modules",
	"get_mempolicy": "NUMA policy of the host", "set_mempolicy": "NUMA policy of the host", "set_mempolicy_home_node": "NUMA policy of the host", "mbind": "NUMA policy of the host", "move_pages": "NUMA policy of the host",
	"ioperm": "raw I/O ports", "iopl": "raw I/O ports", "kcmp": "inspects other processes", "kexec_load": "replaces the kernel", "kexec_file_load": "replaces the kernel",
	"keyctl": "kernel keyring, not namespaced", "request_key": "kernel keyring, not namespaced", "lookup_dcookie": "kernel profiling",
	"mount": "mounts file systems", "umount": "unmounts file systems", "umount2": "unmounts file systems", "pivot_root": "changes the root",
	"fsopen": "new mount API", "fsconfig": "new mount API", "fsmount": "new mount API", "fspick": "new mount API", "move_mount": "new mount API", "open_tree": "new mount API", "mount_setattr": "new mount API",
	"swapon": "host swap", "swapoff": "host swap", "nfsservctl": "kernel NFS server", "open_by_handle_at": "escapes the container's mounts (shocker)",
	"perf_event_open": "kernel profiling, side channels", "personality": "disables ASLR and other protections",
	"process_vm_readv": "reads other processes' memory", "process_vm_writev": "writes other processes' memory", "ptrace": "controls other processes",
	"pidfd_getfd": "steals other processes' file descriptors", "process_madvise": "acts on other processes' memory",
	"quotactl": "host quotas", "quotactl_fd": "host quotas", "reboot": "reboots the host", "sysfs": "obsolete", "_sysctl": "obsolete sysctl interface",
	"uselib": "obsolete", "userfaultfd": "used in kernel exploits to win races", "ustat": "obsolete", "vm86": "virtual 8086 mode", "vm86old": "virtual 8086 mode",
	"io_uring_setup": "io_uring, a large source of kernel bugs (moby#46762)", "io_uring_enter": "io_uring, a large source of kernel bugs (moby#46762)", "io_uring_register": "io_uring, a large source of kernel bugs (moby#46762)",
	"fanotify_init": "watches the host file system", "syslog": "reads the kernel log", "lsm_get_self_attr": "LSM attributes", "lsm_set_self_attr": "LSM attributes", "lsm_list_modules": "LSM attributes",
	"vhangup": "hangs up the terminal", "setdomainname": "changes the UTS name", "sethostname": "changes the UTS name",
}

// dockerStance is how Docker's default profile treats a syscall: allowed
// for everyone, only with some capability, or never.
type dockerStance struct {
	always bool     // allowed without a capability (possibly argument-restricted)
	caps   []string // capabilities that unlock it
}

var stanceOnce sync.Once
var stances map[string]dockerStance

func dockerStances() map[string]dockerStance {
	stanceOnce.Do(func() {
		stances = map[string]dockerStance{}
		data, err := profiles.Seccomp("default")
		if err != nil {
			return
		}
		def, _, err := Parse("default.json", data)
		if err != nil {
			return
		}
		for _, r := range def.Syscalls {
			if r.Action != ActAllow || (r.Includes != nil && len(r.Includes.Arches) > 0) {
				continue
			}
			for _, n := range r.AllNames() {
				s := stances[n]
				if r.Includes != nil && len(r.Includes.Caps) > 0 {
					for _, c := range r.Includes.Caps {
						if !contains(s.caps, c) {
							s.caps = append(s.caps, c)
						}
					}
				} else {
					s.always = true
				}
				stances[n] = s
			}
		}
	})
	return stances
}

// Lint reviews a profile's policy for target t.
func Lint(p *Profile, t Target) []report.Finding {
	var out []report.Finding
	if p.recording() {
		// One precise verdict instead of a list of syscalls the recording
		// lets through on purpose: the verdict stays high, so recognising
		// the shape can never hide a deployed recording profile.
		out = append(out, p.lintRecording())
	} else {
		out = append(out, p.lintDefault()...)
		out = append(out, p.lintDangerous()...)
	}
	out = append(out, p.lintClone3(t)...)
	out = append(out, p.lintSocketcall(t)...)
	out = append(out, p.lintArches(t)...)
	out = append(out, p.lintNoEffect()...)
	out = append(out, p.lintRuncStart(t)...)
	return CapFindings(out)
}

func allows(action string) bool { return action == ActAllow || action == ActLog }

// recording reports whether p has the shape of a recording profile (ctsec
// profile record --listen writes one): nothing denied by default, and rules
// that hand syscalls to the agent at listenerPath. Such a profile confines
// only as much as its agent decides; ctsec's recorder lets every call
// continue.
func (p *Profile) recording() bool {
	if !allows(p.DefaultAction) || p.ListenerPath == "" {
		return false
	}
	for _, r := range p.Syscalls {
		if r.Action == ActNotify {
			return true
		}
	}
	return false
}

func (p *Profile) lintRecording() report.Finding {
	notified := 0
	for _, r := range p.Syscalls {
		if r.Action == ActNotify {
			notified += len(r.AllNames())
		}
	}
	f := p.finding("defaultAction")
	f.Rule, f.Severity = LintRecording, report.High
	f.Message = fmt.Sprintf("a recording profile: %d syscalls go to the agent at %s and the rest are allowed (default %s); it confines nothing while a recorder answers \"continue\" — use it only to record, never to run a service",
		notified, p.ListenerPath, p.DefaultAction)
	f.Fix = "run the service under the profile the recording produced (ctsec profile record -o FILE), not under this one"
	return f
}

func (p *Profile) lintDefault() []report.Finding {
	if !allows(p.DefaultAction) {
		return nil
	}
	denied := map[string]bool{}
	for _, r := range p.Syscalls {
		if !allows(r.Action) && len(r.Args) == 0 && r.Includes.empty() && r.Excludes.empty() {
			for _, n := range r.AllNames() {
				denied[n] = true
			}
		}
	}
	var open []string
	for _, n := range sortedKeys(dangerous) {
		if !denied[n] {
			open = append(open, n)
		}
	}
	f := p.finding("defaultAction")
	f.Rule, f.Severity = LintDefaultAllow, report.High
	f.Message = fmt.Sprintf("default action %s makes this a deny-list: every syscall not listed, including any the kernel adds later, is allowed; %d dangerous ones are open: %s",
		p.DefaultAction, len(open), strings.Join(open, ", "))
	f.Fix = `use "defaultAction": "SCMP_ACT_ERRNO" and list what the service needs (ctsec profile gen)`
	if len(open) == 0 {
		f.Severity = report.Medium
	}
	return []report.Finding{f}
}

func (p *Profile) lintDangerous() []report.Finding {
	var out []report.Finding
	st := dockerStances()
	for i, r := range p.Syscalls {
		if !allows(r.Action) {
			continue
		}
		gated := r.Includes != nil && len(r.Includes.Caps) > 0
		for j, n := range r.AllNames() {
			why, bad := dangerous[n]
			if !bad {
				continue
			}
			path := p.namePath(i, j, r)
			f := p.finding(path)
			f.Rule = LintDangerous
			s := st[n]
			switch {
			case n == "clone3" && len(r.Args) > 0:
				f.Rule, f.Severity = LintClone3Args, report.High
				f.Message = "clone3 takes its flags in a struct in memory: argument conditions cannot restrict it, so this allows every clone3, namespaces included"
				f.Fix = "deny clone3 with errnoRet 38 (ENOSYS) and filter clone instead"
			case len(r.Args) > 0:
				continue // argument-restricted, as Docker does for clone and personality
			case (n == "ptrace" || n == "process_vm_readv" || n == "process_vm_writev") && !gated && !hasMinKernel(r, 4, 8):
				f.Rule, f.Severity = LintPtraceKernel, report.High
				f.Message = fmt.Sprintf("%s allowed on every kernel: before 4.8 ptrace could bypass seccomp; Docker allows it only with minKernel 4.8", n)
				f.Fix = `add "includes": {"minKernel": "4.8"} or drop it`
			case gated:
				f.Severity = report.Info
				f.Message = fmt.Sprintf("%s (%s) is allowed only with %s", n, why, strings.Join(r.Includes.Caps, ", "))
			case s.always:
				f.Severity = report.Low
				f.Message = fmt.Sprintf("%s is allowed (%s); Docker's default allows it too", n, why)
				f.Fix = "drop it if the service does not need it (the strict profile does)"
			case len(s.caps) > 0:
				f.Severity = report.High
				f.Message = fmt.Sprintf("%s is allowed without a capability (%s); Docker's default allows it only with %s", n, why, strings.Join(s.caps, " or "))
				f.Fix = fmt.Sprintf(`move it to a rule with "includes": {"caps": [%q]} or drop it`, s.caps[0])
			default:
				f.Severity = report.High
				f.Message = fmt.Sprintf("%s is allowed (%s); Docker's default never allows it", n, why)
				f.Fix = "drop it unless the service cannot work without it"
			}
			out = append(out, f)
		}
	}
	return out
}

func hasMinKernel(r Rule, kernel, major uint8) bool {
	if r.Includes == nil || r.Includes.MinKernel == "" {
		return false
	}
	k, m, err := ParseMinKernel(r.Includes.MinKernel)
	return err == nil && (k > kernel || (k == kernel && m >= major))
}

func (p *Profile) namePath(i, j int, r Rule) string {
	if r.Name != "" {
		if j == 0 {
			return fmt.Sprintf("syscalls[%d].name", i)
		}
		j--
	}
	return fmt.Sprintf("syscalls[%d].names[%d]", i, j)
}

// lintClone3: glibc 2.34+ tries clone3 first and falls back to clone only on
// ENOSYS; EPERM makes thread creation fail (moby#42680).
func (p *Profile) lintClone3(t Target) []report.Finding {
	e := p.Resolve(t)
	for _, r := range e.Rules {
		if !contains(r.Names, "clone3") {
			continue
		}
		// NOTIFY: the agent answers (a recorder lets clone3 run) and runc
		// fails notified calls with ENOSYS once no agent is left.
		if allows(r.Action) || r.Action == ActNotify || (r.Action == ActErrno && r.ErrnoRet != nil && *r.ErrnoRet == 38) {
			return nil
		}
		f := p.finding(fmt.Sprintf("syscalls[%d].action", r.Source))
		f.Rule, f.Severity = LintClone3, report.Medium
		f.Message = fmt.Sprintf("clone3 gets %s without errno 38: glibc 2.34+ does not fall back to clone and cannot start threads", r.Action)
		f.Fix = `use "action": "SCMP_ACT_ERRNO", "errnoRet": 38`
		return []report.Finding{f}
	}
	if allows(e.DefaultAction) || (e.DefaultAction == ActErrno && e.DefaultErrnoRet != nil && *e.DefaultErrnoRet == 38) {
		return nil
	}
	f := p.finding("defaultAction")
	f.Rule, f.Severity = LintClone3, report.Medium
	f.Message = fmt.Sprintf("clone3 falls to the default %s (errno %d): glibc 2.34+ does not fall back to clone on EPERM and cannot start threads", e.DefaultAction, errnoOf(e.DefaultErrnoRet))
	f.Fix = `add {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}`
	return []report.Finding{f}
}

func errnoOf(v *uint) uint {
	if v == nil {
		return 1
	}
	return *v
}

// lintSocketcall: on x86-32 and s390 socket() can be reached through
// socketcall, whose arguments are in memory: argument rules on socket are
// then decoration.
func (p *Profile) lintSocketcall(t Target) []report.Finding {
	arches := p.FilterArches(t.Arch)
	if !contains(arches, "x86") && !contains(arches, "s390") {
		return nil
	}
	socketFiltered, callAllowed := -1, -1
	for i, r := range p.Syscalls {
		names := r.AllNames()
		if contains(names, "socket") && allows(r.Action) && len(r.Args) > 0 && socketFiltered < 0 {
			socketFiltered = i
		}
		if contains(names, "socketcall") && allows(r.Action) && len(r.Args) == 0 && callAllowed < 0 {
			callAllowed = i
		}
	}
	if socketFiltered < 0 || callAllowed < 0 {
		return nil
	}
	j := 0
	for k, n := range p.Syscalls[callAllowed].AllNames() {
		if n == "socketcall" {
			j = k
		}
	}
	f := p.finding(p.namePath(callAllowed, j, p.Syscalls[callAllowed]))
	f.Rule, f.Severity = LintSocketcall, report.Medium
	f.Message = fmt.Sprintf("socket is filtered by argument (rule %d) but socketcall is allowed: 32-bit processes reach socket() through socketcall, whose arguments BPF cannot read", socketFiltered)
	f.Fix = "drop socketcall (modern 32-bit libcs call socket directly) or rely on an LSM for address families"
	return []report.Finding{f}
}

// compat are the sub-architectures a native arch can run; a filter without
// them kills such processes (libseccomp's bad-arch action).
var compat = map[string][]string{"amd64": {"x86", "x32"}, "arm64": {"arm"}, "s390x": {"s390"}}

func (p *Profile) lintArches(t Target) []report.Finding {
	want := compat[t.Arch]
	if len(want) == 0 {
		return nil
	}
	have := p.FilterArches(t.Arch)
	var missing []string
	for _, a := range want {
		if !contains(have, a) {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	path := "architectures"
	if len(p.Architectures) == 0 {
		path = "archMap"
	}
	f := p.finding(path)
	if _, ok := p.pos[path]; !ok {
		f = p.finding("defaultAction")
	}
	f.Rule, f.Severity = LintCompatArch, report.Low
	f.Message = fmt.Sprintf("on %s the filter does not cover %s: such processes are killed outright (libseccomp's bad-arch action) instead of getting this profile's answers", t.Arch, strings.Join(missing, ", "))
	f.Fix = "use Docker's archMap (ctsec seccomp show default) so compat processes get the same rules"
	return []report.Finding{f}
}

// lintNoEffect: runc skips rules whose action equals the default.
func (p *Profile) lintNoEffect() []report.Finding {
	var out []report.Finding
	for i, r := range p.Syscalls {
		if r.Action == p.DefaultAction && errnoOf(r.ErrnoRet) == errnoOf(p.DefaultErrnoRet) && len(r.Args) == 0 {
			f := p.finding(fmt.Sprintf("syscalls[%d].action", i))
			f.Rule, f.Severity = LintNoEffect, report.Info
			f.Message = fmt.Sprintf("rule has the default action %s: it changes nothing (runc skips it)", r.Action)
			f.Fix = "drop the rule, or give it a comment saying it documents intent"
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}
