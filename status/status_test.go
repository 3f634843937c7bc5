package status

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/modules"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

// Lines as apt-get --simulate -qq dist-upgrade printed them on Debian 12.
const simulated = `Inst base-files [12.4+deb12u11] (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
Inst liblzma-dev [5.4.1-1] (5.4.1-1+deb12u2 Debian-Security:12/oldstable-security [amd64]) []
Inst linux-image-6.1.0-40-amd64 (6.1.153-1 Debian-Security:12/stable-security [amd64])
Conf base-files (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Inst broken line
`

func TestParseSimulate(t *testing.T) {
	sec, other := ParseSimulate([]byte(simulated))
	if other != 1 || len(sec) != 3 {
		t.Fatalf("security %+v, other %d; want 3 and 1", sec, other)
	}
	want := Upgrade{Package: "libgcrypt20", From: "1.10.1-3", To: "1.10.1-3+deb12u1", Origin: "Debian:12.15/oldstable, Debian-Security:12/oldstable-security"}
	if sec[0] != want {
		t.Errorf("first: %+v, want %+v", sec[0], want)
	}
	if sec[2].Package != "linux-image-6.1.0-40-amd64" || sec[2].From != "" {
		t.Errorf("a new package (no old version): %+v", sec[2])
	}
}

func FuzzParseSimulate(f *testing.F) {
	f.Add([]byte(simulated))
	f.Add([]byte("Inst a [b] (c d [e])\nInst ( ) [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sec, other := ParseSimulate(data)
		if other < 0 || len(sec)+other > strings.Count(string(data), "Inst ") {
			t.Fatalf("%d security and %d other upgrades from %d Inst lines", len(sec), other, strings.Count(string(data), "Inst "))
		}
		for _, u := range sec {
			if u.Package == "" || u.To == "" || !strings.Contains(strings.ToLower(u.Origin), "security") {
				t.Fatalf("bad upgrade %+v", u)
			}
		}
	})
}

func byRule(t *testing.T, res *Result, rule string) Item {
	t.Helper()
	for _, it := range res.Items {
		if it.Rule == rule {
			return it
		}
	}
	t.Fatalf("no item %s", rule)
	return Item{}
}

// On a tree that is not the running system, with no engine and no AppArmor,
// every item still has a verdict; what cannot be judged says why.
func TestCheckpointWithoutDockerOrAppArmor(t *testing.T) {
	testenv.Tool(t, "sysctl")
	root := t.TempDir()
	for p, c := range map[string]string{
		"etc/sysctl.d/99-sysctl.conf": "", "etc/sysctl.conf": "",
		"etc/sysctl.d/99-zz-ctsec.conf": "kernel.kptr_restrict = 2\n",
	} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(c), 0o644)
	}
	pol, err := host.ParsePolicy("p.yaml", []byte("version: 1\nsysctl:\n  settings:\n    kernel.kptr_restrict: \"2\"\nfirewall: null\nupdates: null\n"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Check(context.Background(), Options{Root: root, Policy: pol, Modules: modules.All(), DockerErr: "none in this test", Clock: testenv.Clock(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != len(Rules) {
		t.Fatalf("%d items, want one per rule (%d)", len(res.Items), len(Rules))
	}
	for _, it := range res.Items {
		if it.Summary == "" {
			t.Errorf("%s (%s) says nothing", it.Rule, it.Status)
		}
		if it.Status == report.Fail && len(res.Findings()) == 0 {
			t.Errorf("%s failed without a finding", it.Rule)
		}
	}
	for _, rule := range []string{"status/apparmor-containers", "status/seccomp-profiles", "status/seccomp-unconfined", "status/containers-hardened", "status/bench"} {
		if it := byRule(t, res, rule); it.Status != report.Skip || !strings.Contains(it.Summary, "none in this test") {
			t.Errorf("%s without an engine: %s %q", rule, it.Status, it.Summary)
		}
	}
	if it := byRule(t, res, "status/apparmor-profiles"); it.Status != report.Skip || !strings.Contains(it.Summary, "AppArmor") {
		t.Errorf("AppArmor under a root without it: %s %q", it.Status, it.Summary)
	}
	if it := byRule(t, res, "status/updates"); it.Status != report.Skip || !strings.Contains(it.Summary, "running system") {
		t.Errorf("updates under a root: %s %q", it.Status, it.Summary)
	}
	if it := byRule(t, res, "status/ssh-key-only"); it.Status != report.Skip {
		t.Errorf("ssh without sshd under the root: %s %q", it.Status, it.Summary)
	}
	if it := byRule(t, res, "status/firewall"); it.Status != report.Skip || !strings.Contains(it.Summary, "null") {
		t.Errorf("firewall the policy leaves alone: %s %q", it.Status, it.Summary)
	}
}

// On the real engine: a container with added capabilities and no seccomp,
// and one with a custom profile that names a syscall no architecture has
// (dockerd and runc accept it without a word), fail their items; a
// hardened one fails none.
func TestCheckpointContainers(t *testing.T) {
	docker := testenv.Docker(t)
	image := testenv.Busybox(t)
	var b [3]byte
	rand.Read(b[:])
	sfx := hex.EncodeToString(b[:])
	bad, custom, good := "ctsec-status-bad-"+sfx, "ctsec-status-custom-"+sfx, "ctsec-status-good-"+sfx
	profile := filepath.Join(t.TempDir(), "bogus.json")
	os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["nosuchcall"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644)
	run := func(name string, args ...string) {
		t.Helper()
		all := append(append([]string{"run", "-d", "--name", name}, args...), image, "sleep", "300")
		if out, err := exec.Command(docker, all...).CombinedOutput(); err != nil {
			t.Fatalf("docker run %s: %v: %s", name, err, out)
		}
		t.Cleanup(func() { exec.Command(docker, "rm", "-f", name).Run() })
	}
	run(bad, "--cap-add", "NET_ADMIN", "--security-opt", "seccomp=unconfined")
	run(custom, "--security-opt", "seccomp="+profile)
	run(good, "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--memory", "64m", "--pids-limit", "64")

	c, err := engine.Connect("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pol, _ := host.BaselinePolicy()
	res, err := Check(context.Background(), Options{Root: "/", Policy: pol, Docker: c, Clock: testenv.Clock(t)})
	if err != nil {
		t.Fatal(err)
	}
	targets := func(rule string) map[string]string {
		out := map[string]string{}
		for _, fl := range byRule(t, res, rule).Failures {
			out[fl.Target] += fl.Message + "; "
		}
		return out
	}
	if m := targets("status/seccomp-unconfined")[bad]; !strings.Contains(m, "5.22") {
		t.Errorf("seccomp=unconfined not failed: %v", targets("status/seccomp-unconfined"))
	}
	if m := targets("status/containers-hardened")[bad]; !strings.Contains(m, "NET_ADMIN") {
		t.Errorf("added capability not failed: %v", targets("status/containers-hardened"))
	}
	if m := targets("status/seccomp-profiles")[custom]; !strings.Contains(m, "nosuchcall") {
		t.Errorf("invalid custom profile not failed: %v", targets("status/seccomp-profiles"))
	}
	for _, rule := range []string{"status/containers-hardened", "status/seccomp-unconfined", "status/seccomp-profiles"} {
		if m, ok := targets(rule)[good]; ok {
			t.Errorf("hardened container fails %s: %s", rule, m)
		}
	}
	if it := byRule(t, res, "status/bench"); it.Status == report.Skip || !strings.Contains(it.Summary, "score") {
		t.Errorf("bench item: %s %q", it.Status, it.Summary)
	}
}
