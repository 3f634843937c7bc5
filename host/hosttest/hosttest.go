// Package hosttest builds temporary host roots for tests of the host
// modules: copies of this machine's real configuration (Debian 12's
// sshd_config, fail2ban, ufw files) plus files a test lays over them.
package hosttest

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// namespacedEnv marks the inner run of InPrivateNamespaces.
const namespacedEnv = "CTSEC_HOST_NAMESPACED"

// Namespaced reports whether this is the inner run of InPrivateNamespaces.
func Namespaced() bool { return os.Getenv(namespacedEnv) == "1" }

// StateDir is the state directory the outer run of InPrivateNamespaces
// made for the inner one (outside the tmpfs mounts, so it survives them).
func StateDir() string { return os.Getenv("CTSEC_TEST_STATE") }

// InPrivateNamespaces re-runs the calling test inside `unshare --mount
// --net` with tmpfs over the given directories, so the live path (root "/":
// write the real paths, sysctl -p, ufw enable, revert) runs for real while
// the machine's files, network sysctls and firewall stay untouched. It
// reports whether the caller is the inner run. Each directory is copied
// aside, covered with a tmpfs, and the copy put back, so the inner run sees
// the machine's files but writes only to memory that disappears with the
// namespace; one written "empty:/run" gets an empty tmpfs instead.
func InPrivateNamespaces(t *testing.T, dirs ...string) bool {
	t.Helper()
	if Namespaced() {
		return true
	}
	testenv.Root(t)
	testenv.Tool(t, "unshare")
	script := `set -e; for d in "$@"; do case "$d" in empty:*) mount -t tmpfs tmpfs "${d#empty:}"; continue;; esac; mkdir -p "$STAGE$d"; cp -a "$d/." "$STAGE$d/"; mount -t tmpfs tmpfs "$d"; cp -a "$STAGE$d/." "$d/"; done; exec env ` + namespacedEnv + `=1 "$TESTBIN" -test.run "^$TESTNAME\$" -test.v -test.timeout 300s`
	cmd := exec.Command("unshare", append([]string{"--mount", "--net", "--propagation", "private", "sh", "-c", script, "sh"}, dirs...)...)
	cmd.Env = append(os.Environ(), "STAGE="+t.TempDir(), "CTSEC_TEST_STATE="+t.TempDir(), "TESTBIN="+os.Args[0], "TESTNAME="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("inner run in private namespaces failed: %v\n%s", err, out)
	}
	t.Logf("inner run:\n%s", out)
	return false
}

// Netns is a network namespace of the test's own (`ip netns`), joined to
// the test's namespace by a veth pair: a client that comes from another
// machine as far as the host's firewall, sshd and fail2ban can tell. Host
// is this side's address, Addr the client's.
type Netns struct {
	Name, Host, Addr string
}

// NewNetns makes the namespace name with the client at PREFIX.2/24 and this
// side at PREFIX.1 (prefix "10.98.0"); it is deleted when the test ends.
func NewNetns(t testing.TB, name, prefix string) *Netns {
	t.Helper()
	testenv.Tool(t, "ip")
	n := &Netns{Name: name, Host: prefix + ".1", Addr: prefix + ".2"}
	exec.Command("ip", "netns", "del", name).Run() // left by a killed run
	hostIf, peerIf := name+"-h", name+"-c"
	for _, args := range [][]string{
		{"netns", "add", name},
		{"link", "add", hostIf, "type", "veth", "peer", "name", peerIf, "netns", name},
		{"addr", "add", n.Host + "/24", "dev", hostIf},
		{"link", "set", hostIf, "up"},
		{"-n", name, "addr", "add", n.Addr + "/24", "dev", peerIf},
		{"-n", name, "link", "set", peerIf, "up"},
		{"-n", name, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			exec.Command("ip", "netns", "del", name).Run()
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	return n
}

// Command runs a program inside the namespace.
func (n *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Get fetches http://ADDR:PORT/ from inside the namespace, bounded (a
// dropped SYN times out), and returns the body; busybox 1.35's wget -T
// crashes, so timeout(1) bounds it.
func (n *Netns) Get(addr, port string) (string, error) {
	out, err := n.Command("timeout", "3", "busybox", "wget", "-q", "-O-", "http://"+addr+":"+port+"/").CombinedOutput()
	return string(out), err
}
