package auditd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/hosttest"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

// dockerRoot is a Debian host tree as docker.io lays it out: dockerd and
// runc in /usr/sbin, runc also reached through /usr/bin, daemon.json
// moving the data root.
func dockerRoot(t *testing.T) *host.Env {
	env := hosttest.Root(t)
	for p, c := range map[string]string{
		"/usr/sbin/auditctl":                 "",
		"/usr/sbin/dockerd":                  "",
		"/usr/sbin/runc":                     "",
		"/usr/bin/containerd":                "",
		"/usr/bin/containerd-shim-runc-v2":   "",
		"/etc/docker/daemon.json":            `{"data-root": "/srv/docker"}`,
		"/lib/systemd/system/docker.service": "[Service]\n",
		"/lib/systemd/system/docker.socket":  "[Socket]\n",
		"/etc/audit/rules.d/audit.rules":     "-D\n-b 8192\n",
		"/srv/docker/.keep":                  "",
	} {
		hosttest.Write(t, env, p, c)
	}
	os.Symlink("../sbin/runc", env.Path("/usr/bin/runc"))
	return env
}

func TestWatchesAsThisHostHasThem(t *testing.T) {
	env := dockerRoot(t)
	pol, _ := host.BaselinePolicy()
	ws := Watches(env, pol)
	got := map[string]Watch{}
	for _, w := range ws {
		got[w.Path] = w
	}
	for _, want := range []string{"/usr/sbin/dockerd", "/usr/sbin/runc", "/usr/bin/containerd", "/etc/docker", "/etc/docker/daemon.json", "/srv/docker", "/lib/systemd/system/docker.service"} {
		if _, ok := got[want]; !ok {
			t.Errorf("%s not watched: %+v", want, ws)
		}
	}
	if w := got["/usr/sbin/runc"]; len(w.Also) != 1 || w.Also[0] != "/usr/bin/runc" {
		t.Errorf("runc and its link are one watch on the target: %+v", w)
	}
	for _, absent := range []string{"/usr/bin/dockerd", "/var/lib/docker", "/etc/default/docker"} {
		if _, ok := got[absent]; ok {
			t.Errorf("%s is not on this host but is watched", absent)
		}
	}
	text := string(Render(ws, "docker"))
	if !strings.Contains(text, "-w /usr/sbin/dockerd -p rwxa -k docker\n") {
		t.Errorf("rules:\n%s", text)
	}
}

// Plan, apply, verify and rollback under a root: the rules file is made,
// the audit then finds every path watched, and rollback removes it.
func TestApplyAndRollbackUnderRoot(t *testing.T) {
	env := dockerRoot(t)
	pol, _ := host.BaselinePolicy()
	m := New()
	fs, err := m.Audit(context.Background(), env, pol)
	if err != nil {
		t.Fatal(err)
	}
	unwatched := 0
	for _, f := range fs {
		if f.Rule == "host/auditd-watch" && f.Severity == report.Low {
			unwatched++
		}
	}
	if unwatched < 7 {
		t.Fatalf("before apply %d paths unwatched: %+v", unwatched, fs)
	}
	before := hosttest.Snapshot(t, env)
	e := &host.Engine{Env: env, StateDir: filepath.Join(t.TempDir(), "state"), Modules: []host.Module{m}, Clock: testenv.Clock(t)}
	plan, err := e.Plan(context.Background(), pol)
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Changed() || len(plan.Refusals()) > 0 || !strings.Contains(plan.Diff(), "+++ "+RulesFile) {
		t.Fatalf("plan: %+v\n%s", plan.Refusals(), plan.Diff())
	}
	res, err := e.Apply(context.Background(), plan, host.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fs, _ = m.Audit(context.Background(), env, pol)
	for _, f := range fs {
		if f.Severity > report.Info {
			t.Errorf("after apply: %s %s", f.Target, f.Message)
		}
	}
	if again, _ := e.Plan(context.Background(), pol); again.Changed() {
		t.Error("a second apply would change something")
	}
	if _, err := e.Rollback(context.Background(), res.ID); err != nil {
		t.Fatal(err)
	}
	after := hosttest.Snapshot(t, env)
	if len(after) != len(before) {
		t.Errorf("rollback left %d files, want %d", len(after), len(before))
	}
	for p, c := range before {
		if after[p] != c {
			t.Errorf("%s differs after rollback", p)
		}
	}
}

func TestNotInstalledRefused(t *testing.T) {
	env := hosttest.Root(t)
	pol, _ := host.BaselinePolicy()
	mp, err := New().Plan(context.Background(), env, pol)
	if err != nil || len(mp.Refusals) != 1 || mp.Refusals[0].Guard != "auditd-installed" || host.GuardFix("auditd-installed") == "" {
		t.Fatalf("plan without auditd: %+v %v", mp, err)
	}
}

// FuzzWatched: the -w parser takes any auditctl output or rules file and
// names only paths that follow a -w.
func FuzzWatched(f *testing.F) {
	f.Add("-w /usr/sbin/dockerd -p rwxa -k docker\n-a always,exit -F path=/x\n")
	f.Add("-w\n-w /a/ -w /b")
	f.Fuzz(func(t *testing.T, text string) {
		for p := range watched(text) {
			if !strings.Contains(text, "-w") || strings.ContainsAny(p, " \t\n") {
				t.Fatalf("watched %q from %q", p, text)
			}
		}
		pol, _ := host.BaselinePolicy()
		_ = pol
	})
}

// The watches under /run cannot load at boot (their directories appear
// when Docker starts) and auditctl stops at the first error: on Debian 13
// audit-rules.service failed after a reboot and no watch under /run was
// loaded again (found in the lab). They come last, after "-i", and a
// docker.service drop-in loads the rules again once Docker runs; rollback
// removes it.
func TestRunWatchesLoadWhenDockerStarts(t *testing.T) {
	env := dockerRoot(t)
	for _, p := range []string{"/usr/sbin/augenrules", "/run/containerd/containerd.sock", "/run/docker/containerd/containerd.sock"} {
		hosttest.Write(t, env, p, "")
	}
	pol, _ := host.BaselinePolicy()
	text := string(Render(Watches(env, pol), "docker"))
	lines := strings.Split(text, "\n")
	ignore := -1
	for i, l := range lines {
		if l == "-i" {
			if ignore >= 0 {
				t.Fatalf("-i twice:\n%s", text)
			}
			ignore = i
		}
		if strings.HasPrefix(l, "-w /run/") && (ignore < 0 || i < ignore) {
			t.Errorf("%q comes before -i:\n%s", l, text)
		}
		if strings.HasPrefix(l, "-w ") && !strings.HasPrefix(l, "-w /run/") && ignore >= 0 && i > ignore {
			t.Errorf("%q after -i: its error would be ignored:\n%s", l, text)
		}
	}
	if ignore < 0 {
		t.Fatalf("no -i before the /run watches:\n%s", text)
	}
	e := &host.Engine{Env: env, StateDir: filepath.Join(t.TempDir(), "state"), Modules: []host.Module{New()}, Clock: testenv.Clock(t)}
	plan, err := e.Plan(context.Background(), pol)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.Diff(), "+++ "+RunDropIn) || !strings.Contains(plan.Diff(), "+ExecStartPost=-/usr/sbin/augenrules --load") {
		t.Fatalf("plan has no docker.service drop-in:\n%s", plan.Diff())
	}
	res, err := e.Apply(context.Background(), plan, host.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(env.Path(RunDropIn)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Rollback(context.Background(), res.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(env.Path(RunDropIn)); !os.IsNotExist(err) {
		t.Errorf("rollback left the drop-in: %v", err)
	}
}
