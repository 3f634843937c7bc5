package apparmor

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestDetectSupportUnderRoot(t *testing.T) {
	root := t.TempDir()
	if s := DetectSupport(context.Background(), root); s.KernelEnabled || s.SecurityFS {
		t.Errorf("empty root reported AppArmor: %+v", s)
	}
	os.MkdirAll(filepath.Join(root, "sys/module/apparmor/parameters"), 0o755)
	os.WriteFile(filepath.Join(root, "sys/module/apparmor/parameters/enabled"), []byte("Y\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "sys/kernel/security/apparmor"), 0o755)
	os.WriteFile(filepath.Join(root, "sys/kernel/security/apparmor/profiles"), nil, 0o644)
	if s := DetectSupport(context.Background(), root); !s.KernelEnabled || !s.SecurityFS {
		t.Errorf("AppArmor root not detected: %+v", s)
	}
}

func TestParserVersion(t *testing.T) {
	tests := map[string]string{
		"AppArmor parser version 3.0.8\nCopyright (C) 1999-2008 Novell Inc.\n": "3.0.8",
		"": "",
	}
	for in, want := range tests {
		if got := parserVersion(in); got != want {
			t.Errorf("parserVersion(%q) = %q, want %q", in, got, want)
		}
	}
}
