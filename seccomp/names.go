package seccomp

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/ctsec/ctsec/internal/report"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Rule ids of syscall name resolution.
const (
	RuleUnknownSyscall   = "seccomp/unknown-syscall"
	RuleLibseccompTooOld = "seccomp/libseccomp-too-old"
	RuleNotOnTarget      = "seccomp/syscall-not-on-target"
	RulePartialArch      = "seccomp/syscall-partial-arch"
)

// newerSyscalls are real Linux syscalls (up to 6.17) that an older
// libseccomp may not know. A name here that libseccomp cannot resolve is a
// stale library, not a typo: runc would silently drop the rule.
var newerSyscalls = []string{
	"clone3", "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "openat2", "faccessat2",
	"close_range", "process_madvise", "epoll_pwait2", "mount_setattr", "quotactl_fd",
	"landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self", "memfd_secret",
	"process_mrelease", "futex_waitv", "set_mempolicy_home_node", "cachestat", "fchmodat2",
	"map_shadow_stack", "futex_wake", "futex_wait", "futex_requeue", "statmount", "listmount",
	"lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules", "mseal", "uretprobe", "uprobe",
	"setxattrat", "getxattrat", "listxattrat", "removexattrat", "open_tree_attr",
	"file_getattr", "file_setattr", "riscv_hwprobe", "riscv_flush_icache",
}

// Resolver answers whether libseccomp knows a syscall on an architecture,
// caching answers (the cgo call dominates validation time otherwise).
type Resolver struct {
	mu    sync.Mutex
	cache map[[2]string]bool
}

// NewResolver returns an empty resolver; it is safe for concurrent use.
func NewResolver() *Resolver { return &Resolver{cache: map[[2]string]bool{}} }

// Known reports whether name is a syscall of arch (native name) in the
// linked libseccomp; pseudo-syscall numbers (the name exists only on other
// arches) count as unknown.
func (r *Resolver) Known(name, arch string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := [2]string{name, arch}
	if v, ok := r.cache[k]; ok {
		return v
	}
	v := false
	if sa, err := libseccomp.GetArchFromString(arch); err == nil {
		// libseccomp numbers multiplexed calls (socket via socketcall on
		// x86, ipc on s390) from -100 to -299 and marks names missing on
		// the arch from -10000 down.
		if n, err := libseccomp.GetSyscallFromNameByArch(name, sa); err == nil && n > -10000 {
			v = true
		}
	}
	r.cache[k] = v
	return v
}

// KnownAnywhere reports whether libseccomp has the name in its table at all.
func (r *Resolver) KnownAnywhere(name string) bool {
	_, err := libseccomp.GetSyscallFromName(name)
	return err == nil
}

// IsSyscallName reports whether name is a syscall ctsec recognises: one
// libseccomp resolves, or a newer one the library may lag behind.
func (r *Resolver) IsSyscallName(name string) bool {
	return r.KnownAnywhere(name) || contains(newerSyscalls, name)
}

var suggestOnce sync.Once
var suggestNames []string

// Suggest returns the nearest syscall name to a misspelling, or "".
func (r *Resolver) Suggest(name string) string {
	suggestOnce.Do(func() {
		seen := map[string]bool{}
		for _, a := range []libseccomp.ScmpArch{libseccomp.ArchAMD64, libseccomp.ArchX86, libseccomp.ArchARM64} {
			for n := 0; n < 1000; n++ {
				if s, err := libseccomp.ScmpSyscall(n).GetNameByArch(a); err == nil && !seen[s] {
					seen[s] = true
					suggestNames = append(suggestNames, s)
				}
			}
		}
		suggestNames = append(suggestNames, newerSyscalls...)
		sort.Strings(suggestNames)
	})
	return closest(name, suggestNames)
}

