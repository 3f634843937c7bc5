package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The host-side parsers read untrusted text (a mounted image's files, any
// process's command line): they must never panic.

func FuzzParseFlags(f *testing.F) {
	f.Add("-H\x00fd://\x00--config-file\x00/etc/docker/daemon.json\x00--icc=false")
	f.Add("--live-restore\x00-D\x00--log-opt\x00max-size=1m")
	f.Add("--\x00x")
	f.Fuzz(func(t *testing.T, s string) {
		flags, err := ParseFlags(strings.Split(s, "\x00"))
		if err != nil {
			return
		}
		d := &Daemon{Flags: flags}
		d.Sockets()
		d.TCPHosts()
		ConfigFilePath(flags)
	})
}

func FuzzParseDaemonConfig(f *testing.F) {
	f.Add([]byte(`{"icc": false, "hosts": ["unix:///run/a.sock"], "default-ulimits": {"nofile": {"Hard": 1}}}`))
	f.Add([]byte("{\n\"a\": [1, 2, {\"b\": null}],\n"))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseDaemonConfig(data)
		if err != nil {
			return
		}
		d := &Daemon{Config: cfg, ConfigFile: "daemon.json"}
		for k := range cfg {
			d.Setting(k)
			d.Bool(k, false)
		}
		d.Sockets()
	})
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add([]byte("22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n90 22 8:1 /var/lib/docker /var/lib/docker rw - ext4 /dev/sda1 rw\n"))
	f.Add([]byte("1 2 3 \\04 \\0 - - - -\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseMountinfo(data)
	})
}

func FuzzWatchedPaths(f *testing.F) {
	f.Add("-w /usr/bin/dockerd -k docker\n-a exit,always -F path=/run/containerd -F perm=war\n-Fdir=/x")
	f.Fuzz(func(t *testing.T, s string) {
		WatchedPaths(strings.Split(s, "\n"))
	})
}

// FuzzCgroupDir: whatever a mounted image's /proc/PID/cgroup says, the
// cgroup directory found is under its /sys/fs/cgroup, or none.
func FuzzCgroupDir(f *testing.F) {
	for _, s := range []string{
		"12:pids:/docker/abc\n1:name=systemd:/docker/abc\n", "0::/system.slice/docker-abc.scope\n",
		"0::/../../etc\n", "0::/\n", "::\n", "1:pids:relative\n", "0::/a/../../b\n",
	} {
		f.Add(s)
	}
	root := f.TempDir()
	for _, d := range []string{"sys/fs/cgroup/pids/docker/abc", "sys/fs/cgroup/system.slice/docker-abc.scope", "proc/1", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			f.Fatal(err)
		}
	}
	for _, d := range []string{"sys/fs/cgroup/pids/docker/abc", "sys/fs/cgroup/system.slice/docker-abc.scope", "sys/fs/cgroup", "etc"} {
		os.WriteFile(filepath.Join(root, d, "cgroup.procs"), []byte("1\n"), 0o644)
	}
	base := filepath.Join(root, "sys", "fs", "cgroup")
	f.Fuzz(func(t *testing.T, s string) {
		if err := os.WriteFile(filepath.Join(root, "proc", "1", "cgroup"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if d := cgroupDir(root, 1); d != "" && !strings.HasPrefix(d, base+"/") {
			t.Fatalf("%q led to %s", s, d)
		}
	})
}
