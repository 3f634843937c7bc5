// Package hosttest builds temporary host roots for tests of the host
// modules: copies of this machine's real configuration (Debian 12's
// sshd_config, fail2ban, ufw files) plus files a test lays over them.
package hosttest

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/testenv"
)

// Root makes a temporary root holding copies of the given host paths
// (files or directories) and returns an Env for it.
func Root(t testing.TB, copies ...string) *host.Env {
	t.Helper()
	root := t.TempDir()
	for _, p := range copies {
		if err := copyTree(p, filepath.Join(root, p)); err != nil {
			testenv.Unavailable(t, "copying %s into a test root: %v", p, err)
		}
	}
	env := host.NewEnv(root)
	env.SSHConnection = ""
	env.Operator = ""
	return env
}

// Write puts a file into the root.
func Write(t testing.TB, env *host.Env, path, content string) {
	t.Helper()
	p := env.Path(path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Read returns a file of the root ("" when absent).
func Read(t testing.TB, env *host.Env, path string) string {
	t.Helper()
	b, err := os.ReadFile(env.Path(path))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// Snapshot records every regular file under the root, for byte-for-byte
// comparisons after a rollback.
func Snapshot(t testing.TB, env *host.Env) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(env.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if b, err := os.ReadFile(p); err == nil {
			out[env.Rel(p)] = string(b)
		}
		return nil
	})
	return out
}

// copyTree copies a file of this machine, or a directory with its regular
// files and their permission bits, to dst. Symlinks and special files are
// skipped: a test root must never reach outside itself.
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, b, info.Mode().Perm())
	})
}
