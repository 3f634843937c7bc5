package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/testenv"
)

// writeTree creates files under root: path → content, with modes.
func writeTree(t *testing.T, root string, files map[string]string, modes map[string]os.FileMode) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, m := range modes {
		if err := os.Chmod(filepath.Join(root, p), m); err != nil {
			t.Fatal(err)
		}
	}
}

// A fake host: /proc with a decoy process and two daemons, a mount table
// where the data root is only bind-mounted onto itself, audit rules that
// watch /usr/bin/docker (not dockerd) and /usr/sbin/dockerd, and files with
// modes that a decimal comparison gets wrong.
func fakeHost(t *testing.T) string {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		// A text editor with "dockerd" in its arguments: not a daemon.
		"proc/100/comm":    "vim\n",
		"proc/100/cmdline": "vim\x00/etc/systemd/system/dockerd.service\x00",
		// A second daemon on another socket.
		"proc/200/comm":    "dockerd\n",
		"proc/200/cmdline": "/usr/sbin/dockerd\x00-H\x00unix:///run/other.sock\x00",
		"proc/200/status":  "Name:\tdockerd\nUid:\t0\t0\t0\t0\n",
		// The daemon that serves /var/run/docker.sock (fd:// = docker.socket).
		"proc/300/comm":    "dockerd\n",
		"proc/300/cmdline": "/usr/sbin/dockerd\x00-H\x00fd://\x00--config-file\x00/etc/docker/custom.json\x00--containerd=/run/containerd/containerd.sock\x00",
		"proc/300/status":  "Name:\tdockerd\nUid:\t0\t0\t0\t0\n",
		"proc/self/mountinfo": "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n" +
			"90 22 8:1 /var/lib/docker /var/lib/docker rw,relatime - ext4 /dev/sda1 rw\n",
		"etc/group":                          "root:x:0:\ndocker:x:0:alice,bob\n",
		"etc/docker/custom.json":             `{"icc": false, "tlsverify": true}`,
		"etc/docker/daemon.json":             `{"this file": "is not the one in use"}`,
		"etc/docker/certs.d/reg:5000/ca.crt": "cert",
		"etc/audit/rules.d/docker.rules": "-w /usr/bin/docker -k docker\n-w /usr/sbin/dockerd -p rwxa -k docker\n" +
			"-a exit,always -F path=/run/containerd -F perm=war -k docker\n-w /usr/sbin/runc -k docker\n",
		"lib/systemd/system/docker.service": "[Service]\n",
		"lib/systemd/system/docker.socket":  "[Socket]\n",
		"usr/sbin/dockerd":                  "",
		"usr/bin/containerd":                "",
		"usr/sbin/runc":                     "",
		"run/containerd/.keep":              "",
		"run/docker.sock":                   "",
		"var/lib/docker/.keep":              "",
	}, map[string]os.FileMode{
		"etc/docker/custom.json":             0o606, // world-writable: fails 3.18
		"lib/systemd/system/docker.service":  0o640, // stricter than 644: passes 3.2
		"lib/systemd/system/docker.socket":   0o664, // group-writable: fails 3.4
		"etc/docker/certs.d/reg:5000/ca.crt": 0o444,
		"run/docker.sock":                    0o660,
		"etc/docker":                         0o750,
	})
	return root
}

func hostSnapshot(t *testing.T, root string) *Snapshot {
	t.Helper()
	d, err := findDaemon(root, "/var/run/docker.sock")
	if err != nil {
		t.Fatal(err)
	}
	loadDaemonConfig(root, d)
	s := &Snapshot{Engine: Engine{Host: "unix:///var/run/docker.sock", Info: engine.Info{DockerRootDir: "/var/lib/docker"}}, Daemon: d}
	h, notes := collectHost(context.Background(), root, d, "/var/lib/docker")
	if len(notes) > 0 {
		t.Fatalf("notes: %v", notes)
	}
	s.Host = h
	return s
}

