package compose

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctsec/ctsec/internal/textdiff/difftest"
)

// FuzzHarden: whatever the input, when it parses as a compose file, harden
// either refuses a service with a warning or produces output that parses,
// matches the expected model (Harden verifies that itself, so any error is a
// failure), keeps every input byte, is idempotent, and is shown by a diff
// that applies.
func FuzzHarden(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/harden/*.yml")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b, true)
		}
	}
	f.Add([]byte("services:\n  a: {image: x}\n"), false)
	f.Add([]byte("services:\n  a:\n    image: x\n    cap_add: [ ]\n    security_opt: [a, ]\n"), true)
	f.Add([]byte("services:\n  a:\n    image: x\n    security_opt:\n    - \"b\"  # c\n    tmpfs: ['/x']\n"), false)
	f.Add([]byte("services:\n  a:\n    image: x\n    command: |+\n      x\n\n"), true)
	f.Fuzz(func(t *testing.T, src []byte, strict bool) {
		d, err := Parse("fuzz.yml", src)
		if err != nil {
			return
		}
		o := Options{Policy: Baseline}
		if strict {
			o.Policy = Strict
		}
		res, err := Harden(d, o)
		if err != nil {
			t.Fatalf("harden failed on parseable input: %v\n%q", err, src)
		}
		if !bytes.Equal(withoutInsertions(res), src) {
			t.Fatalf("input bytes not preserved")
		}
		if !res.Changed() {
			return
		}
		if err := verifyFull(d, res.Output, res.done); err != nil {
			t.Fatalf("full reload disagrees with harden's verification: %v\n%q", err, src)
		}
		d2, err := Parse("fuzz.yml", res.Output)
		if err != nil {
			t.Fatalf("output does not parse: %v\n%q", err, res.Output)
		}
		res2, err := Harden(d2, o)
		if err != nil {
			t.Fatalf("second harden: %v", err)
		}
		if res2.Changed() {
			t.Fatalf("not idempotent:\n%s", res2.Diff("a", "b"))
		}
		// The insertion-aware diff must say exactly what changed.
		if got, err := difftest.Apply(string(src), res.Diff("a", "b")); err != nil || got != string(res.Output) {
			t.Fatalf("diff does not turn the input into the output: %v\n%s", err, res.Diff("a", "b"))
		}
	})
}

// FuzzParse: no input panics the loader or the auditor.
func FuzzParse(f *testing.F) {
	f.Add([]byte("services:\n  a:\n    image: x\n"))
	f.Add([]byte("services: {a: {image: x, ports: ['5432:5432'], volumes: ['/:/h']}}"))
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := Parse("fuzz.yml", src)
		if err != nil {
			return
		}
		Audit(d)
	})
}

// FuzzFacts: a facts file either is refused with a ParseError or reads
// back the same after writing, and never holds an unknown capability.
func FuzzFacts(f *testing.F) {
	f.Add([]byte(`{"version": 1, "services": {"web": {"learnt": {"caps": ["CHOWN"], "writes": [{"path": "/x", "kind": "A"}]}}}}`))
	f.Add([]byte(`{"version": 1, "services": {"a": {"image": {"ref": "x", "id": "y", "user": "1", "file_capabilities": [{"path": "/p", "caps": ["NET_RAW"], "effective": true}]}}}}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		facts, err := ParseFacts("f.json", src)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("not a ParseError: %v", err)
			}
			return
		}
		b, err := facts.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseFacts("g.json", b)
		if err != nil {
			t.Fatalf("written facts do not read back: %v\n%s", err, b)
		}
		if b2, _ := again.Marshal(); !bytes.Equal(b, b2) {
			t.Fatalf("not stable:\n%s\n%s", b, b2)
		}
	})
}

// FuzzHeap: heap settings and sizes parse without panic and never negative.
func FuzzHeap(f *testing.F) {
	f.Add("JAVA_OPTS=-Xmx1g -Xms512m", "--max-old-space-size=4096", "1.5g")
	f.Add("MAX_HEAP_SIZE=99999999999999999999T", "-Xmx9223372036854775807k", "-1")
	f.Fuzz(func(t *testing.T, env, arg, size string) {
		if h := HeapSetting([]string{env}, []string{arg}); h != nil && h.Bytes <= 0 {
			t.Fatalf("heap %+v", h)
		}
		if n, ok := ParseBytes(size); ok && n < 0 {
			t.Fatalf("ParseBytes(%q) = %d", size, n)
		}
	})
}