// checkNames resolves every name of every rule against the architectures
// the rule can reach on target t and reports what runc would silently drop.
func (p *Profile) checkNames(t Target, res *Resolver) []report.Finding {
	var out []report.Finding
	filterArches := p.FilterArches(t.Arch)
	missing := map[string][]string{} // arch -> names it lacks (aggregated)
	firstMissing := map[string]string{}
	lib := libVersion()
	reported := map[string]bool{}
	unknown := 0
	for i, r := range p.Syscalls {
		arches := filterArches
		if r.Includes != nil && len(r.Includes.Arches) > 0 && !containsArch(r.Includes.Arches, t.Arch) {
			// A rule for other hosts: check it where it is meant to apply.
			arches = nil
			for _, a := range r.Includes.Arches {
				if x, ok := archByNative(a); ok {
					arches = append(arches, x.native)
				}
			}
		}
		for j, name := range r.AllNames() {
			if name == "" || reported[name] {
				continue
			}
			path := fmt.Sprintf("syscalls[%d].names[%d]", i, j-boolInt(r.Name != ""))
			if r.Name != "" && j == 0 {
				path = fmt.Sprintf("syscalls[%d].name", i)
			}
			f := p.finding(path)
			if !res.KnownAnywhere(name) {
				reported[name] = true
				if contains(newerSyscalls, name) {
					f.Rule = RuleLibseccompTooOld
					// What the drop does decides how much it matters. In
					// an allow-list the dropped name falls to the denying
					// default: the call stays denied on this host, as on a
					// kernel without it (fails closed, nothing to fix in the
					// profile, which is right for newer hosts). When the
					// default allows, the rule meant to deny it is lost:
					// the call is allowed (fails open).
					if allows(p.DefaultAction) && !allows(r.Action) {
						f.Severity = report.Medium
						f.Message = fmt.Sprintf("libseccomp %s cannot resolve %q (a newer syscall): runc drops the rule for it without a word, so the default %s lets it through on this host", lib, name, p.DefaultAction)
						f.Fix = "upgrade libseccomp on the Docker host (runc links it), or deny by default and allow what the service needs"
					} else {
						f.Severity = report.Low
						f.Message = fmt.Sprintf("libseccomp %s cannot resolve %q (a newer syscall): runc drops it, so on this host it stays denied (the default %s)", lib, name, p.DefaultAction)
						f.Fix = "nothing to change in the profile; upgrade libseccomp on the Docker host (runc links it) if the service needs the call"
					}
				} else {
					f.Rule, f.Severity = RuleUnknownSyscall, report.High
					f.Message = fmt.Sprintf("%s is not a syscall on any architecture (runc ignores it silently)", quoteShort(name))
					// A suggestion costs a scan of every syscall name: only
					// as many as are shown (CapFindings) get one.
					if unknown++; unknown <= maxPerRule {
						if s := res.Suggest(name); s != "" {
							f.Fix = fmt.Sprintf("did you mean %q?", s)
						}
					}
				}
				out = append(out, f)
				continue
			}
			var lacking []string
			for _, a := range arches {
				if !res.Known(name, a) {
					lacking = append(lacking, a)
				}
			}
			switch {
			case len(arches) > 0 && len(lacking) == len(arches):
				reported[name] = true
				f.Rule, f.Severity = RuleNotOnTarget, report.Low
				f.Message = fmt.Sprintf("%q does not exist on %s; the rule has no effect there", name, strings.Join(arches, ", "))
				f.Fix = "check the name (e.g. amd64 has no 32-bit *32/*64 variants) or restrict the rule with includes.arches"
				out = append(out, f)
			case len(lacking) > 0:
				for _, a := range lacking {
					if !contains(missing[a], name) {
						missing[a] = append(missing[a], name)
						if firstMissing[a] == "" {
							firstMissing[a] = path
						}
					}
				}
			}
		}
	}
	for _, a := range sortedKeys(missing) {
		names := missing[a]
		f := p.finding(firstMissing[a])
		f.Rule, f.Severity = RulePartialArch, report.Low
		f.Message = fmt.Sprintf("%d names do not exist on %s and are ignored there (normal for a multi-arch profile): %s", len(names), a, strings.Join(names, ", "))
		out = append(out, f)
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// finding starts a finding located at a JSON path of the profile.
func (p *Profile) finding(path string) report.Finding {
	f := report.Finding{File: p.File, Path: path}
	if p.File == "" {
		f.Target = "profile"
	}
	if pos, ok := p.pos[path]; ok {
		f.Line, f.Column = pos.Line, pos.Column
	}
	return f
}

func libVersion() string {
	maj, min, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", maj, min, micro)
}
