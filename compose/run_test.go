package compose

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/ctsec/ctsec/internal/testenv"
)

// TestHardenedServiceRuns hardens a busybox service (strict, with a seccomp
// profile) and runs it on the test Docker engine with exactly the options
// compose-go reads from the hardened file: the container starts, and both
// docker inspect and the kernel's view from inside (/proc/self/status) show
// no capabilities, no-new-privileges and seccomp filtering.
func TestHardenedServiceRuns(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.Busybox(t)
	src, err := os.ReadFile("testdata/run/compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse("testdata/run/compose.yml", src)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Harden(d, Options{Policy: Strict, ProfilesDir: "testdata/run/profiles"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "profiles"), 0o755)
	prof, _ := os.ReadFile("testdata/run/profiles/app.json")
	os.WriteFile(filepath.Join(dir, "profiles", "app.json"), prof, 0o644)
	file := filepath.Join(dir, "compose.yml")
	os.WriteFile(file, res.Output, 0o644)

	proj, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir: dir, ConfigFiles: []types.ConfigFile{{Filename: file}}, Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("ctsectest", true) })
	if err != nil {
		t.Fatalf("hardened file does not load as a project: %v", err)
	}
	svc := proj.Services["app"]
	args := []string{"run", "--name", fmt.Sprintf("ctsec-compose-test-%d", os.Getpid()), "--network", "none"}
	for _, c := range svc.CapDrop {
		args = append(args, "--cap-drop", c)
	}
	for _, c := range svc.CapAdd {
		args = append(args, "--cap-add", c)
	}
	for _, o := range svc.SecurityOpt {
		if k, v, ok := strings.Cut(o, "="); ok && k == "seccomp" && !filepath.IsAbs(v) {
			o = "seccomp=" + filepath.Join(dir, v)
		}
		args = append(args, "--security-opt", o)
	}
	if svc.PidsLimit > 0 {
		args = append(args, "--pids-limit", fmt.Sprint(svc.PidsLimit))
	}
	if svc.MemLimit > 0 {
		args = append(args, "--memory", fmt.Sprint(int64(svc.MemLimit)))
	}
	if svc.ReadOnly {
		args = append(args, "--read-only")
	}
	for _, tm := range svc.Tmpfs {
		args = append(args, "--tmpfs", tm)
	}
	args = append(args, svc.Image)
	args = append(args, svc.Command...)
	name := args[2]
	t.Cleanup(func() { exec.Command(docker, "rm", "-f", name).Run() })
	out, err := exec.Command(docker, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	status := string(out)
	for _, want := range []string{"CapEff:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2", "tmp-writable", "root-read-only"} {
		if !strings.Contains(status, want) {
			t.Errorf("container output lacks %q:\n%s", want, status)
		}
	}
	raw, err := exec.Command(docker, "inspect", "--format", "{{json .HostConfig}}", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	var hc struct {
		CapDrop        []string
		SecurityOpt    []string
		PidsLimit      *int64
		Memory         int64
		ReadonlyRootfs bool
	}
	if err := json.Unmarshal(raw, &hc); err != nil {
		t.Fatal(err)
	}
	if len(hc.CapDrop) != 1 || !strings.EqualFold(hc.CapDrop[0], "ALL") {
		t.Errorf("CapDrop = %v", hc.CapDrop)
	}
	var nnp, seccomp bool
	for _, o := range hc.SecurityOpt {
		nnp = nnp || strings.HasPrefix(o, "no-new-privileges")
		seccomp = seccomp || (strings.HasPrefix(o, "seccomp") && strings.Contains(o, "defaultAction"))
	}
	if !nnp || !seccomp {
		t.Errorf("SecurityOpt lacks no-new-privileges or the seccomp profile: %.200v", hc.SecurityOpt)
	}
	if hc.PidsLimit == nil || *hc.PidsLimit != 64 || hc.Memory != 128<<20 || !hc.ReadonlyRootfs {
		t.Errorf("limits not applied: pids %v memory %d read-only %v", hc.PidsLimit, hc.Memory, hc.ReadonlyRootfs)
	}
}
