package apparmor

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/testenv"
)

// fakeAppArmorRoot makes root look like a host with AppArmor enabled and
// the given lines in securityfs.
func fakeAppArmorRoot(t *testing.T, loaded string) string {
	t.Helper()
	root := t.TempDir()
	write(t, filepath.Join(root, "sys/module/apparmor/parameters/enabled"), "Y\n")
	write(t, filepath.Join(root, securityfsProfiles), loaded)
	return root
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func generated(t *testing.T, dir, name, mode string) string {
	t.Helper()
	p, err := Generate(&Spec{Name: name, Mode: mode, Created: testenv.Now(t)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, name+".apparmor")
	write(t, f, string(b))
	return f
}

func TestLoadRefusesWithoutAppArmor(t *testing.T) {
	src := generated(t, t.TempDir(), "web", "")
	if DetectSupport(context.Background(), "/").KernelEnabled {
		t.Skip("this host has AppArmor: covered by the lab tests")
	}
	_, err := Load(context.Background(), []string{src}, LoadOptions{Root: "/", Write: true, StateDir: t.TempDir(), Clock: testenv.Clock(t)})
	if !errors.Is(err, ErrNoAppArmor) || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %v, want one-line ErrNoAppArmor", err)
	}
	plan, err := Load(context.Background(), []string{src}, LoadOptions{Root: "/", StateDir: t.TempDir(), Clock: testenv.Clock(t)})
	if err != nil || plan.Written || !strings.Contains(plan.Note, "would refuse") {
		t.Errorf("plan on a host without AppArmor: %+v %v", plan, err)
	}
}

// 18.7: a root other than / is never loaded, so neither its plan nor its
// installation needs AppArmor there.
func TestLoadUnderRootNeedsNoAppArmor(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	src := generated(t, t.TempDir(), "web", "")
	root := t.TempDir()
	plan, err := Load(context.Background(), []string{src}, LoadOptions{Root: root, StateDir: t.TempDir(), Clock: testenv.Clock(t)})
	if err != nil || plan.Written || len(plan.Actions) != 1 || !plan.Actions[0].Changed {
		t.Fatalf("plan: %+v %v", plan, err)
	}
	if _, err := os.Stat(filepath.Join(root, ProfileDir)); err == nil {
		t.Error("the plan installed something")
	}
	res, err := Load(context.Background(), []string{src}, LoadOptions{Root: root, Write: true, StateDir: t.TempDir(), Clock: testenv.Clock(t)})
	if err != nil || !res.Written || res.Actions[0].Loaded {
		t.Fatalf("write: %+v %v", res, err)
	}
}

func TestLoadIntoRoot(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	ctx := context.Background()
	root := fakeAppArmorRoot(t, "")
	state := t.TempDir()
	src := generated(t, t.TempDir(), "web", "")
	target := filepath.Join(root, ProfileDir, "ctsec-web")

	plan, err := Load(ctx, []string{src}, LoadOptions{Root: root, StateDir: state, Clock: testenv.Clock(t)})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Written || len(plan.Actions) != 1 || plan.Actions[0].Target != target || !plan.Actions[0].Changed || !strings.Contains(plan.Actions[0].Diff, "+profile \"ctsec-web\"") {
		t.Fatalf("plan: %+v", plan)
	}
	if !strings.HasPrefix(plan.Actions[0].Diff, "--- /dev/null\n+++ "+target+"\n@@ -0,0 +1,") {
		t.Errorf("a new profile's diff is not against /dev/null:\n%s", plan.Actions[0].Diff)
	}
	if _, err := os.Stat(target); err == nil {
		t.Fatal("dry run installed the file")
	}

	res, err := Load(ctx, []string{src}, LoadOptions{Root: root, StateDir: state, Write: true, Clock: testenv.Clock(t)})
	if err != nil {
		t.Fatal(err)
	}
	installed, _ := os.ReadFile(target)
	orig, _ := os.ReadFile(src)
	if !res.Written || string(installed) != string(orig) || res.BackupID == "" {
		t.Fatalf("write: %+v", res)
	}
	again, err := Load(ctx, []string{src}, LoadOptions{Root: root, StateDir: state, Write: true, Clock: testenv.Clock(t)})
	if err != nil || again.Actions[0].Changed {
		t.Fatalf("second load changed something: %+v %v", again, err)
	}

	// Switching to enforce rewrites the flags and backs up the complain version.
	res, err = Load(ctx, []string{src}, LoadOptions{Root: root, StateDir: state, Write: true, Mode: "enforce", Clock: testenv.Clock(t)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseProfile(target, mustRead(t, target))
	if err != nil || p.Mode() != "enforce" || !strings.Contains(res.Actions[0].Diff, "-profile \"ctsec-web\" flags=(attach_disconnected,mediate_deleted,complain)") {
		t.Fatalf("enforce: mode %v err %v diff:\n%s", p, err, res.Actions[0].Diff)
	}
	store := safefile.Store{Dir: state, Clock: testenv.Clock(t)}
	if _, err := store.Restore(res.BackupID); err != nil {
		t.Fatal(err)
	}
	if string(mustRead(t, target)) != string(orig) {
		t.Error("restore did not bring back the complain-mode profile")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadRefusesInvalidProfile(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	root := fakeAppArmorRoot(t, "")
	dir := t.TempDir()
	for name, text := range map[string]string{
		"syntax":   "profile bad {\n  /x r\n}\n",
		"parser":   "profile bad {\n  network inet6 dgram udp,\n}\n",
		"two":      "profile a {\n}\nprofile b {\n}\n",
		"bad name": "profile \"a b\" {\n}\n",
	} {
		src := filepath.Join(dir, name)
		write(t, src, text)
		_, err := Load(context.Background(), []string{src}, LoadOptions{Root: root, StateDir: t.TempDir(), Write: true, Clock: testenv.Clock(t)})
		var ve *ValidationError
		if name == "bad name" {
			if err == nil || !strings.Contains(err.Error(), "safe file name") {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if !errors.As(err, &ve) || !strings.HasPrefix(err.Error(), src+":") {
			t.Errorf("%s: err = %v, want a ValidationError naming the file", name, err)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(root, ProfileDir)); len(entries) > 0 {
		t.Errorf("invalid profiles installed: %v", entries)
	}
}

func TestStatusUnderRoot(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	root := fakeAppArmorRoot(t, "docker-default (enforce)\nctsec-web (complain)\nMongoDB Compass (unconfined)\nfoo (bar) (enforce)\n")
	dir := filepath.Join(root, ProfileDir)
	generated(t, dir, "web", "")
	generated(t, dir, "api", "enforce")
	write(t, filepath.Join(dir, "broken"), "profile x {\n")
	st, err := ReadStatus(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !st.KernelEnabled || len(st.Loaded) != 4 || st.Loaded[2].Name != "MongoDB Compass" || st.Loaded[3].Name != "foo (bar)" || st.Loaded[1].Mode != "complain" {
		t.Fatalf("loaded: %+v", st.Loaded)
	}
	byName := map[string]DiskProfile{}
	for _, d := range st.OnDisk {
		byName[filepath.Base(d.File)] = d
	}
	if d := byName["web.apparmor"]; !d.Loaded || d.Mode != "complain" {
		t.Errorf("web: %+v", d)
	}
	if d := byName["api.apparmor"]; d.Loaded || d.Mode != "enforce" {
		t.Errorf("api: %+v", d)
	}
	if d := byName["broken"]; d.Problem == "" {
		t.Errorf("broken: %+v", d)
	}
	sev := map[string]string{}
	for _, f := range st.Findings() {
		sev[filepath.Base(f.File)] = f.Rule + "/" + f.Severity.String()
	}
	if len(sev) != 2 || sev["broken"] != "apparmor/profile-unreadable/medium" || sev["api.apparmor"] != "apparmor/profile-not-loaded/low" {
		t.Errorf("findings: %v", sev)
	}
	empty, err := ReadStatus(context.Background(), t.TempDir(), nil)
	if err != nil || empty.KernelEnabled || len(empty.Loaded) != 0 {
		t.Errorf("empty root: %+v %v", empty, err)
	}
}

// TestStatusContainers asks the real engine: a container created with
// security_opt apparmor=ctsec-web reports that profile.
func TestStatusContainers(t *testing.T) {
	docker := testenv.Docker(t)
	image := testenv.Busybox(t)
	name := "ctsec-aa-status-" + filepath.Base(t.TempDir())
	missing := name + "-missing"
	for n, profile := range map[string]string{name: "ctsec-web", missing: "ctsec-not-loaded"} {
		out, err := exec.Command(docker, "create", "--name", n, "--security-opt", "apparmor="+profile, image, "true").CombinedOutput()
		if err != nil {
			t.Fatalf("docker create: %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command(docker, "rm", "-f", n).Run() })
	}
	cli, err := engine.Connect("")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	root := fakeAppArmorRoot(t, "ctsec-web (complain)\n")
	st, err := ReadStatus(context.Background(), root, cli)
	if err != nil || st.DockerError != "" {
		t.Fatalf("%v %s", err, st.DockerError)
	}
	// Only the container whose profile the kernel lacks is a finding.
	high := map[string]bool{}
	for _, f := range st.Findings() {
		if f.Severity == report.High {
			high[f.Target] = true
		}
	}
	if !high[missing] || high[name] {
		t.Errorf("high findings for %v, want %s only", high, missing)
	}
	for _, c := range st.Containers {
		if c.Container == name {
			if c.Requested != "ctsec-web" || !c.Loaded {
				t.Errorf("container: %+v", c)
			}
			return
		}
	}
	t.Errorf("container %s not listed: %+v", name, st.Containers)
}
