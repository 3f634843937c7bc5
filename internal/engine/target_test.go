package engine

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
)

func writeContext(t *testing.T, dir, name, host string) {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	meta := filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(meta, 0o700); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"Name":%q,"Metadata":{},"Endpoints":{"docker":{"Host":%q,"SkipTLSVerify":false}}}`, name, host)
	if err := os.WriteFile(filepath.Join(meta, "meta.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestContextResolution(t *testing.T) {
	dir := t.TempDir()
	writeContext(t, dir, "prod", "unix:///run/prod.sock")
	writeContext(t, dir, "current", "unix:///run/current.sock")
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext":"current"}`), 0o600)
	t.Setenv("DOCKER_HOST", "")
	t.Setenv("DOCKER_CONTEXT", "")
	tests := []struct {
		name string
		t    Target
		env  map[string]string
		want string
	}{
		{"--context wins over everything", Target{Context: "prod", Host: "unix:///x"}, map[string]string{"DOCKER_HOST": "unix:///y"}, "unix:///run/prod.sock"},
		{"--host", Target{Host: "unix:///x"}, map[string]string{"DOCKER_CONTEXT": "prod"}, "unix:///x"},
		{"DOCKER_HOST over DOCKER_CONTEXT", Target{}, map[string]string{"DOCKER_HOST": "unix:///y", "DOCKER_CONTEXT": "prod"}, "unix:///y"},
		{"DOCKER_CONTEXT", Target{}, map[string]string{"DOCKER_CONTEXT": "prod"}, "unix:///run/prod.sock"},
		{"current context", Target{}, nil, "unix:///run/current.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			tt.t.ConfigDir = dir
			host, _, err := tt.t.resolve()
			if err != nil {
				t.Fatal(err)
			}
			if host != tt.want {
				t.Errorf("host = %q, want %q", host, tt.want)
			}
		})
	}
	if _, err := ConnectTarget(Target{Context: "nope", ConfigDir: dir}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown context: err = %v", err)
	}
}

func TestContextRealEngine(t *testing.T) {
	testenv.Docker(t)
	dir := t.TempDir()
	writeContext(t, dir, "local", "unix:///var/run/docker.sock")
	c, err := ConnectTarget(Target{Context: "local", ConfigDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := Describe(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.APIVersion, "1.") {
		t.Errorf("summary %+v", s)
	}
}

// TestSSHDialStdio reaches the local engine the way a remote one is
// reached: a private sshd on loopback, `ssh … docker system dial-stdio`.
func TestSSHDialStdio(t *testing.T) {
	testenv.Docker(t)
	testenv.Root(t)
	sshd := testenv.Tool(t, "sshd")
	testenv.Tool(t, "ssh")
	keygen := testenv.Tool(t, "ssh-keygen")
	dir := t.TempDir()
	for _, k := range []string{"host", "client"} {
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, _ := os.ReadFile(filepath.Join(dir, "client.pub"))
	os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600)
	os.MkdirAll("/run/sshd", 0o755)
	port, log := startSSHD(t, sshd, dir)
	clientCfg := fmt.Sprintf("Host 127.0.0.1\n  IdentityFile %s\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  BatchMode yes\n", filepath.Join(dir, "client"))
	os.WriteFile(filepath.Join(dir, "ssh_config"), []byte(clientCfg), 0o600)

	target := Target{Host: fmt.Sprintf("ssh://root@127.0.0.1:%d", port), SSHArgs: []string{"-F", filepath.Join(dir, "ssh_config")}}
	var s Summary
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := ConnectTarget(target)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err = Describe(ctx, c)
		cancel()
		c.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("over ssh: %v; sshd: %s", err, log())
		}
		time.Sleep(300 * time.Millisecond)
	}
	if s.Version == "" || !strings.HasPrefix(s.APIVersion, "1.") {
		t.Errorf("summary over ssh = %+v", s)
	}
}

// startSSHD starts sshd on a free loopback port and returns once it says it
// listens. A port found free can be taken before sshd binds it (other tests
// share the machine): sshd then exits, and another port is tried.
func startSSHD(t *testing.T, sshd, dir string) (int, func() string) {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cfg := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nUsePAM no\nPidFile %s\nStrictModes no\n",
			port, filepath.Join(dir, "host"), filepath.Join(dir, "authorized_keys"), filepath.Join(dir, "sshd.pid"))
		os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600)
		cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var log strings.Builder
		listening := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				mu.Lock()
				log.WriteString(sc.Text() + "\n")
				mu.Unlock()
				if strings.Contains(sc.Text(), "Server listening") {
					select {
					case listening <- true:
					default:
					}
				}
			}
			listening <- false // sshd closed stderr: it exited
		}()
		logText := func() string { mu.Lock(); defer mu.Unlock(); return log.String() }
		if <-listening {
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			return port, logText
		}
		cmd.Wait()
		t.Logf("sshd did not start on port %d: %s", port, logText())
	}
	t.Fatal("sshd did not start on any of 5 ports")
	return 0, nil
}
