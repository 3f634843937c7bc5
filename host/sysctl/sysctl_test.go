package sysctl

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/hosttest"
	"github.com/ctsec/ctsec/internal/testenv"
)

// Our parser and procps' sysctl must agree on what a file sets: the real
// sysctl loads it inside a private network namespace (net.* keys are per
// namespace, so the machine is untouched) and prints the values back.
func TestParseAgreesWithRealSysctl(t *testing.T) {
	testenv.Root(t)
	testenv.Tool(t, "unshare")
	testenv.Tool(t, "sysctl")
	file := "# comment\n; also comment\n net/ipv4/tcp_syncookies=0\nnet.ipv4.conf.all.rp_filter =   2\nnet.ipv4.conf.default.rp_filter\t=\t1\nnet.ipv4.conf.all.rp_filter = 1\n"
	env := hosttest.Root(t)
	hosttest.Write(t, env, "/f.conf", file)
	settings, probs := Parse("/f.conf", []byte(file))
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	keys := []string{"net.ipv4.tcp_syncookies", "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter"}
	out, err := exec.Command("unshare", "-n", "sh", "-c", "sysctl -q -p \"$1\" && sysctl -n "+strings.Join(keys, " "), "sh", env.Path("/f.conf")).CombinedOutput()
	if err != nil {
		t.Fatalf("sysctl in a private netns: %v: %s", err, out)
	}
	real := strings.Fields(string(out))
	for i, k := range keys {
		w, ok := Winner(settings, k)
		if !ok || w.Value != real[i] {
			t.Errorf("%s: parser says %q, sysctl says %q", k, w.Value, real[i])
		}
	}
}

