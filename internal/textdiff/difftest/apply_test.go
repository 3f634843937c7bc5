package difftest

import (
	"strings"
	"testing"
)

func TestApply(t *testing.T) {
	for _, tt := range []struct {
		name, old, diff, want, err string
	}{
		{"empty diff", "a\n", "", "a\n", ""},
		{"change", "a\nb\nc\n", "--- x\n+++ y\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n", "a\nB\nc\n", ""},
		{"insert into empty", "", "--- x\n+++ y\n@@ -0,0 +1 @@\n+a\n\\ No newline at end of file\n", "a", ""},
		{"context mismatch", "a\nb\n", "--- x\n+++ y\n@@ -1,2 +1,2 @@\n z\n-b\n+B\n", "", "does not match"},
		{"wrong count", "a\nb\n", "--- x\n+++ y\n@@ -1,3 +1,2 @@\n a\n-b\n+B\n", "", "lines"},
		{"wrong new start", "a\nb\n", "--- x\n+++ y\n@@ -2 +1 @@\n-b\n+B\n", "", "new start"},
		{"no header", "a\n", "@@ -1 +1 @@\n-a\n+b\n", "", "no header"},
		{"garbage line", "a\n", "--- x\n+++ y\n@@ -1 +1 @@\n?a\n", "", "line 4"},
	} {
		got, err := Apply(tt.old, tt.diff)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.err)
		}
	}
}

// FuzzApply: no diff text makes the checker panic.
func FuzzApply(f *testing.F) {
	f.Add("a\nb\n", "--- x\n+++ y\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n")
	f.Add("", "--- x\n+++ y\n@@ -0,0 +1 @@\n+a\n\\ No newline at end of file\n")
	f.Fuzz(func(t *testing.T, old, diff string) {
		Apply(old, diff)
	})
}
