// Package host hardens the host under the containers: one sub-package per
// module (ssh, firewall, sysctl, fail2ban, updates) on the shared change
// engine in this package, which plans file edits, backs up, writes atomically,
// verifies with the real tool, activates, and rolls back by itself on failure
// or when a timed confirmation does not come.
package host

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/rootfs"
)

// Env is the host being looked at: a root directory (a mounted image or a
// test tree when not "/"), the tool runner, and who is operating.
type Env struct {
	Root   string
	Runner execx.Runner
	// SSHConnection is $SSH_CONNECTION of the operator ("client-ip client-port
	// server-ip server-port"), empty on a console.
	SSHConnection string
	// Operator is the login name of the person running ctsec (SUDO_USER when
	// run through sudo).
	Operator string
	// Clock dates what guards compare with now (a key's expiry-time); nil
	// is the system clock.
	Clock clock.Clock
}

// NewEnv describes the host at root for the current process.
func NewEnv(root string) *Env {
	if root == "" {
		root = "/"
	}
	op := os.Getenv("SUDO_USER")
	if op == "" {
		if u, err := user.Current(); err == nil {
			op = u.Username
		}
	}
	return &Env{Root: filepath.Clean(root), SSHConnection: sshConnection(os.Getpid()), Operator: op}
}

// sshConnection is $SSH_CONNECTION of the login ctsec runs in. sudo's
// env_reset drops it, so `sudo ctsec host apply` would lose the client
// address the lockout guards and confirm depend on; the sudo process (and
// the login shell above it) still holds it in its initial environment,
// which root can read from /proc. The nearest ancestor that has it wins.
func sshConnection(pid int) string {
	if v := os.Getenv("SSH_CONNECTION"); v != "" {
		return v
	}
	for range 32 {
		ppid, ok := parentPID(pid)
		if !ok || ppid <= 1 {
			return ""
		}
		pid = ppid
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(b), "\x00") {
			if v, ok := strings.CutPrefix(kv, "SSH_CONNECTION="); ok && v != "" {
				return v
			}
		}
	}
	return ""
}

// parentPID reads the parent of pid from /proc/PID/stat, whose second field
// (the command name, in parentheses) may itself hold spaces and ")".
func parentPID(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// Live reports whether Env is the running system, so services may be
// reloaded and /proc, sockets and the kernel describe it.
func (e *Env) Live() bool { return e.Root == "/" }

// FS reads and writes the root's files with every path, symlinks
// included, resolved inside the root.
func (e *Env) FS() rootfs.Root { return rootfs.New(e.Root) }

// Path is where a host path would be under the root if nothing on the way
// were a symlink: for messages and tests, never for opening (FS is).
func (e *Env) Path(p string) string { return e.FS().Join(p) }

// Rel turns a path inside the root back into the host path it stands for.
func (e *Env) Rel(p string) string {
	if e.Root == "/" {
		return p
	}
	r, err := filepath.Rel(e.Root, p)
	if err != nil || strings.HasPrefix(r, "..") {
		return p
	}
	return "/" + r
}

// Conn is the operator's SSH connection as sshd describes it in
// $SSH_CONNECTION: "client-ip client-port server-ip server-port".
type Conn struct {
	Client     netip.Addr
	ClientPort int
	Server     netip.Addr
	ServerPort int
}

// ParseSSHConnection reads $SSH_CONNECTION strictly: the lockout guards
// judge the operator's real login from it, so a value that is not four
// fields of address, port, address, port is an error, not "no client".
func ParseSSHConnection(s string) (Conn, error) {
	f := strings.Fields(s)
	bad := func(what string) (Conn, error) {
		return Conn{}, fmt.Errorf("SSH_CONNECTION %s is not \"client-ip client-port server-ip server-port\" (%s)", strconv.QuoteToASCII(truncate(s, 40)), what)
	}
	if len(f) != 4 {
		return bad(fmt.Sprintf("%d fields", len(f)))
	}
	var c Conn
	var err error
	if c.Client, err = netip.ParseAddr(f[0]); err != nil {
		return bad("client address")
	}
	if c.Server, err = netip.ParseAddr(f[2]); err != nil {
		return bad("server address")
	}
	for _, p := range []struct {
		text string
		into *int
	}{{f[1], &c.ClientPort}, {f[3], &c.ServerPort}} {
		n, err := strconv.Atoi(p.text)
		if err != nil || n < 1 || n > 65535 {
			return bad("port")
		}
		*p.into = n
	}
	c.Client, c.Server = c.Client.Unmap().WithZone(""), c.Server.Unmap().WithZone("")
	return c, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Conn is the operator's connection: ok is false on a console (no
// SSH_CONNECTION), err says why a value present cannot be used.
func (e *Env) Conn() (c Conn, ok bool, err error) {
	if strings.TrimSpace(e.SSHConnection) == "" {
		return Conn{}, false, nil
	}
	c, err = ParseSSHConnection(e.SSHConnection)
	return c, err == nil, err
}

// ConnRefusal is the refusal every guard that depends on the operator's
// address gives when $SSH_CONNECTION cannot be read: judging "no client"
// instead could lock the operator out.
func ConnRefusal(err error) Refusal {
	return Refusal{Guard: "ssh-connection", Reason: err.Error() + "; ctsec cannot tell where you are connected from (fix or unset SSH_CONNECTION)"}
}

// ClientIP is the operator's SSH client address, or "" on a console or
// when SSH_CONNECTION cannot be read (Conn says which).
func (e *Env) ClientIP() string {
	c, ok, _ := e.Conn()
	if !ok {
		return ""
	}
	return c.Client.String()
}

// MaxConfigSize bounds every configuration file read: they are small, and
// anything huge is not one.
const MaxConfigSize = 4 << 20

// ReadFile reads a regular file of the host under the root, bounded; a
// FIFO or device is refused without blocking.
func (e *Env) ReadFile(p string) ([]byte, error) {
	return e.FS().ReadFile(p, MaxConfigSize)
}

// Exists reports whether a host path exists under the root.
func (e *Env) Exists(p string) bool { return e.FS().Exists(p) }

// DockerPresent says whether Docker is installed or running on the host,
// which changes what is safe (ip_forward must stay on).
func (e *Env) DockerPresent() bool {
	for _, p := range []string{"/run/docker.sock", "/var/run/docker.sock", "/usr/bin/dockerd", "/usr/sbin/dockerd", "/etc/docker/daemon.json"} {
		if e.Exists(p) {
			return true
		}
	}
	return false
}

// Systemd says whether systemd runs as PID 1 (sd_booted(3)'s test).
func (e *Env) Systemd() bool {
	if !e.Live() {
		return false
	}
	st, err := os.Stat("/run/systemd/system")
	return err == nil && st.IsDir()
}

// IsNotExist reports a missing file through any wrapping.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
