package testenv

import (
	"path/filepath"
	"testing"
)

type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }
func (r *recorder) Helper()               {}

func TestGolden(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "x.golden")
	*update = true
	Golden(t, p, []byte("one\n"))
	*update = false
	tests := []struct {
		got      string
		wantFail bool
	}{{"one\n", false}, {"two\n", true}}
	for _, tt := range tests {
		r := &recorder{TB: t}
		Golden(r, p, []byte(tt.got))
		if r.failed != tt.wantFail {
			t.Errorf("Golden(%q) failed = %v, want %v", tt.got, r.failed, tt.wantFail)
		}
	}
	r := &recorder{TB: t}
	Golden(r, filepath.Join(dir, "missing"), nil)
	if !r.failed {
		t.Error("a missing golden file passed")
	}
}