func TestOrderLastFileWins(t *testing.T) {
	env := hosttest.Root(t)
	hosttest.Write(t, env, "/usr/lib/sysctl.d/50-a.conf", "kernel.kptr_restrict = 1\n")
	hosttest.Write(t, env, "/etc/sysctl.d/50-a.conf", "kernel.kptr_restrict = 0\n") // hides /usr/lib's
	hosttest.Write(t, env, "/etc/sysctl.d/99-sysctl.conf", "")
	hosttest.Write(t, env, "/etc/sysctl.conf", "kernel.dmesg_restrict = 0\n")
	hosttest.Write(t, env, DropIn, "kernel.dmesg_restrict = 1\nkernel.kptr_restrict = 2\n")
	st, err := load(host.Overlay{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/etc/sysctl.d/50-a.conf", "/etc/sysctl.d/99-sysctl.conf", DropIn, MainFile}
	if !reflect.DeepEqual(st.files, want) {
		t.Errorf("order = %v, want %v", st.files, want)
	}
	if w, _ := Winner(st.settings, "kernel.kptr_restrict"); w.File != DropIn {
		t.Errorf("kptr_restrict from %s", w.File)
	}
	// procps reads /etc/sysctl.conf last: it beats the drop-in there.
	if w, _ := Winner(st.settings, "kernel.dmesg_restrict"); w.File != MainFile {
		t.Errorf("dmesg_restrict from %s", w.File)
	}
}

func TestGuards(t *testing.T) {
	env := hosttest.Root(t)
	hosttest.Write(t, env, "/usr/bin/dockerd", "")
	pol, _ := host.BaselinePolicy()
	pol.Sysctl.Settings["net.ipv4.ip_forward"] = "0"
	pol.Sysctl.Settings["kernel.yama.ptrace_scope"] = "3"
	pol.Sysctl.Settings["kernel.modules_disabled"] = "1"
	e := &host.Engine{Env: env, StateDir: t.TempDir(), Modules: []host.Module{New()}, Clock: testenv.Clock(t)}
	plan, err := e.Plan(context.Background(), pol)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range plan.Refusals() {
		got[r.Guard]++
	}
	if got["sysctl-docker-forwarding"] != 1 || got["sysctl-irreversible"] != 2 {
		t.Fatalf("refusals = %+v", plan.Refusals())
	}
	before := hosttest.Snapshot(t, env)
	_, err = e.Apply(context.Background(), plan, host.ApplyOptions{})
	var refused *host.RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("apply = %v", err)
	}
	if !reflect.DeepEqual(before, hosttest.Snapshot(t, env)) {
		t.Error("refused apply wrote files")
	}
	pol.Sysctl.AllowIrreversible = true
	pol.Sysctl.Settings["net.ipv4.ip_forward"] = "1"
	plan, _ = e.Plan(context.Background(), pol)
	if r := plan.Refusals(); len(r) != 0 {
		t.Errorf("with opt-in: %+v", r)
	}
}

// sysctl --dry-run -p rejects a key this kernel lacks (appended to the
// written file by a fault hook; the policy itself cannot hold one): the
// apply is undone.
func TestVerifyFailureRestores(t *testing.T) {
	testenv.Tool(t, "sysctl")
	env := hosttest.Root(t)
	hosttest.Write(t, env, DropIn, "# previous\nkernel.kptr_restrict = 1\n")
	before := hosttest.Snapshot(t, env)
	pol, _ := host.BaselinePolicy()
	pol.Sysctl.Settings = map[string]string{"net.ipv4.tcp_syncookies": "1"}
	e := &host.Engine{Env: env, StateDir: t.TempDir(), Modules: []host.Module{New()}, Clock: testenv.Clock(t)}
	e.Hook = func(point string) {
		if point == "wrote "+DropIn {
			f, _ := os.OpenFile(env.Path(DropIn), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("net.ipv4.no_such_key = 1\n")
			f.Close()
		}
	}
	plan, err := e.Plan(context.Background(), pol)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Apply(context.Background(), plan, host.ApplyOptions{})
	var rolled *host.RolledBackError
	if !errors.As(err, &rolled) || !strings.Contains(err.Error(), "no_such_key") {
		t.Fatalf("apply = %v", err)
	}
	if !reflect.DeepEqual(before, hosttest.Snapshot(t, env)) {
		t.Error("files not restored byte for byte")
	}
	// A valid policy applies (verification passes) on the same root.
	e.Hook = nil
	pol.Sysctl.Settings = map[string]string{"net.ipv4.tcp_syncookies": "1"}
	plan, _ = e.Plan(context.Background(), pol)
	if _, err := e.Apply(context.Background(), plan, host.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := hosttest.Read(t, env, DropIn); !strings.Contains(got, "net.ipv4.tcp_syncookies = 1") {
		t.Errorf("drop-in = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("net.ipv4.ip_forward = 1\n# c\n-kernel.x=2\nnet/ipv4/conf/eth0.100/rp_filter = 2\nbad line\n")
	f.Fuzz(func(t *testing.T, s string) {
		settings, probs := Parse("f", []byte(s))
		for _, st := range settings {
			if st.Key == "" || st.Line < 1 {
				t.Fatalf("bad setting %+v", st)
			}
			Winner(settings, st.Key)
		}
		for _, p := range probs {
			if p.Line < 1 {
				t.Fatal(p)
			}
		}
	})
}

func BenchmarkAuditLive(b *testing.B) {
	env := host.NewEnv("/")
	pol, _ := host.BaselinePolicy()
	for b.Loop() {
		if _, err := New().Audit(context.Background(), env, pol); err != nil {
			b.Fatal(err)
		}
	}
}

// An unknown sysctl key was written commented out and apply went on; it is
// an error naming the policy's line and the nearest real key. A key of a
// subsystem this kernel lacks as a whole is still written commented out.
func TestUnknownKeyIsAnError(t *testing.T) {
	env := hosttest.Root(t)
	for _, tt := range []struct{ key, want string }{
		{"net.ipv4.tcp_syncokies", `p.yaml:4: sysctl.settings.net.ipv4.tcp_syncokies: unknown sysctl key "net.ipv4.tcp_syncokies": this kernel has no /proc/sys/net/ipv4/tcp_syncokies (did you mean "net.ipv4.tcp_syncookies"?)`},
		{"net.ipv5.ip_forward", `(did you mean "net.ipv4"?)`},
		{"kernel.no_such_knob_at_all", `this kernel has no /proc/sys/kernel/no_such_knob_at_all`},
	} {
		pol, err := host.ParsePolicy("p.yaml", []byte("version: 1\nsysctl:\n  settings:\n    "+tt.key+": \"1\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = New().Plan(context.Background(), env, pol)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: plan error %v, want %q", tt.key, err, tt.want)
		}
		if _, err := New().Audit(context.Background(), env, pol); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: audit error %v, want %q", tt.key, err, tt.want)
		}
	}
	pol, _ := host.ParsePolicy("p.yaml", []byte("version: 1\nsysctl:\n  settings:\n    kernel.nosuchsubsystemxyz.knob: \"1\"\n"))
	mp, err := New().Plan(context.Background(), env, pol)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mp.Edits[0].New), "# not available on this kernel: kernel.nosuchsubsystemxyz.knob = 1") {
		t.Errorf("drop-in:\n%s", mp.Edits[0].New)
	}
}

// A later sysctl.d file (or /etc/sysctl.conf, read last by sysctl
// --system) that sets another value silently beat the drop-in while apply
// reported success. Plan refuses naming the file and line; verification
// fails if one appears after writing.
func TestLaterFileRefused(t *testing.T) {
	for _, tt := range []struct{ file, line, want string }{
		{"/etc/sysctl.d/99-zzz-site.conf", "kernel.kptr_restrict = 0", "/etc/sysctl.d/99-zzz-site.conf:2 sets kernel.kptr_restrict = 0 and is read after " + DropIn},
		{"/usr/lib/sysctl.d/zz-vendor.conf", "kernel.kptr_restrict=1", "/usr/lib/sysctl.d/zz-vendor.conf:2 sets kernel.kptr_restrict = 1"},
		{"/etc/sysctl.conf", "kernel.kptr_restrict = 0", "/etc/sysctl.conf:2 sets kernel.kptr_restrict = 0 and is read last by `sysctl --system`"},
		{"/etc/sysctl.d/zz-glob.conf", "net.ipv4.conf.*.rp_filter = 0", "/etc/sysctl.d/zz-glob.conf:2 sets net.ipv4.conf.*.rp_filter = 0"},
	} {
		env := hosttest.Root(t)
		hosttest.Write(t, env, tt.file, "# site\n"+tt.line+"\n")
		pol, _ := host.BaselinePolicy()
		mp, err := New().Plan(context.Background(), env, pol)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range mp.Refusals {
			found = found || (r.Guard == "sysctl-later-file" && strings.Contains(r.Reason, tt.want))
		}
		if !found {
			t.Errorf("%s: refusals = %+v, want %q", tt.file, mp.Refusals, tt.want)
		}
		// The same value there is no conflict.
		pol.Sysctl.Settings = map[string]string{"kernel.kptr_restrict": "0"}
		if tt.file == "/etc/sysctl.conf" || tt.file == "/etc/sysctl.d/99-zzz-site.conf" {
			if mp, _ := New().Plan(context.Background(), env, pol); len(mp.Refusals) != 0 {
				t.Errorf("%s: same value refused: %+v", tt.file, mp.Refusals)
			}
		}
	}
	// A later file that appears between writing and verifying fails the
	// apply, and every file is restored.
	testenv.Tool(t, "sysctl")
	env := hosttest.Root(t)
	pol, _ := host.BaselinePolicy()
	pol.Sysctl.Settings = map[string]string{"kernel.kptr_restrict": "2"}
	e := &host.Engine{Env: env, StateDir: t.TempDir(), Modules: []host.Module{New()}, Clock: testenv.Clock(t)}
	e.Hook = func(point string) {
		if point == "wrote "+DropIn {
			hosttest.Write(t, env, "/etc/sysctl.d/99-zzz-late.conf", "kernel.kptr_restrict = 0\n")
		}
	}
	plan, err := e.Plan(context.Background(), pol)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Apply(context.Background(), plan, host.ApplyOptions{})
	var rolled *host.RolledBackError
	if !errors.As(err, &rolled) || !strings.Contains(err.Error(), "99-zzz-late.conf:1") {
		t.Fatalf("apply = %v", err)
	}
	if hosttest.Read(t, env, DropIn) != "" {
		t.Error("the drop-in stayed after a failed verification")
	}
}