func TestHostChecksOnTemporaryRoot(t *testing.T) {
	testenv.Root(t) // the fake host's files must be owned by root
	root := fakeHost(t)
	// /usr/bin/runc is a symlink to /usr/sbin/runc, as on Debian: one rule covers both.
	if err := os.Symlink("../sbin/runc", filepath.Join(root, "usr/bin/runc")); err != nil {
		t.Fatal(err)
	}
	s := hostSnapshot(t, root)
	if s.Daemon.PID != 300 {
		t.Fatalf("picked dockerd pid %d, want 300 (the one on docker.sock, not the editor or the other daemon)", s.Daemon.PID)
	}
	if s.Daemon.ConfigFile != "/etc/docker/custom.json" || s.Daemon.Config["icc"] != false {
		t.Fatalf("daemon config %s = %v", s.Daemon.ConfigFile, s.Daemon.Config)
	}
	results, _ := Run(s, Selection{Checks: []string{"1", "2.7", "3"}})
	want := map[string]Status{
		"1.1.1":  Fail, // only a bind mount of itself
		"1.1.2":  Manual,
		"1.1.3":  Pass, // /usr/sbin/dockerd is watched exactly
		"1.1.4":  Pass, // -F path=/run/containerd
		"1.1.5":  Fail,
		"1.1.6":  Fail,
		"1.1.7":  Fail,
		"1.1.8":  Skip, // no containerd.sock
		"1.1.11": Fail,
		"1.1.13": Skip,
		"1.1.14": Fail, // /usr/bin/containerd exists, no rule
		"1.1.18": Pass, // one rule for runc and its symlink
		"1.2.1":  Manual,
		"2.7":    Pass,
		"3.1":    Pass,
		"3.2":    Pass, // 0640 is stricter than 0644 (decimal 640 <= 644 too)
		"3.4":    Fail, // 0664
		"3.5":    Pass,
		"3.6":    Pass, // 0750
		"3.7":    Pass,
		"3.8":    Pass,
		"3.9":    Skip, // no tlscacert configured
		"3.15":   Pass, // root:docker where docker is gid 0 here
		"3.16":   Pass, // 0660
		"3.17":   Pass,
		"3.18":   Fail, // 0606: a decimal "<= 644" passed it
		"3.19":   Skip,
	}
	got := assertStatuses(t, results, want)
	if n := len(got["1.1.2"].Items); n != 2 {
		t.Errorf("1.1.2 lists %d docker group members, want 2", n)
	}
}

func TestPartitionOnOwnFilesystem(t *testing.T) {
	root := fakeHost(t)
	writeTree(t, root, map[string]string{
		"proc/self/mountinfo": "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" +
			"30 22 8:17 / /var/lib/docker rw - xfs /dev/sdb1 rw\n" +
			"90 30 8:17 / /var/lib/docker rw - xfs /dev/sdb1 rw\n",
	}, nil)
	s := hostSnapshot(t, root)
	results, _ := Run(s, Selection{Checks: []string{"1.1.1"}})
	if results[0].Status != Pass {
		t.Errorf("1.1.1 = %s (%s), want pass", results[0].Status, results[0].Detail)
	}
}

func TestRemoteEngineSkipsHostChecks(t *testing.T) {
	s := &Snapshot{Engine: Engine{Host: "tcp://10.0.0.1:2376"}}
	results, _ := Run(s, Selection{Checks: []string{"1.1", "2.4", "3"}})
	for _, r := range results {
		if r.Status != Skip && r.Status != Manual {
			t.Errorf("%s = %s without a host", r.ID, r.Status)
		}
	}
}

func TestProcTable(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"proc/10/stat":    "10 (tini) S 1 10 10 0 -1",
		"proc/10/cmdline": "/sbin/tini\x00--\x00/start\x00",
		"proc/11/stat":    "11 (sshd) S 10 11 11 0 -1",
		"proc/11/cmdline": "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups\x00",
		"proc/12/stat":    "12 (a) b) S 11 12 12 0 -1", // a name with ") " in it
		"proc/20/stat":    "20 (sshd) S 1 20 20 0 -1",  // the host's own sshd
	}, nil)
	pt, err := readProcTable(root)
	if err != nil {
		t.Fatal(err)
	}
	got := pt.under(10)
	want := map[Process]bool{{"tini", "/sbin/tini -- /start"}: true, {"sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"}: true, {"a) b", "a) b"}: true}
	if len(got) != 3 {
		t.Fatalf("under(10) = %q", got)
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected process %q", g)
		}
	}
	s := &Snapshot{Containers: []Container{{ContainerInspect: ctr("svc", func(*engine.ContainerInspect) {}).ContainerInspect, Processes: got}}}
	if r, _ := Run(s, Selection{Checks: []string{"5.7"}}); r[0].Status != Fail {
		t.Errorf("5.7 = %s", r[0].Status)
	}
}

// assertStatuses checks the status of each check id in want.
func assertStatuses(t *testing.T, results []Result, want map[string]Status) map[string]Result {
	t.Helper()
	got := map[string]Result{}
	for _, r := range results {
		got[r.ID] = r
	}
	for id, st := range want {
		if got[id].Status != st {
			t.Errorf("%s = %s (%s %v), want %s", id, got[id].Status, got[id].Detail, got[id].Items, st)
		}
	}
	return got
}

