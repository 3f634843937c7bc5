package seccomp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// FuzzParse: whatever the bytes, the loader returns a profile or an error,
// lint reviews what loads, neither panics, and every error and finding names a position on one line.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(testenv.Shared(f, "conformance", "moby-seccomp"), "*.json"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		``, `{}`, `[]`, `{"defaultAction":"SCMP_ACT_ERRNO"}`, `{"defaultAction":3}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":9,"value":1,"op":"EQ"}],"includes":{"minKernel":"4.x","caps":["X"],"arches":["amd64"]}}]}`,
		`{"defaultAction":"SCMP_ACT_NOTIFY","syscalls":[{"name":"write","names":["write"],"action":"SCMP_ACT_NOTIFY","errnoRet":99999}]}`,
		`{"a":{"b":{"c":[[[[1]]]]}}}`, "{\"defaultAction\":\"\xff\"}", `{"defaultAction":"SCMP_ACT_ERRNO",}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, findings, err := Parse("f.json", data)
		if err != nil {
			if p != nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "f.json") {
				t.Fatalf("bad error %q", err)
			}
			return
		}
		for _, fd := range findings {
			if fd.Line < 1 || fd.Column < 1 || fd.File != "f.json" || fd.Rule == "" {
				t.Fatalf("finding without position: %+v", fd)
			}
		}
		// Lint reads whatever loaded (schema findings or not): it must not
		// panic on it, and each finding has a rule and a severity.
		for _, fd := range Lint(p, amd64Target) {
			if fd.Rule == "" || fd.Message == "" {
				t.Fatalf("lint finding without rule or message: %+v", fd)
			}
		}
		// A profile that loads cleanly survives a round trip.
		if len(findings) == 0 {
			b, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if _, again, err := Parse("f.json", b); err != nil || len(again) != 0 {
				t.Fatalf("round trip: %v %+v\n%s", err, again, b)
			}
		}
	})
}

// FuzzCompile: whatever loads without errors compiles (or is refused with
// an error) for runc 1.1 and 1.2 without panicking, and the program is
// consistent: stub plus filter, whole instructions, per-architecture
// figures within the program.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]}]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO"}]}`,
		`{"defaultAction":"SCMP_ACT_KILL","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]}],"syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"op":"SCMP_CMP_MASKED_EQ"}]}]}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","flags":["SECCOMP_FILTER_FLAG_LOG"],"syscalls":[{"names":["read"],"action":"SCMP_ACT_LOG"}]}`,
	} {
		f.Add([]byte(s))
	}
	runcs := []Runc{{}, {Version: "1.1.5", major: 1, minor: 1, patch: 5}}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, schema, err := Parse("f.json", data)
		if err != nil {
			return
		}
		for _, fd := range schema {
			if fd.Severity >= 3 {
				return
			}
		}
		for _, r := range runcs {
			tg := amd64Target
			tg.Runc = r
			c, err := p.Resolve(tg).Compile()
			if err != nil {
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error on several lines: %q", err)
				}
				continue
			}
			if c.Instructions != c.Filter+c.Stub || len(c.BPF) != 8*c.Instructions || c.Filter == 0 {
				t.Fatalf("%s: %d = %d + %d, %d bytes", c.Runc, c.Instructions, c.Filter, c.Stub, len(c.BPF))
			}
			for a, n := range c.PerArch {
				if n <= 0 || n > c.Instructions {
					t.Fatalf("%s reaches %d of %d", a, n, c.Instructions)
				}
			}
			if !c.Matches(c.BPF) {
				t.Fatal("the program does not match itself")
			}
		}
	})
}

// FuzzReachable: any bytes as a program: the walk ends, never panics, and
// counts no more instructions than there are.
func FuzzReachable(f *testing.F) {
	c, err := (&Effective{DefaultAction: ActErrno, Native: "amd64", Arches: []string{"amd64", "x86"}, Declared: []string{"amd64", "x86"},
		Rules: []EffectiveRule{{Names: []string{"read"}, Action: ActAllow}}}).Compile()
	if err == nil {
		f.Add(c.BPF)
	}
	f.Add([]byte{0x15, 0, 0xff, 0xff, 0, 0, 0, 0, 0x05, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		prog, err := parseBPF(data[:len(data)/8*8])
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{"amd64", "x32", "x86", "arm64", "nope"} {
			if n := Reachable(prog, a); n < 0 || n > len(prog) {
				t.Fatalf("%s: %d of %d", a, n, len(prog))
			}
		}
	})
}

// FuzzParseRuncVersion: a version is parsed or refused, never panics, and a
// parsed one prints back as a release.
func FuzzParseRuncVersion(f *testing.F) {
	for _, s := range []string{"1.1.5", "1.1.5+ds1", "v1.2.0-rc.1", "1.2", "", "x", "99999999999999999999.1", "1.1.15"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRuncVersion(s)
		if err != nil {
			return
		}
		if !runcVersionRE().MatchString(r.Version) || !strings.HasPrefix(r.String(), "runc ") {
			t.Fatalf("%q parsed as %+v", s, r)
		}
	})
}
