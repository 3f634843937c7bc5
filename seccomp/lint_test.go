package seccomp

import (
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/report"
)

func lintSrc(t *testing.T, src string) []report.Finding {
	t.Helper()
	p, schema, err := Parse("l.json", []byte(src))
	if err != nil || len(schema) != 0 {
		t.Fatal(err, schema)
	}
	return Lint(p, amd64Target)
}

func TestLintRules(t *testing.T) {
	archMap := `"archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]}]`
	tests := []struct {
		name, src, rule string
		sev             report.Severity
		msg             string
	}{
		{"default allow", `{"defaultAction":"SCMP_ACT_ALLOW",` + archMap + `,"syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO"}]}`, LintDefaultAllow, report.High, "deny-list"},
		{"default log", `{"defaultAction":"SCMP_ACT_LOG",` + archMap + `}`, LintDefaultAllow, report.High, "ptrace"},
		{"gated mount", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,` + archMap + `,"syscalls":[{"names":["read","mount"],"action":"SCMP_ACT_ALLOW"}]}`, LintDangerous, report.High, "only with CAP_SYS_ADMIN"},
		{"never", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,` + archMap + `,"syscalls":[{"names":["userfaultfd"],"action":"SCMP_ACT_ALLOW"}]}`, LintDangerous, report.High, "never allows it"},
		{"cap-gated ok", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,` + archMap + `,"syscalls":[{"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}}]}`, LintDangerous, report.Info, "only with CAP_SYS_ADMIN"},
		{"ptrace old kernel", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,` + archMap + `,"syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ALLOW"}]}`, LintPtraceKernel, report.High, "before 4.8"},
		{"clone3 args", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,` + archMap + `,"syscalls":[{"names":["clone3"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]}`, LintClone3Args, report.High, "struct in memory"},
		{"clone3 eperm", `{"defaultAction":"SCMP_ACT_ERRNO",` + archMap + `,"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`, LintClone3, report.Medium, "glibc 2.34+"},
		{"clone3 rule eperm", `{"defaultAction":"SCMP_ACT_ERRNO",` + archMap + `,"syscalls":[{"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}`, LintClone3, report.Medium, "without errno 38"},
		{"socketcall", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,` + archMap + `,"syscalls":[{"names":["socketcall"],"action":"SCMP_ACT_ALLOW"},{"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":38,"op":"SCMP_CMP_NE"}]}]}`, LintSocketcall, report.Medium, "socketcall"},
		{"compat", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86_64"]}`, LintCompatArch, report.Low, "x86, x32"},
		{"recording", `{"defaultAction":"SCMP_ACT_LOG","listenerPath":"/run/r.sock",` + archMap + `,"syscalls":[{"names":["write"],"action":"SCMP_ACT_ALLOW"},{"names":["read","clone3","mount"],"action":"SCMP_ACT_NOTIFY"}]}`, LintRecording, report.High, "3 syscalls go to the agent at /run/r.sock"},
		{"no effect", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,` + archMap + `,"syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}`, LintNoEffect, report.Info, "changes nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := lintSrc(t, tt.src)
			for _, f := range fs {
				if f.Rule == tt.rule && f.Severity == tt.sev && strings.Contains(f.Message, tt.msg) {
					if f.Line != 1 || f.Column < 1 {
						t.Errorf("no position: %+v", f)
					}
					return
				}
			}
			t.Errorf("want %s/%s %q, got %+v", tt.rule, tt.sev, tt.msg, fs)
		})
	}
}

// TestLintBuiltins: Docker's default lints without high findings, strict
// without anything above info; the clean ones raise nothing at all.
func TestLintBuiltins(t *testing.T) {
	for name, worst := range map[string]report.Severity{"default": report.Medium, "strict": report.Info, "runtime": report.Info} {
		for _, f := range Lint(builtin(t, name), amd64Target) {
			if f.Severity > worst {
				t.Errorf("%s: %s %s %s", name, f.Severity, f.Rule, f.Message)
			}
		}
	}
}

// TestLintRecordingShape: a recording profile gets the one recording verdict
// and not the deny-list, dangerous-syscall or clone3 findings its design
// implies; the same rules without a listener (or with a denying default)
// are linted as usual.
func TestLintRecordingShape(t *testing.T) {
	archMap := `"archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]}]`
	rules := `"syscalls":[{"names":["write","clone"],"action":"SCMP_ACT_ALLOW"},{"names":["read","clone3","mount"],"action":"SCMP_ACT_NOTIFY"}]`

	got := map[string]int{}
	for _, f := range lintSrc(t, `{"defaultAction":"SCMP_ACT_LOG","listenerPath":"/run/r.sock",`+archMap+`,`+rules+`}`) {
		got[f.Rule]++
	}
	if got[LintRecording] != 1 || got[LintDefaultAllow]+got[LintDangerous]+got[LintClone3] != 0 {
		t.Errorf("recording profile: %v", got)
	}
	// A NOTIFY profile that denies by default is a real policy (an agent
	// emulating a few calls): no recording verdict, dangerous allows reported.
	got = map[string]int{}
	for _, f := range lintSrc(t, `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"listenerPath":"/run/r.sock",`+archMap+`,`+rules+`}`) {
		got[f.Rule]++
	}
	if got[LintRecording] != 0 || got[LintDangerous] == 0 {
		t.Errorf("denying NOTIFY profile: %v", got)
	}
}