func TestInRoot(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"run/docker.sock": "", "etc/docker/real.json": "{}"}, nil)
	os.MkdirAll(filepath.Join(root, "var"), 0o755)
	os.Symlink("/run", filepath.Join(root, "var/run"))                                               // absolute: inside root
	os.Symlink("../../../../../etc/docker/real.json", filepath.Join(root, "etc/docker/daemon.json")) // ".." stops at root
	os.Symlink("loop", filepath.Join(root, "loop"))
	tests := map[string]string{
		"/var/run/docker.sock":    filepath.Join(root, "run/docker.sock"),
		"/etc/docker/daemon.json": filepath.Join(root, "etc/docker/real.json"),
		"/nonexistent/x":          filepath.Join(root, "nonexistent/x"),
	}
	for in, want := range tests {
		if got, err := inRoot(root, in); err != nil || got != want {
			t.Errorf("inRoot(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := inRoot(root, "/loop/x"); err == nil {
		t.Error("a symlink loop was followed forever")
	}
	if got, _ := inRoot("/", "/var/run/docker.sock"); got != "/var/run/docker.sock" {
		t.Errorf("root / changed the path: %s", got)
	}
}

// TestDockerdManagedContainerd: Debian's docker.io runs no system
// containerd; dockerd starts its own with the socket under its exec root.
// 1.1.8, 3.23 and 3.24 once said "not present" on exactly that host.
func TestDockerdManagedContainerd(t *testing.T) {
	testenv.Root(t) // the fake host's files must be owned by root
	root := fakeHost(t)
	writeTree(t, root, map[string]string{"run/docker/containerd/containerd.sock": ""},
		map[string]os.FileMode{"run/docker/containerd/containerd.sock": 0o666})
	s := hostSnapshot(t, root)
	results, _ := Run(s, Selection{Checks: []string{"1.1.8", "3.23", "3.24"}})
	got := assertStatuses(t, results, map[string]Status{
		"1.1.8": Fail, // present and not audited
		"3.23":  Pass, // root:root
		"3.24":  Fail, // 0666 is more than 0660
	})
	if it := got["3.24"].Items; len(it) != 1 || it[0].Target != "/run/docker/containerd/containerd.sock" {
		t.Errorf("3.24 items = %+v, want the dockerd-managed socket", it)
	}
}

// A FIFO among the audit rules files of a root must not hang the
// benchmark: it is skipped, the regular files are still read.
func TestAuditRulesFIFONotBlocking(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"etc/audit/rules.d/10-docker.rules": "-w /usr/bin/dockerd -k docker\n"}, nil)
	if err := syscall.Mkfifo(filepath.Join(root, "etc/audit/rules.d/20-fifo.rules"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan []string, 1)
	go func() { rules, _ := readAuditRules(context.Background(), root); done <- rules }()
	select {
	case rules := <-done:
		if len(rules) != 1 {
			t.Errorf("rules = %q", rules)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading audit rules blocked on a FIFO")
	}
}

// TestContainerProcesses reads a container's processes from its cgroup:
// cgroup v1 (the pids hierarchy) and v2, nested cgroups included, the
// kernel's name rather than argv[0], and no path that climbs out of the
// cgroup mount.
func TestContainerProcesses(t *testing.T) {
	for _, tt := range []struct {
		name, cgroup, dir string
	}{
		{"v1", "12:pids:/docker/abc\n11:memory:/docker/abc\n1:name=systemd:/docker/abc\n", "sys/fs/cgroup/pids/docker/abc"},
		{"v2", "0::/system.slice/docker-abc.scope\n", "sys/fs/cgroup/system.slice/docker-abc.scope"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, map[string]string{
				"proc/100/cgroup":                  tt.cgroup,
				"proc/100/comm":                    "sleep\n",
				"proc/100/cmdline":                 "sleep\x003600\x00",
				"proc/300/comm":                    "sshd\n", // started by docker exec: a child of the shim
				"proc/300/cmdline":                 "busybox\x00sleep\x003600\x00",
				"proc/400/comm":                    "sleep\n", // argv[0] says sshd, the kernel does not
				"proc/400/cmdline":                 "sshd:\x00/usr/sbin/sshd\x00",
				tt.dir + "/cgroup.procs":           "100\n300\n",
				tt.dir + "/inner/cgroup.procs":     "400\n555\n", // 555 exited meanwhile
				"sys/fs/cgroup/other/cgroup.procs": "1\n",
			}, nil)
			procs, ok := containerProcesses(root, 100)
			want := []Process{{"sleep", "sleep 3600"}, {"sshd", "busybox sleep 3600"}, {"sleep", "sshd: /usr/sbin/sshd"}}
			if !ok || len(procs) != len(want) {
				t.Fatalf("ok %v, processes %q", ok, procs)
			}
			for i := range want {
				if procs[i] != want[i] {
					t.Errorf("process %d = %q, want %q", i, procs[i], want[i])
				}
			}
			s := &Snapshot{Containers: []Container{{ContainerInspect: ctr("svc", func(*engine.ContainerInspect) {}).ContainerInspect, Processes: procs}}}
			r, _ := Run(s, Selection{Checks: []string{"5.7"}})
			if r[0].Status != Fail || len(r[0].Items) != 1 || !strings.Contains(r[0].Items[0].Detail, "busybox sleep 3600") {
				t.Errorf("5.7 = %s %+v", r[0].Status, r[0].Items)
			}
		})
	}
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"proc/100/cgroup":                  "0::/../../other\n",
		"sys/fs/cgroup/other/cgroup.procs": "1\n",
	}, nil)
	if procs, ok := containerProcesses(root, 100); ok {
		t.Errorf("followed a cgroup path out of the mount: %q", procs)
	}
}
