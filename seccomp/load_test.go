package seccomp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/report"
)

// TestBadInput: input that is not a profile fails with one positioned line.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "x.json: profile is empty"},
		{"blank", " \n\t\n", "x.json: profile is empty"},
		{"truncated", "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [", "x.json:3:16: invalid JSON: unexpected end of input"},
		{"syntax", "{\n  \"defaultAction\" \"SCMP_ACT_ERRNO\"}", "x.json:2:"},
		{"trailing", `{"defaultAction":"SCMP_ACT_ERRNO"} {}`, "x.json:1:36: unexpected data after"},
		{"deep", strings.Repeat("[", 100000), "x.json:1:33: JSON nested deeper than 32"},
		{"deep objects", strings.Repeat(`{"a":`, 50), "nested deeper"},
		{"array top", `[]`, "x.json:1:1: : want an object, found an array"},
		{"action number", "{\"defaultAction\": 3}", "x.json:1:19: defaultAction: want a string, found a number"},
		{"names string", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":"read","action":"SCMP_ACT_ALLOW"}]}`, "x.json:1:56: syscalls[0].names: want an array of strings, found a string"},
		{"syscalls object", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":{}}`, "syscalls: want an array, found an object"},
		{"negative errno", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":-1}`, "defaultErrnoRet: -1 is negative"},
		{"float index", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":1.5,"value":1,"op":"SCMP_CMP_EQ"}]}]}`, "index: 1.5 is not a whole number"},
		{"huge value", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":18446744073709551616,"op":"SCMP_CMP_EQ"}]}]}`, "does not fit in 64 bits"},
		{"bad utf8 key", "{\"\xff\": 1}", "unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, findings, err := Parse("x.json", []byte(tt.src))
			msg := ""
			if err != nil {
				msg = err.Error()
			} else {
				for _, f := range findings {
					msg += f.Message
				}
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("got %q, want %q", msg, tt.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("not one line: %q", msg)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.json")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	// 100 MB, sparse: the loader must stop at its limit, not read it all.
	if err := f.Truncate(100 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, _, err = Load(p)
	var se *SyntaxError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "larger than the 1 MiB limit") {
		t.Errorf("err = %v", err)
	}
	if _, _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
}

// TestSchemaFindings: every strict rule fires, at the right position.
func TestSchemaFindings(t *testing.T) {
	tests := []struct {
		name, src, rule, where, msg string
	}{
		{"unknown top key", `{"defaultAction":"SCMP_ACT_ERRNO","sycalls":[]}`, RuleUnknownKey, "1:35", `did you mean "syscalls"?`},
		{"unknown rule key", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","arg":[]}]}`, RuleUnknownKey, "1:91", `"arg"`},
		{"duplicate key", `{"defaultAction":"SCMP_ACT_ERRNO","defaultAction":"SCMP_ACT_ALLOW"}`, RuleDuplicateKey, "1:35", "appears twice"},
		{"missing default", `{}`, RuleMissingField, "1:1", "defaultAction is missing"},
		{"bad default", `{"defaultAction":"SCMP_ACT_ERNO"}`, RuleBadAction, "1:18", `did you mean "SCMP_ACT_ERRNO"?`},
		{"bad action", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"ALLOW"}]}`, RuleBadAction, "1:74", `"ALLOW" is not a seccomp action`},
		{"no action", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"]}]}`, RuleMissingField, "1:47", "no action"},
		{"bad op", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"EQ"}]}]}`, RuleBadOperator, "1:125", `"EQ" is not a seccomp operator`},
		{"arg index", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}`, RuleArgIndex, "1:108", "argument index 9"},
		{"bad arch", `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_FOO"]}`, RuleBadArch, "1:52", `"SCMP_ARCH_FOO" is not a seccomp architecture`},
		{"native arch in list", `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["amd64"]}`, RuleBadArch, "1:52", `use "SCMP_ARCH_X86_64"`},
		{"runc arch", `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_PARISC"]}`, RuleBadArch, "1:52", "runc does not know"},
		{"includes arch", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["SCMP_ARCH_X86_64"]}}]}`, RuleBadArch, "1:113", `native names: "amd64"`},
		{"bad flag", `{"defaultAction":"SCMP_ACT_ERRNO","flags":["SECCOMP_FILTER_FLAG_NOPE"]}`, RuleBadFlag, "1:44", "unknown seccomp flag"},
		{"bad cap", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMN"]}}]}`, RuleBadCap, "1:111", `did you mean "CAP_SYS_ADMIN"?`},
		{"errnoRet on allow", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","errnoRet":1}]}`, RuleErrnoRet, "1:102", "only meaningful with SCMP_ACT_ERRNO"},
		{"defaultErrnoRet on kill", `{"defaultAction":"SCMP_ACT_KILL","defaultErrnoRet":1}`, RuleErrnoRet, "1:52", "not SCMP_ACT_KILL"},
		{"notify default", `{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/run/a.sock"}`, RuleNotify, "1:1", "cannot be the default"},
		{"notify no listener", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["openat"],"action":"SCMP_ACT_NOTIFY"}]}`, RuleNotify, "1:76", "needs listenerPath"},
		{"notify write", `{"defaultAction":"SCMP_ACT_ERRNO","listenerPath":"/run/a.sock","syscalls":[{"names":["write"],"action":"SCMP_ACT_NOTIFY"}]}`, RuleNotify, "1:104", "write syscall"},
		{"no names", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"action":"SCMP_ACT_ALLOW"}]}`, RuleNoNames, "1:47", "names no syscalls"},
		{"dup name", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","read"],"action":"SCMP_ACT_ALLOW"}]}`, RuleDuplicateName, "1:64", "listed twice"},
		{"masked never", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"valueTwo":2,"op":"SCMP_CMP_MASKED_EQ"}]}]}`, RuleArgValue, "1:99", "can never match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, findings, err := Parse("x.json", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range findings {
				if f.Rule == tt.rule && strings.Contains(f.Message+" "+f.Fix, tt.msg) {
					if got := strings.TrimPrefix(f.Where(), "x.json:"); got != tt.where {
						t.Errorf("at %s, want %s", got, tt.where)
					}
					return
				}
			}
			t.Errorf("no %s finding containing %q in %+v", tt.rule, tt.msg, findings)
		})
	}
}

// TestNameResolution: typos are errors with a suggestion; names libseccomp
// is too old for, or that exist only elsewhere, are warnings.
func TestNameResolution(t *testing.T) {
	src := `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[
{"names":["read","not_a_syscall","opnat","mseal","cacheflush","chown32"],"action":"SCMP_ACT_ALLOW"}]}`
	p, schema, err := Parse("n.json", []byte(src))
	if err != nil || len(schema) != 0 {
		t.Fatal(err, schema)
	}
	v := Validate(p, schema, amd64Target, NewResolver())
	got := map[string]report.Finding{}
	for _, f := range v.Findings {
		for _, n := range []string{"not_a_syscall", "opnat", "mseal", "cacheflush", "chown32"} {
			if strings.Contains(f.Message, `"`+n+`"`) {
				got[n] = f
			}
		}
	}
	if f := got["not_a_syscall"]; f.Rule != RuleUnknownSyscall || f.Severity != report.High || f.Line != 2 {
		t.Errorf("not_a_syscall: %+v", f)
	}
	if f := got["opnat"]; f.Rule != RuleUnknownSyscall || f.Fix != `did you mean "openat"?` {
		t.Errorf("opnat: %+v", f)
	}
	if f := got["cacheflush"]; f.Rule != RuleNotOnTarget || f.Severity != report.Low {
		t.Errorf("cacheflush: %+v", f)
	}
	if f := got["chown32"]; f.Rule != RuleNotOnTarget {
		t.Errorf("chown32: %+v", f)
	}
	if f, ok := got["mseal"]; ok && (f.Rule != RuleLibseccompTooOld || f.Severity != report.Low) {
		t.Errorf("mseal: %+v", f)
	}
	if v.Errors() != 2 {
		t.Errorf("errors = %d", v.Errors())
	}
}

// TestSize: a filter over the kernel's limit is an error.
func TestSize(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[`)
	for i := 0; i < 1500; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"names":["ioctl"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":` + itoa(i) + `,"op":"SCMP_CMP_EQ"},{"index":0,"value":` + itoa(i) + `,"op":"SCMP_CMP_EQ"}]}`)
	}
	b.WriteString(`]}`)
	p, schema, err := Parse("big.json", b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	v := Validate(p, schema, amd64Target, NewResolver())
	for _, f := range v.Findings {
		if f.Rule == RuleSize && f.Severity == report.High && strings.Contains(f.Message, "over the kernel's limit") {
			return
		}
	}
	t.Errorf("no size error; compiled %+v", v.Compiled)
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestTooOldDirection: a name the linked libseccomp cannot resolve fails
// closed in an allow-list (low: the call stays denied) and open in a rule
// that was to deny it under an allowing default (medium: the call is
// allowed on this host).
func TestTooOldDirection(t *testing.T) {
	if NewResolver().KnownAnywhere("mseal") {
		t.Skip("the linked libseccomp resolves mseal")
	}
	for _, tt := range []struct {
		src  string
		want report.Severity
	}{
		{`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","mseal"],"action":"SCMP_ACT_ALLOW"}]}`, report.Low},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mseal"],"action":"SCMP_ACT_ERRNO"}]}`, report.Medium},
		{`{"defaultAction":"SCMP_ACT_LOG","syscalls":[{"names":["mseal"],"action":"SCMP_ACT_KILL_PROCESS"}]}`, report.Medium},
	} {
		p, schema, err := Parse("p.json", []byte(tt.src))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, f := range Validate(p, schema, amd64Target, NewResolver()).Findings {
			if f.Rule == RuleLibseccompTooOld {
				found = true
				if f.Severity != tt.want {
					t.Errorf("%s: %s, want %s (%s)", tt.src, f.Severity, tt.want, f.Message)
				}
			}
		}
		if !found {
			t.Errorf("%s: no %s finding", tt.src, RuleLibseccompTooOld)
		}
	}
}
