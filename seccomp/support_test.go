package seccomp

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDetectSupport(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "proc/sys/kernel/seccomp")
	os.MkdirAll(p, 0o755)
	os.WriteFile(filepath.Join(p, "actions_avail"), []byte("kill_process kill_thread trap errno user_notif trace log allow\n"), 0o644)
	s, err := DetectSupport(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.KernelActions) != 8 || s.Library == "" || s.APILevel == 0 {
		t.Errorf("support = %+v", s)
	}
	if s.APILevel >= 5 && !s.Notify {
		t.Errorf("user_notif listed and API level %d but Notify false", s.APILevel)
	}
	if _, err := DetectSupport(t.TempDir()); err == nil {
		t.Error("missing actions_avail gave no error")
	}
}
