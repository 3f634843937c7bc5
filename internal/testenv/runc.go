package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RuncBundle makes an OCI bundle in a temporary directory whose root is
// BusyboxRoot and whose process runs args without a terminal and without
// no_new_privs (Docker's default). edit, when not nil, changes the spec
// before it is written (a seccomp profile, mounts...).
func RuncBundle(t testing.TB, runc string, args []string, edit func(*specs.Spec)) string {
	t.Helper()
	bundle := t.TempDir()
	BusyboxRoot(t, filepath.Join(bundle, "rootfs"))
	if out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v\n%s", err, out)
	}
	cfg := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatalf("runc spec wrote %s: %v", cfg, err)
	}
	spec.Process.Args, spec.Process.Terminal, spec.Process.NoNewPrivileges = args, false, false
	spec.Root.Readonly = false
	// Without a cgroupsPath runc uses /<container id>: two test runs on one
	// host (CI and a developer, or parallel packages) with the same fixed id
	// would share a cgroup. A random path keeps every run apart.
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	spec.Linux.CgroupsPath = "/ctsec-test-" + hex.EncodeToString(rnd[:])
	if edit != nil {
		edit(&spec)
	}
	if data, err = json.MarshalIndent(&spec, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return bundle
}

// RuncRun runs a bundle's container to completion (60s at most) under its
// own runc state directory, deletes it, and returns its combined output.
func RuncRun(t testing.TB, runc, bundle, id string) (string, error) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "runc")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, runc, "--root", root, "run", "--bundle", bundle, id).CombinedOutput()
	exec.Command(runc, "--root", root, "delete", "--force", id).Run()
	return string(out), err
}
