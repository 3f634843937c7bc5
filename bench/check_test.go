package bench

import (
	"io/fs"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/engine"
	"github.com/moby/moby/api/types/network"
)

func TestModeWithin(t *testing.T) {
	tests := []struct {
		mode, max fs.FileMode
		want      bool
	}{
		{0o644, 0o644, true},
		{0o600, 0o644, true},
		{0o640, 0o644, true},
		{0o444, 0o644, true},
		{0o622, 0o644, false}, // group/world-writable: decimal 622 <= 644 passed it
		{0o606, 0o644, false},
		{0o700, 0o755, true}, // decimal compare flagged nothing here, but 700 < 755 either way
		{0o660, 0o660, true},
		{0o666, 0o660, false},
		{0o400, 0o400, true},
		{0o440, 0o400, false},
		{0o644 | fs.ModeSetuid, 0o755, false},
		{0o755 | fs.ModeSticky, 0o755, false},
	}
	for _, tt := range tests {
		if got := ModeWithin(tt.mode, tt.max); got != tt.want {
			t.Errorf("ModeWithin(%s, %o) = %v, want %v", unixMode(tt.mode), tt.max, got, tt.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	got, err := ParseFlags([]string{"-H", "fd://", "--host=tcp://0.0.0.0:2376", "--config-file", "/etc/d.json",
		"--icc=false", "--live-restore", "--insecure-registry", "r:5000", "-D", "--log-opt", "max-size=10m"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"hosts": {"fd://", "tcp://0.0.0.0:2376"}, "config-file": {"/etc/d.json"}, "icc": {"false"},
		"live-restore": {"true"}, "insecure-registries": {"r:5000"}, "debug": {"true"}, "log-opts": {"max-size=10m"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if ConfigFilePath(got) != "/etc/d.json" {
		t.Errorf("config file = %s", ConfigFilePath(got))
	}
	for _, bad := range [][]string{{"--data-root"}, {"positional"}, {"--=x"}} {
		if _, err := ParseFlags(bad); err == nil {
			t.Errorf("ParseFlags(%q) accepted", bad)
		}
	}
}

func TestDaemonSettingPrecedence(t *testing.T) {
	cfg, err := ParseDaemonConfig([]byte(`{"no-new-privileges": true, "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 64000, "Soft": 64000}}, "hosts": ["unix:///run/a.sock", "tcp://127.0.0.1:2375"]}`))
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{Flags: map[string][]string{"userland-proxy": {"false"}}, Config: cfg, ConfigFile: "/etc/docker/daemon.json"}
	if on, src := d.Bool("no-new-privileges", false); !on || src != "/etc/docker/daemon.json" {
		t.Errorf("no-new-privileges = %v from %s", on, src)
	}
	if on, src := d.Bool("userland-proxy", true); on || src != "command line" {
		t.Errorf("userland-proxy = %v from %s", on, src)
	}
	if s := d.Sockets(); !reflect.DeepEqual(s, []string{"/run/a.sock"}) {
		t.Errorf("sockets = %v", s)
	}
	if h := d.TCPHosts(); !reflect.DeepEqual(h, []string{"tcp://127.0.0.1:2375"}) {
		t.Errorf("tcp = %v", h)
	}
	st, _ := d.Setting("default-ulimits")
	if len(st.Values) != 1 || !strings.HasPrefix(st.Values[0], "nofile=") {
		t.Errorf("default-ulimits = %v", st.Values)
	}
	if _, err := ParseDaemonConfig([]byte("{\n  \"icc\": false,\n}")); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("bad JSON error = %v, want a line number", err)
	}
}

func TestWatchedPaths(t *testing.T) {
	got := WatchedPaths([]string{
		"-w /usr/bin/docker -k docker",
		"-w /etc/docker/ -p rwxa",
		"-a always,exit -F arch=b64 -F path=/run/containerd -F perm=war -k docker",
		"-a exit,always -F dir=/var/lib/docker",
	})
	for _, p := range []string{"/usr/bin/docker", "/etc/docker", "/run/containerd", "/var/lib/docker"} {
		if !got[p] {
			t.Errorf("%s not watched: %v", p, got)
		}
	}
	if got["/usr/bin/dockerd"] {
		t.Error("/usr/bin/docker must not count for /usr/bin/dockerd")
	}
}

func TestParseMountinfo(t *testing.T) {
	m := ParseMountinfo([]byte("36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 - ext3 /dev/root rw,errors=continue\nshort line\n"))
	want := []Mount{{Device: "98:0", Root: "/mnt1", MountPoint: "/mnt two", FSType: "ext3"}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v", m)
	}
}

func TestSelection(t *testing.T) {
	sel := Selection{Checks: []string{"5.1", "1.1"}, Exclude: []string{"1.1.2"}}
	if err := sel.Validate(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range Checks() {
		if sel.wants(c) {
			ids = append(ids, c.ID)
		}
	}
	if len(ids) != 18 || ids[0] != "1.1.1" || ids[1] != "1.1.3" || ids[len(ids)-1] != "5.1" {
		t.Errorf("selected %v", ids)
	}
	for _, bad := range []Selection{{Checks: []string{""}}, {Checks: []string{"9"}}, {Exclude: []string{"5.99"}}, {IncludeContainers: []string{"["}}, {Level: 3}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestCheckTableComplete(t *testing.T) {
	checks := Checks()
	seen := map[string]bool{}
	perSection := map[string]int{}
	for _, c := range checks {
		if seen[c.ID] {
			t.Errorf("duplicate check %s", c.ID)
		}
		seen[c.ID] = true
		perSection[strings.SplitN(c.ID, ".", 2)[0]]++
		if c.Title == "" || c.Remediation == "" || c.eval == nil || (c.Level != 1 && c.Level != 2) {
			t.Errorf("check %s incomplete: %+v", c.ID, c)
		}
	}
	// CIS Docker Benchmark v1.6.0: 1.1.1–1.1.18 + 1.2.1–1.2.2, 2.1–2.18,
	// 3.1–3.24, 4.1–4.12, 5.1–5.32, 6.1–6.2, 7.1–7.9.
	want := map[string]int{"1": 20, "2": 18, "3": 24, "4": 12, "5": 32, "6": 2, "7": 9}
	if !reflect.DeepEqual(perSection, want) {
		t.Errorf("checks per section = %v, want %v", perSection, want)
	}
}

func ctr(name string, mod func(*engine.ContainerInspect)) Container {
	c := engine.ContainerInspect{ID: name + "0123456789abcdef", Name: "/" + name,
		State: &engine.ContainerState{Running: true}, HostConfig: &engine.HostConfig{}, Config: &engine.ContainerConfig{}}
	mod(&c)
	return Container{ContainerInspect: c}
}

func TestContainerRules(t *testing.T) {
	port := func(p string) network.Port { return network.MustParsePort(p) }
	s := &Snapshot{Containers: []Container{
		ctr("onfail0", func(c *engine.ContainerInspect) {
			c.HostConfig.RestartPolicy = engine.RestartPolicy{Name: "on-failure"}
		}),
		ctr("onfail5", func(c *engine.ContainerInspect) {
			c.HostConfig.RestartPolicy = engine.RestartPolicy{Name: "on-failure", MaximumRetryCount: 5}
		}),
		ctr("unless", func(c *engine.ContainerInspect) {
			c.HostConfig.RestartPolicy = engine.RestartPolicy{Name: "unless-stopped"}
		}),
		ctr("colon", func(c *engine.ContainerInspect) { c.HostConfig.SecurityOpt = []string{"seccomp:unconfined"} }),
		ctr("capprefix", func(c *engine.ContainerInspect) { c.HostConfig.CapAdd = []string{"CAP_NET_ADMIN", "NET_RAW"} }),
		ctr("defaultcap", func(c *engine.ContainerInspect) { c.HostConfig.CapAdd = []string{"CAP_CHOWN"} }),
		ctr("v6", func(c *engine.ContainerInspect) {
			c.HostConfig.PortBindings = network.PortMap{port("80/tcp"): {{HostIP: netip.MustParseAddr("::"), HostPort: "8080"}}}
		}),
		ctr("loop", func(c *engine.ContainerInspect) {
			c.HostConfig.PortBindings = network.PortMap{port("80/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "8080"}}}
		}),
		ctr("sshd", func(c *engine.ContainerInspect) {}),
		ctr("localtime", func(c *engine.ContainerInspect) {
			c.Mounts = []engine.MountPoint{{Type: "bind", Source: "/etc/localtime", Destination: "/etc/localtime"}}
		}),
		ctr("etcsub", func(c *engine.ContainerInspect) {
			c.Mounts = []engine.MountPoint{{Type: "bind", Source: "/etc/ssl", Destination: "/x", RW: true}}
		}),
	}}
	s.Containers[8].Processes = []Process{{"sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"}, {"sleep", "sleep 1"}}
	results, _ := Run(s, Selection{Checks: []string{"5.4", "5.6", "5.7", "5.14", "5.15", "5.22"}})
	flagged := map[string][]string{}
	for _, r := range results {
		for _, it := range r.Items {
			flagged[r.ID] = append(flagged[r.ID], it.Target)
		}
	}
	want := map[string][]string{
		"5.4":  {"capprefix"},
		"5.6":  {"etcsub"},
		"5.7":  {"sshd"},
		"5.14": {"v6"},
		"5.15": {"onfail0", "unless"},
		"5.22": {"colon"},
	}
	if !reflect.DeepEqual(flagged, want) {
		t.Errorf("flagged %v\nwant    %v", flagged, want)
	}
}

func TestHistoryHeuristics(t *testing.T) {
	if !updateAlone("/bin/sh -c apt-get update") || updateAlone("/bin/sh -c apt-get update && apt-get install -y curl") {
		t.Error("updateAlone")
	}
	if !addInstr("/bin/sh -c #(nop) ADD file:abc in / ") || !addInstr("ADD app.tar /app # buildkit") || addInstr("/bin/sh -c echo ADD") {
		t.Error("addInstr")
	}
}

// TestNoContainersIsNotPass: on an engine without containers the container
// checks have nothing to look at; a PASS would raise the score for
// something never checked.
func TestNoContainersIsNotPass(t *testing.T) {
	results, _ := Run(&Snapshot{}, Selection{Checks: []string{"4.1", "5"}})
	if len(results) < 30 {
		t.Fatalf("only %d results", len(results))
	}
	for _, r := range results {
		if r.Status == Pass && r.ID != "5.1" { // 5.1 is about the engine (swarm), not containers
			t.Errorf("%s passes with no containers: %s", r.ID, r.Detail)
		}
	}
	for _, id := range []string{"4.1", "5.4", "5.5", "5.6", "5.7", "5.10", "5.26", "5.32"} {
		for _, r := range results {
			if r.ID == id && r.Status != Skip {
				t.Errorf("%s = %s, want skip", id, r.Status)
			}
		}
	}
}
