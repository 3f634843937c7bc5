package seccomp

import (
	"fmt"
	"runtime"
	"strings"
)

// Actions of the runtime-spec, all of which runc maps to libseccomp.
const (
	ActKill        = "SCMP_ACT_KILL"
	ActKillProcess = "SCMP_ACT_KILL_PROCESS"
	ActKillThread  = "SCMP_ACT_KILL_THREAD"
	ActTrap        = "SCMP_ACT_TRAP"
	ActErrno       = "SCMP_ACT_ERRNO"
	ActTrace       = "SCMP_ACT_TRACE"
	ActAllow       = "SCMP_ACT_ALLOW"
	ActLog         = "SCMP_ACT_LOG"
	ActNotify      = "SCMP_ACT_NOTIFY"
)

var actions = []string{ActKill, ActKillProcess, ActKillThread, ActTrap, ActErrno, ActTrace, ActAllow, ActLog, ActNotify}

var operators = []string{"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"}

// flags of the runtime-spec; runc accepts all four (TSYNC it ignores: it
// loads the filter on its one init thread and execve ends any other).
var filterFlags = []string{"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}

// arch ties the three spellings of an architecture together: the profile's
// SCMP_ARCH_* name, libseccomp's (and moby's includes/excludes) native name,
// and whether runc can use it at all.
type arch struct {
	scmp   string
	native string
	runc   bool
}

var arches = []arch{
	{"SCMP_ARCH_X86", "x86", true},
	{"SCMP_ARCH_X86_64", "amd64", true},
	{"SCMP_ARCH_X32", "x32", true},
	{"SCMP_ARCH_ARM", "arm", true},
	{"SCMP_ARCH_AARCH64", "arm64", true},
	{"SCMP_ARCH_MIPS", "mips", true},
	{"SCMP_ARCH_MIPS64", "mips64", true},
	{"SCMP_ARCH_MIPS64N32", "mips64n32", true},
	{"SCMP_ARCH_MIPSEL", "mipsel", true},
	{"SCMP_ARCH_MIPSEL64", "mipsel64", true},
	{"SCMP_ARCH_MIPSEL64N32", "mipsel64n32", true},
	{"SCMP_ARCH_PPC", "ppc", true},
	{"SCMP_ARCH_PPC64", "ppc64", true},
	{"SCMP_ARCH_PPC64LE", "ppc64le", true},
	{"SCMP_ARCH_S390", "s390", true},
	{"SCMP_ARCH_S390X", "s390x", true},
	{"SCMP_ARCH_RISCV64", "riscv64", true},
	{"SCMP_ARCH_LOONGARCH64", "loongarch64", true},
	{"SCMP_ARCH_PARISC", "parisc", false},
	{"SCMP_ARCH_PARISC64", "parisc64", false},
	{"SCMP_ARCH_M68K", "m68k", false},
	{"SCMP_ARCH_SH", "sh", false},
	{"SCMP_ARCH_SHEB", "sheb", false},
}

func archByScmp(s string) (arch, bool) {
	for _, a := range arches {
		if a.scmp == s {
			return a, true
		}
	}
	return arch{}, false
}

func archByNative(s string) (arch, bool) {
	if s == "loong64" { // moby's spelling in includes (see notes: arch-key mismatch)
		s = "loongarch64"
	}
	for _, a := range arches {
		if a.native == s {
			return a, true
		}
	}
	return arch{}, false
}

// goToNative is moby's mapping from GOARCH to the native name its includes
// and excludes compare against.
var goToNative = map[string]string{
	"386": "x86", "amd64": "amd64", "arm": "arm", "arm64": "arm64",
	"mips": "mips", "mipsle": "mipsel", "mips64": "mips64", "mips64le": "mipsel64",
	"ppc64": "ppc64", "ppc64le": "ppc64le", "riscv64": "riscv64", "s390x": "s390x",
	"loong64": "loongarch64",
}

// NativeArch is the native name of the architecture ctsec runs on.
func NativeArch() string {
	if n, ok := goToNative[runtime.GOARCH]; ok {
		return n
	}
	return runtime.GOARCH
}

// ParseArch accepts an architecture as SCMP_ARCH_X86_64, x86_64, amd64 or
// GOARCH spelling and returns its native name.
func ParseArch(s string) (string, error) {
	if a, ok := archByScmp(strings.ToUpper(s)); ok {
		return a.native, nil
	}
	if a, ok := archByScmp("SCMP_ARCH_" + strings.ToUpper(s)); ok {
		return a.native, nil
	}
	if n, ok := goToNative[s]; ok {
		return n, nil
	}
	if a, ok := archByNative(strings.ToLower(s)); ok {
		return a.native, nil
	}
	if strings.EqualFold(s, "aarch64") {
		return "arm64", nil
	}
	return "", fmt.Errorf("unknown architecture %q (want e.g. amd64, x86, x32, arm64 or SCMP_ARCH_X86_64)", s)
}

// Capabilities known to Linux (up to CAP_CHECKPOINT_RESTORE, 5.9).
var capabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// DockerDefaultCaps is the bounding set Docker gives a container by default
// (moby oci/caps/defaults.go): the set includes/excludes are judged against
// unless --caps says otherwise.
var DockerDefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// ParseCaps normalises capability names (case-insensitive, CAP_ optional,
// "ALL" for every capability) and rejects unknown ones.
func ParseCaps(list []string) ([]string, error) {
	var out []string
	for _, c := range list {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c == "" {
			continue
		}
		if c == "ALL" {
			out = append(out, capabilities...)
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !contains(capabilities, c) {
			return nil, fmt.Errorf("unknown capability %q", c)
		}
		out = append(out, c)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// closest suggests the nearest candidate to a misspelling, or "".
func closest(s string, candidates []string) string {
	best, bestD := "", max(3, len(s)/5+1)
	if len(s) > 64 {
		return ""
	}
	s = strings.ToLower(s)
	var buf [2][65]int
	for _, c := range candidates {
		// The length difference is a lower bound of the distance: most
		// candidates are ruled out without computing it.
		if d := len(c) - len(s); d >= bestD || -d >= bestD {
			continue
		}
		if d := editDistance(s, strings.ToLower(c), &buf); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string, buf *[2][65]int) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev, cur := buf[0][:len(b)+1], buf[1][:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
