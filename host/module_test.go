package host_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ctsec/ctsec/host"
)

// TestNewEditDiff checks the diff a plan shows for an edit, in the cases
// where a line-splitting diff used to show nothing although the file
// changed: only the final newline differs, or only the line endings.
func TestNewEditDiff(t *testing.T) {
	for _, tt := range []struct {
		name, old, desired, want string
		exists                   bool
	}{
		{"new file", "", "a = 1\n", "--- /dev/null\n+++ /etc/x.conf\n@@ -0,0 +1 @@\n+a = 1\n", false},
		{"final newline added", "a = 1", "a = 1\n", "--- /etc/x.conf\n+++ /etc/x.conf\n@@ -1 +1 @@\n-a = 1\n\\ No newline at end of file\n+a = 1\n", true},
		{"crlf to lf", "a = 1\r\n", "a = 1\n", "--- /etc/x.conf\n+++ /etc/x.conf\n@@ -1 +1 @@\n-a = 1\r\n+a = 1\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.exists {
				os.MkdirAll(filepath.Join(root, "etc"), 0o755)
				if err := os.WriteFile(filepath.Join(root, "etc/x.conf"), []byte(tt.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			e, err := host.NewEdit(host.NewEnv(root), "/etc/x.conf", []byte(tt.desired), 0o644)
			if err != nil || e == nil {
				t.Fatalf("edit %v, %v", e, err)
			}
			if e.Diff != tt.want {
				t.Errorf("diff:\n%q\nwant:\n%q", e.Diff, tt.want)
			}
		})
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/x.conf"), []byte("a = 1\n"), 0o644)
	if e, err := host.NewEdit(host.NewEnv(root), "/etc/x.conf", []byte("a = 1\n"), 0o644); e != nil || err != nil {
		t.Errorf("equal content gives edit %+v, %v", e, err)
	}
}
