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
