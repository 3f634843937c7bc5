package testenv

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// update is the one -update flag of every package's golden tests
// (go test ./pkg -update rewrites that package's golden files).
var update = flag.Bool("update", false, "rewrite golden files under testdata/ instead of comparing")

// Updating reports whether -update was given, for tests that rewrite a
// generated part of a larger file rather than a whole golden file.
func Updating() bool { return *update }

// Golden compares got with the golden file at path, or rewrites the file
// under -update.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update to accept):\n%s", path, got)
	}
}
