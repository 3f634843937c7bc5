package host

import (
	"bytes"
	"testing"
)

func TestBaselineIsACopy(t *testing.T) {
	a := Baseline()
	if !bytes.Contains(a, []byte("version: 1")) {
		t.Fatalf("baseline lacks its version: %.80s", a)
	}
	a[0] = 'X'
	if Baseline()[0] == 'X' {
		t.Error("Baseline returns the embedded bytes, not a copy")
	}
}
