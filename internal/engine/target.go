package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Target says which engine to talk to, the way the docker CLI resolves it:
// --context, then --host, then DOCKER_HOST, then DOCKER_CONTEXT, then the
// current context in $DOCKER_CONFIG/config.json, then the local socket.
type Target struct {
	Host    string
	Context string
	// ConfigDir is the docker CLI configuration directory (default
	// $DOCKER_CONFIG or ~/.docker), where contexts live.
	ConfigDir string
	// SSHArgs are extra arguments for ssh (e.g. "-F", "ssh_config") when
	// the host is ssh://.
	SSHArgs []string
}

// ConnectTarget returns a client for t. It does not contact the engine.
func ConnectTarget(t Target) (*Client, error) {
	r, err := t.Resolve()
	if err != nil {
		return nil, err
	}
	c, err := newClient(r.Host, r.Dial, r.TLSDir)
	if err != nil {
		return nil, fmt.Errorf("connecting to the Docker engine: %w", err)
	}
	return c, nil
}

// Resolved is where t leads: the address, how to dial it when the
// address itself cannot be dialled (ssh), a context's TLS directory.
type Resolved struct {
	Host   string // "" = DOCKER_HOST unset and no context: the local socket
	TLSDir string
	Dial   func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Resolve follows t to an engine address, for clients other than Client
// (compose's trial runs use moby's).
func (t Target) Resolve() (Resolved, error) {
	host, tlsDir, err := t.resolve()
	if err != nil {
		return Resolved{}, err
	}
	r := Resolved{Host: host, TLSDir: tlsDir}
	if strings.HasPrefix(host, "ssh://") {
		if r.Dial, err = sshDialer(host, t.SSHArgs); err != nil {
			return Resolved{}, err
		}
	}
	return r, nil
}

// Endpoint is the engine address t resolves to, for messages: the ssh://
// URL rather than the placeholder the client dials through. "" means the
// library default (DOCKER_HOST or the local socket).
func (t Target) Endpoint() (string, error) {
	host, _, err := t.resolve()
	return host, err
}

func (t Target) configDir() string {
	if t.ConfigDir != "" {
		return t.ConfigDir
	}
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker")
}

// resolve returns the engine address ("" = the library's default from the
// environment), and the TLS directory of a context when it has one.
func (t Target) resolve() (host, tlsDir string, err error) {
	name := t.Context
	if name == "" {
		if t.Host != "" {
			return t.Host, "", nil
		}
		if h := os.Getenv("DOCKER_HOST"); h != "" {
			return h, "", nil
		}
		name = os.Getenv("DOCKER_CONTEXT")
	}
	if name == "" {
		name = currentContext(t.configDir())
	}
	if name == "" || name == "default" {
		return t.Host, "", nil
	}
	return loadContext(t.configDir(), name)
}

func currentContext(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return ""
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if json.Unmarshal(data, &cfg) != nil {
		return ""
	}
	return cfg.CurrentContext
}

// loadContext reads a docker CLI context: contexts/meta/<sha256(name)>/meta.json
// and, when present, contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem.
func loadContext(dir, name string) (string, string, error) {
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	metaPath := filepath.Join(dir, "contexts", "meta", id, "meta.json")
	data, err := os.ReadFile(metaPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", "", fmt.Errorf("docker context %q not found (no %s)", name, metaPath)
		}
		return "", "", fmt.Errorf("reading docker context %q: %w", name, err)
	}
	var meta struct {
		Name      string
		Endpoints map[string]struct {
			Host string
		}
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return "", "", fmt.Errorf("reading docker context %q: %s: %w", name, metaPath, err)
	}
	ep, ok := meta.Endpoints["docker"]
	if !ok || ep.Host == "" {
		return "", "", fmt.Errorf("docker context %q has no docker endpoint (%s)", name, metaPath)
	}
	tlsDir := filepath.Join(dir, "contexts", "tls", id, "docker")
	if _, err := os.Stat(filepath.Join(tlsDir, "ca.pem")); err != nil {
		tlsDir = ""
	}
	return ep.Host, tlsDir, nil
}

// sshDialer connects through `ssh [-l user] [-p port] host -- docker system
// dial-stdio`, as the docker CLI does, so the remote engine needs no open
// TCP port and ssh keys and known_hosts apply as usual.
func sshDialer(raw string, extra []string) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parsing %q: %w", raw, err)
	}
	if u.Hostname() == "" || strings.HasPrefix(u.Hostname(), "-") {
		return nil, fmt.Errorf("ssh host %q: no host name", raw)
	}
	args := append([]string{}, extra...)
	args = append(args, "-o", "ConnectTimeout=30", "-T")
	if u.User != nil {
		if _, hasPass := u.User.Password(); hasPass {
			return nil, fmt.Errorf("ssh host: passwords in the URL are not supported, use keys")
		}
		args = append(args, "-l", u.User.Username())
	}
	if p := u.Port(); p != "" {
		args = append(args, "-p", p)
	}
	args = append(args, "--", u.Hostname(), "docker")
	if u.Path != "" && u.Path != "/" {
		args = append(args, "--host", "unix://"+u.Path)
	}
	args = append(args, "system", "dial-stdio")
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		return dialCommand(ctx, "ssh", args...)
	}, nil
}

// dialCommand runs a command and uses its stdin/stdout as a connection.
func dialCommand(_ context.Context, name string, args ...string) (net.Conn, error) {
	// Not exec.CommandContext: the connection outlives the dial context.
	cmd := exec.Command(name, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &cmdConn{cmd: cmd, stdin: stdin, stdout: stdout, stderr: &stderr}
	return c, nil
}

type cmdConn struct {
	cmd   *exec.Cmd
	stdin interface {
		Write([]byte) (int, error)
		Close() error
	}
	stdout interface {
		Read([]byte) (int, error)
		Close() error
	}
	stderr *strings.Builder
	once   sync.Once
}

func (c *cmdConn) Read(p []byte) (int, error) {
	n, err := c.stdout.Read(p)
	if err != nil && n == 0 && c.stderr.Len() > 0 {
		return 0, fmt.Errorf("%w (%s)", err, strings.TrimSpace(c.stderr.String()))
	}
	return n, err
}
func (c *cmdConn) Write(p []byte) (int, error) { return c.stdin.Write(p) }
func (c *cmdConn) Close() error {
	c.once.Do(func() {
		c.stdin.Close()
		if c.cmd.Process != nil {
			c.cmd.Process.Kill()
		}
		c.cmd.Wait()
	})
	return nil
}
func (c *cmdConn) LocalAddr() net.Addr                { return dummyAddr{} }
func (c *cmdConn) RemoteAddr() net.Addr               { return dummyAddr{} }
func (c *cmdConn) SetDeadline(t time.Time) error      { return nil }
func (c *cmdConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *cmdConn) SetWriteDeadline(t time.Time) error { return nil }

type dummyAddr struct{}

func (dummyAddr) Network() string { return "cmd" }
func (dummyAddr) String() string  { return "dial-stdio" }

type limitedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
	n  int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if rem := l.n - l.w.Len(); rem > 0 {
		if len(p) > rem {
			l.w.Write(p[:rem])
		} else {
			l.w.Write(p)
		}
	}
	return len(p), nil
}
