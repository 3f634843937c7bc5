package seccomp

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", name), got)
}

func findingsJSON(t *testing.T, v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestGoldenValidate: a profile with one of every schema mistake, every
// finding with its position.
func TestGoldenValidate(t *testing.T) {
	p, schema, err := Load("testdata/broken.json")
	if err != nil {
		t.Fatal(err)
	}
	v := Validate(p, schema, amd64Target, NewResolver())
	golden(t, "broken.validate.golden", findingsJSON(t, v.Findings))
}

func TestGoldenLint(t *testing.T) {
	p, _, err := Load("testdata/risky.json")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "risky.lint.golden", findingsJSON(t, Lint(p, amd64Target)))
}

func TestGoldenDiff(t *testing.T) {
	var buf bytes.Buffer
	if err := Compare(builtin(t, "default"), builtin(t, "strict")).WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	golden(t, "diff-default-strict.golden", buf.Bytes())
}
