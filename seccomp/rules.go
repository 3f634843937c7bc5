package seccomp

import "github.com/ctsec/ctsec/internal/report"

// RuleLoad is a profile that could not be loaded at all (unreadable, not
// JSON, wrong types), reported as a finding when several are checked at once.
const RuleLoad = "seccomp/load"

// Rules is every seccomp rule: the schema and name checks of validate, the
// compile and size checks, and lint's policy review. SARIF, --help and
// docs/rules.md are made from it.
var Rules = report.Rules{
	{ID: RuleLoad, Severity: report.Critical, Title: "the profile cannot be loaded",
		Description: "The file is unreadable, empty, not JSON or has values of the wrong JSON type, so there is no profile to check.",
		Help:        "fix the file at the position given; ctsec seccomp validate FILE shows it alone"},
	{ID: RuleUnknownKey, Severity: report.High, Title: "unknown key",
		Description: "Docker's loader ignores keys it does not know, so a misspelt key (\"defaultaction\", \"syscall\") silently means the default.",
		Help:        "spell the key as moby's seccomp types do, or remove it"},
	{ID: RuleDuplicateKey, Severity: report.High, Title: "key given twice",
		Description: "Go's JSON decoder keeps the last of two equal keys, so the first one is ignored without a word.",
		Help:        "keep one"},
	{ID: RuleMissingField, Severity: report.High, Title: "required field missing",
		Description: "A profile without defaultAction, a rule without action or an argument condition without op does not mean what it seems to.",
		Help:        "add the field"},
	{ID: RuleBadAction, Severity: report.High, Title: "not a seccomp action",
		Description: "moby loads unknown actions and runc then refuses the container, or an older runc ignores the rule.",
		Help:        "use one of SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_LOG, SCMP_ACT_TRACE, SCMP_ACT_NOTIFY"},
	{ID: RuleBadOperator, Severity: report.High, Title: "not a seccomp comparison operator",
		Help: "use one of SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ"},
	{ID: RuleBadArch, Severity: report.High, Title: "not an architecture",
		Help: "use SCMP_ARCH_* names libseccomp knows (SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64, …) and moby's names in includes/excludes (amd64, arm64, …)"},
	{ID: RuleBadFlag, Severity: report.High, Title: "not a seccomp filter flag",
		Help: "use SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW or SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"},
	{ID: RuleBadCap, Severity: report.High, Title: "not a capability",
		Description: "An includes/excludes condition on a capability that does not exist can never hold: the rule never applies (or always does).",
		Help:        "use CAP_* names"},
	{ID: RuleNameAndNames, Severity: report.High, Title: "name and names in one rule",
		Help: "move the name into names"},
	{ID: RuleArchesAndMap, Severity: report.High, Title: "architectures and archMap in one profile",
		Help: "keep one of them"},
	{ID: RuleArgIndex, Severity: report.High, Title: "argument index above 5",
		Description: "Syscalls have at most six arguments; libseccomp refuses a higher index and the container does not start.",
		Help:        "use 0 to 5"},
	{ID: RuleArgValue, Severity: report.Medium, Title: "argument value or valueTwo that cannot match as written",
		Help: "valueTwo is the datum of SCMP_CMP_MASKED_EQ only, and must lie within the mask"},
	{ID: RuleMinKernel, Severity: report.High, Title: "malformed minKernel",
		Description: "Docker rejects a profile whose minKernel is not a string \"X.Y\".",
		Help:        "write it as a string, e.g. \"4.8\""},
	{ID: RuleErrnoRet, Severity: report.High, Title: "errnoRet where it means nothing or out of range",
		Description: "errnoRet only applies to SCMP_ACT_ERRNO and SCMP_ACT_TRACE; libseccomp rejects values of 4095 and above.",
		Help:        "drop it, or use an errno below 4095 (1 EPERM, 38 ENOSYS)"},
	{ID: RuleNotify, Severity: report.High, Title: "SCMP_ACT_NOTIFY misused",
		Description: "A notifying default or a notified write(2) deadlocks the process; NOTIFY needs a listenerPath.",
		Help:        "notify only named syscalls, and set listenerPath to the agent's socket"},
	{ID: RuleNoNames, Severity: report.High, Title: "rule names no syscalls",
		Help: "add names, or remove the rule"},
	{ID: RuleDuplicateName, Severity: report.Low, Title: "syscall listed twice in one rule",
		Help: "drop the repeat"},
	{ID: RuleUnknownSyscall, Severity: report.High, Title: "no architecture knows this syscall name",
		Description: "runc drops names its libseccomp cannot resolve, so a typo silently leaves the syscall to the default action.",
		Help:        "spell it as the kernel does (ctsec suggests the closest name)"},
	{ID: RuleLibseccompTooOld, Severity: report.Low, Title: "syscall newer than the linked libseccomp",
		Description: "A real syscall this libseccomp does not know yet: runc built against it drops the rule, so the syscall gets the default action. Low when that denies it (an allow-list fails closed, as on an older kernel); medium when the default allows it (a denying rule is lost).",
		Help:        "upgrade libseccomp on the hosts that run this profile, or accept that the syscall gets the default action there"},
	{ID: RuleNotOnTarget, Severity: report.Low, Title: "syscall missing on a target architecture",
		Help: "nothing to do when the profile is shared across architectures"},
	{ID: RulePartialArch, Severity: report.Low, Title: "syscall missing on some of the target architectures",
		Help: "nothing to do when the profile is shared across architectures"},
	{ID: RuleCompile, Severity: report.High, Title: "libseccomp cannot compile the profile",
		Description: "libseccomp or the runc that loads the filter refuses the profile (a conflicting rule, flags before runc 1.2, an architecture runc cannot patch), or it has more argument-conditioned rules than ctsec compiles.",
		Help:        "fix the rule libseccomp names; runc would refuse the container"},
	{ID: RuleSize, Severity: report.Info, Title: "size of the compiled BPF filter",
		Description: "The kernel refuses filters over 4096 instructions; a filter near the limit breaks when rules are added. Counted as the kernel holds it: libseccomp's filter as the runc in use builds it, behind runc's ENOSYS stub.",
		Help:        "merge rules, drop argument conditions or architectures"},

	{ID: LintDefaultAllow, Severity: report.High, Title: "default action ALLOW or LOG",
		Description: "A deny-list lets every syscall through that it does not name, including ones added to the kernel later.",
		Help:        "make the default SCMP_ACT_ERRNO and allow what the service needs (profile record)"},
	{ID: LintDangerous, Severity: report.High, Title: "dangerous syscall allowed",
		Description: "The syscall widens the kernel's attack surface or crosses the container's boundary; Docker's default allows it only with the capability it needs, or never.",
		Help:        "drop it, or gate it on its capability with includes.caps"},
	{ID: LintPtraceKernel, Severity: report.High, Title: "ptrace allowed without minKernel 4.8",
		Description: "Before Linux 4.8 a traced process could bypass seccomp.",
		Help:        "add \"includes\": {\"minKernel\": \"4.8\"} to the rule"},
	{ID: LintClone3, Severity: report.Medium, Title: "clone3 denied with another errno than ENOSYS",
		Description: "glibc 2.34 and later fall back to clone only when clone3 fails with ENOSYS; any other error breaks thread creation.",
		Help:        "answer clone3 with SCMP_ACT_ERRNO and errnoRet 38"},
	{ID: LintClone3Args, Severity: report.High, Title: "argument conditions on clone3",
		Description: "clone3's flags live in a struct seccomp cannot read, so conditions on its arguments filter nothing.",
		Help:        "deny clone3 with ENOSYS and filter clone's flags instead"},
	{ID: LintSocketcall, Severity: report.Medium, Title: "socket filtered while socketcall is allowed",
		Description: "On 32-bit x86 every socket call can go through socketcall, which carries the real call's arguments in memory seccomp cannot read.",
		Help:        "deny socketcall, or drop the x86 architecture"},
	{ID: LintCompatArch, Severity: report.Low, Title: "compat architecture missing",
		Description: "A 32-bit process on a 64-bit host (x86/x32, arm, s390) is killed when its architecture is not in the filter.",
		Help:        "add the compat architectures, as Docker's default does through archMap"},
	{ID: LintNoEffect, Severity: report.Info, Title: "rule with the default action",
		Description: "runc skips rules whose action is the default, so the rule changes nothing.",
		Help:        "drop it"},
	{ID: LintRuncStart, Severity: report.Medium, Title: "runc cannot start a container under the profile",
		Description: "runc makes some syscalls itself after it has loaded the container's filter and before it executes the container's process; an allow-list without them stops every container at start.",
		Help:        "add the syscalls named, or build the profile on the runtime base (profile gen --base runtime)"},
	{ID: LintRecording, Severity: report.High, Title: "a recording profile confines nothing",
		Description: "The profile notifies a recorder for every syscall and then lets it through.",
		Help:        "use the profile profile record wrote from it, not the recording profile"},
}

var lintRules = map[string]bool{LintDefaultAllow: true, LintDangerous: true, LintPtraceKernel: true, LintClone3: true,
	LintClone3Args: true, LintSocketcall: true, LintCompatArch: true, LintNoEffect: true, LintRecording: true, LintRuncStart: true}

// ValidateRules are the rules validate evaluates: loading, names, compiling.
func ValidateRules() report.Rules {
	var out report.Rules
	for _, r := range Rules {
		if !lintRules[r.ID] {
			out = append(out, r)
		}
	}
	return out
}

// LintRules are the rules lint evaluates: its policy rules and the schema.
func LintRules() report.Rules {
	var out report.Rules
	for _, r := range Rules {
		switch r.ID {
		case RuleUnknownSyscall, RuleLibseccompTooOld, RuleNotOnTarget, RulePartialArch, RuleCompile, RuleSize:
			continue
		}
		out = append(out, r)
	}
	return out
}
