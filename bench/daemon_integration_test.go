package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/testenv"
)

// privateDockerd starts a dockerd of its own — own socket, data root, exec
// root and pid file, no bridge, no iptables — with the given daemon.json,
// passed as "--config-file PATH" (two arguments: the form
// docker-bench-security did not understand). It is stopped when the test ends.
func privateDockerd(t *testing.T, daemonJSON string, mode os.FileMode) (socket, config string) {
	t.Helper()
	testenv.Root(t)
	dockerd := testenv.Tool(t, "dockerd")
	// Unix socket paths are limited to 108 bytes: keep the directory short.
	dir, err := os.MkdirTemp("", "ctsec-dd")
	if err != nil {
		t.Fatal(err)
	}
	config = filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(config, []byte(daemonJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(config, mode); err != nil {
		t.Fatal(err)
	}
	socket = filepath.Join(dir, "docker.sock")
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	// In a network namespace of its own (loopback only), so whatever it
	// creates — swarm's docker_gwbridge, veths, sysctls — never touches
	// this machine's network. The socket is a file: it reaches across.
	unshare := testenv.Tool(t, "unshare")
	testenv.Tool(t, "ip")
	cmd := exec.Command(unshare, "--net", "--", "sh", "-c", `ip link set lo up && exec "$0" "$@"`, dockerd, "--host", "unix://"+socket, "--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"), "--pidfile", filepath.Join(dir, "docker.pid"),
		"--bridge=none", "--iptables=false", "--config-file", config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
		// dockerd can leave mounts behind (network namespace files under
		// the exec root, the data root): unmount them before removing.
		unmountUnder(dir)
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing the private dockerd's directory: %v", err)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := engine.Connect("unix://" + socket)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err = engine.Describe(ctx, c)
			cancel()
			c.Close()
			if err == nil {
				return socket, config
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
			t.Fatalf("private dockerd did not answer within 60s: %v\n%s", err, tail(string(log), 2000))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// unmountUnder unmounts every mount below dir, deepest first.
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, m := range ParseMountinfo(data) {
		if strings.HasPrefix(m.MountPoint, dir+"/") {
			points = append(points, m.MountPoint)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		syscall.Unmount(p, syscall.MNT_DETACH)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func TestDaemonChecksPrivateDockerd(t *testing.T) {
	const cfg = `{
  "insecure-registries": ["10.1.2.3:5000"],
  "no-new-privileges": true,
  "live-restore": true,
  "userland-proxy": false,
  "log-driver": "local",
  "log-level": "info"
}`
	// 0622: group- and world-writable, which a decimal "<= 644" let pass.
	socket, config := privateDockerd(t, cfg, 0o622)
	c, err := engine.Connect("unix://" + socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snap, err := Collect(ctx, c, Options{Root: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Daemon == nil {
		t.Fatalf("the private dockerd was not found; notes: %v", snap.Notes)
	}
	if snap.Daemon.ConfigFile != config {
		t.Fatalf("config file = %q, want %q (from --config-file PATH)", snap.Daemon.ConfigFile, config)
	}
	results, _ := Run(snap, Selection{Checks: []string{"2", "3.17", "3.18", "1.1.11"}})
	want := map[string]Status{
		"2.3":  Pass, // log-level info in daemon.json
		"2.4":  Fail, // --iptables=false on the command line
		"2.5":  Fail, // 10.1.2.3:5000, but not the built-in 127.0.0.0/8
		"2.13": Fail, // log driver local
		"2.14": Pass, // no-new-privileges in daemon.json (not in docker info on 20.10)
		"2.15": Pass, // live-restore
		"2.16": Pass, // userland-proxy false
		"2.2":  Pass, // --bridge=none: no default bridge
		"2.7":  Pass, // unix socket only
		"3.17": Pass, // owned by root
		"3.18": Fail, // 0622
	}
	got := assertStatuses(t, results, want)
	for _, it := range got["2.5"].Items {
		if strings.Contains(it.Target, "127.0.0.0/8") {
			t.Errorf("2.5 flagged the default loopback range: %v", it)
		}
	}
	if len(got["2.5"].Items) != 1 || !strings.Contains(got["2.5"].Items[0].Target, "10.1.2.3:5000") {
		t.Errorf("2.5 items = %v, want the one configured registry", got["2.5"].Items)
	}
	if len(got["3.18"].Items) != 1 || !strings.Contains(got["3.18"].Items[0].Detail, "0622") {
		t.Errorf("3.18 items = %v", got["3.18"].Items)
	}

	// The daemon-wide no-new-privileges makes 5.26 pass for its containers.
	r526, _ := Run(snap, Selection{Checks: []string{"5.26"}})
	if r526[0].Status != Pass {
		t.Errorf("5.26 = %s (%s), want pass from the daemon default", r526[0].Status, r526[0].Detail)
	}
}
