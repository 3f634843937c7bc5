package seccomp

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/report"
)

// worstCases are profiles of about MaxProfileSize, each stressing one
// dimension: names, repeats, rules, argument conditions, errno values,
// capabilities, architectures, keys.
func worstCases() map[string][]byte {
	fill := func(head, tail string, item func(i int) string) []byte {
		var b bytes.Buffer
		b.WriteString(head)
		for i := 0; ; i++ {
			s := item(i)
			if b.Len()+len(s)+len(tail)+1 > MaxProfileSize {
				break
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(s)
		}
		b.WriteString(tail)
		return b.Bytes()
	}
	real := []string{"read", "write", "openat", "close", "fstat", "mmap", "mprotect", "munmap", "brk", "ioctl"}
	return map[string][]byte{
		"unknown-names": fill(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":[`, `],"action":"SCMP_ACT_ALLOW"}]}`, func(i int) string { return fmt.Sprintf(`"x%06d"`, i) }),
		"repeated-name": fill(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":[`, `],"action":"SCMP_ACT_ALLOW"}]}`, func(int) string { return `"read"` }),
		"rules":         fill(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[`, `]}`, func(int) string { return `{"names":["read"],"action":"SCMP_ACT_ALLOW"}` }),
		"arg-rules": fill(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[`, `]}`, func(i int) string {
			return fmt.Sprintf(`{"names":[%q],"action":"SCMP_ACT_ALLOW","args":[{"index":%d,"value":%d,"op":"SCMP_CMP_EQ"}]}`, real[i%len(real)], i%6, i)
		}),
		"conditions": fill(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[`, `]}]}`, func(i int) string {
			return fmt.Sprintf(`{"index":0,"value":%d,"op":"SCMP_CMP_EQ"}`, i)
		}),
		"errnos": fill(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[`, `]}`, func(i int) string {
			return fmt.Sprintf(`{"names":[%q],"action":"SCMP_ACT_ERRNO","errnoRet":%d}`, real[i%len(real)], 1+i%4000)
		}),
		"caps":   fill(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"caps":[`, `]}}]}`, func(int) string { return `"CAP_SYS_ADMIN"` }),
		"arches": fill(`{"defaultAction":"SCMP_ACT_ERRNO","architectures":[`, `],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`, func(int) string { return `"SCMP_ARCH_X86"` }),
		"keys":   fill(`{"defaultAction":"SCMP_ACT_ERRNO",`, `}`, func(i int) string { return fmt.Sprintf(`"k%06d":1`, i) }),
	}
}

// TestWorstCasesBounded: at the size limit every shape loads, validates,
// lints and compiles (or is refused with a reason), and the report stays
// readable: at most maxPerRule+1 findings of a kind. A 32,000-name rule
// once took 30 s and printed a line per name.
func TestWorstCasesBounded(t *testing.T) {
	for name, data := range worstCases() {
		t.Run(name, func(t *testing.T) {
			p, schema, err := Parse(name+".json", data)
			if err != nil {
				t.Fatal(err)
			}
			v := Validate(p, schema, amd64Target, NewResolver())
			all := append(v.Findings, Lint(p, amd64Target)...)
			kinds := map[string]int{}
			for _, f := range all {
				kinds[f.Rule+"/"+f.Severity.String()]++
			}
			for k, n := range kinds {
				if n > 2*(maxPerRule+1) { // validate's and lint's share of one kind
					t.Errorf("%d findings of %s", n, k)
				}
			}
			if name == "arg-rules" || name == "conditions" {
				if v.Compiled != nil || !hasRule(v.Findings, RuleCompile, "more than ctsec compiles") {
					t.Errorf("%s: %d conditional rules compiled, want a refusal", name, len(p.Syscalls))
				}
			}
		})
	}
}

func hasRule(fs []report.Finding, rule, msg string) bool {
	for _, f := range fs {
		if f.Rule == rule && strings.Contains(f.Message, msg) {
			return true
		}
	}
	return false
}

// BenchmarkWorstCase is the documented measure of the worst cases within
// the size limit (target: each under 2 s of CPU):
//
//	go test ./seccomp -run '^$' -bench BenchmarkWorstCase -benchtime 3x
func BenchmarkWorstCase(b *testing.B) {
	for name, data := range worstCases() {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				p, schema, err := Parse(name+".json", data)
				if err != nil {
					b.Fatal(err)
				}
				Validate(p, schema, amd64Target, NewResolver())
				Lint(p, amd64Target)
			}
		})
	}
}
