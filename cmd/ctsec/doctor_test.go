package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDoctorInitSystem(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "proc/1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "proc/1/comm"), []byte("tini\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, detail := initSystem(root); ok || !strings.Contains(detail, "PID 1 is tini") {
		t.Errorf("container-like root: %v %q", ok, detail)
	}
	if err := os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	if ok, detail := initSystem(root); !ok || detail != "PID 1 is systemd" {
		t.Errorf("systemd root: %v %q", ok, detail)
	}
}
