package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

// testLabel marks every container these tests create, so Cleanup removes
// exactly those.
const testLabel = "ctsec-test=bench"

// createContainers creates one container per spec (docker create args
// before the image) named prefix+name, and removes them when the test ends.
func createContainers(t *testing.T, docker, prefix string, specs map[string][]string, start ...string) {
	t.Helper()
	img := testenv.Busybox(t)
	t.Cleanup(func() {
		out, _ := exec.Command(docker, "ps", "-aq", "--filter", "label="+testLabel, "--filter", "name="+prefix).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			exec.Command(docker, append([]string{"rm", "-f"}, ids...)...).Run()
		}
	})
	for name, args := range specs {
		full := append([]string{"create", "--label", testLabel, "--name", prefix + name}, args...)
		full = append(full, img, "sleep", "3600")
		if out, err := exec.Command(docker, full...).CombinedOutput(); err != nil {
			t.Fatalf("docker %s: %v: %s", strings.Join(full, " "), err, out)
		}
	}
	for _, name := range start {
		if out, err := exec.Command(docker, "start", prefix+name).CombinedOutput(); err != nil {
			t.Fatalf("docker start %s: %v: %s", prefix+name, err, out)
		}
	}
}

// hardened is the control container's configuration: it must pass every
// container check.
var hardened = []string{"--user", "65534:65534", "--read-only", "--memory", "64m", "--cpu-shares", "512",
	"--pids-limit", "64", "--security-opt", "no-new-privileges", "--restart", "on-failure:5",
	"--cap-drop", "ALL", "--health-cmd", "true", "--network", "none"}

func TestRuntimeChecksRealEngine(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.Root(t)
	prefix := fmt.Sprintf("ctsec-bench-%d-", os.Getpid())

	// Shared propagation needs a shared mount as its source.
	shared := t.TempDir()
	if out, err := exec.Command("mount", "--bind", shared, shared).CombinedOutput(); err != nil {
		t.Fatalf("mount --bind: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", shared).Run() })
	if out, err := exec.Command("mount", "--make-shared", shared).CombinedOutput(); err != nil {
		t.Fatalf("mount --make-shared: %v: %s", err, out)
	}

	specs := map[string][]string{
		"privileged":  {"--privileged"},
		"hostnet":     {"--network", "host"},
		"hostpid":     {"--pid", "host"},
		"hostipc":     {"--ipc", "host"},
		"hostuts":     {"--uts", "host"},
		"hostuserns":  {"--userns", "host"},
		"capadd":      {"--cap-add", "SYS_ADMIN"},
		"dockersock":  {"-v", "/var/run/docker.sock:/var/run/docker.sock"},
		"etcrw":       {"-v", "/etc:/hostetc"},
		"etcro":       {"-v", "/etc:/hostetc:ro"},
		"defaults":    {},
		"seccomp":     {"--security-opt", "seccomp=unconfined"},
		"anyaddr":     {"-p", "0.0.0.0:18080:80", "-p", "[::]:18081:81"},
		"lowport":     {"-p", "127.0.0.1:80:80"},
		"always":      {"--restart", "always"},
		"propagation": {"--mount", "type=bind,source=" + shared + ",target=/mnt,bind-propagation=shared"},
		"control":     hardened,
	}
	createContainers(t, docker, prefix, specs, "control")

	c, err := engine.Connect("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var calls, last, total int
	snap, err := Collect(ctx, c, Options{Root: "/", Progress: func(done, all int) { calls++; last, total = done, all }})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || last != total || total < len(specs) {
		t.Errorf("progress: %d calls, last %d of %d", calls, last, total)
	}
	results, _ := Run(snap, Selection{IncludeContainers: []string{prefix + "*"}})
	if n := len(filterContainers(snap, prefix)); n != len(specs) {
		t.Fatalf("snapshot has %d of our %d containers (stopped ones must be included)", n, len(specs))
	}

	want := map[string][]string{
		"privileged":  {"5.5", "5.22"},
		"hostnet":     {"5.10"},
		"hostpid":     {"5.16"},
		"hostipc":     {"5.17"},
		"hostuts":     {"5.21"},
		"hostuserns":  {"5.31"},
		"capadd":      {"5.4"},
		"dockersock":  {"5.32"},
		"etcrw":       {"5.6"},
		"etcro":       {"5.6"},
		"defaults":    {"4.1", "5.11", "5.12", "5.13", "5.26", "5.27", "5.29"},
		"seccomp":     {"5.22"},
		"anyaddr":     {"5.14"},
		"lowport":     {"5.8"},
		"always":      {"5.15"},
		"propagation": {"5.20"},
	}
	for name, ids := range want {
		for _, id := range ids {
			if !flags(results, id, prefix+name) {
				t.Errorf("check %s did not flag container %s", id, name)
			}
		}
	}
	// The control container passes every container check.
	for _, r := range results {
		for _, it := range r.Items {
			if it.Target == prefix+"control" && r.Status == Fail {
				t.Errorf("control container failed %s: %s", r.ID, it.Detail)
			}
		}
	}
	// Processes of running containers are read (5.7): the control runs sleep.
	for _, c := range snap.Containers {
		if c.DisplayName() == prefix+"control" && (len(c.Processes) == 0 || c.Processes[0].Name != "sleep") {
			t.Errorf("control container processes = %q", c.Processes)
		}
	}
	// Without the host's /proc (a remote engine) they come from the engine's top.
	remote, err := Collect(ctx, c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range remote.Containers {
		if c.DisplayName() == prefix+"control" && (len(c.Processes) == 0 || c.Processes[0].Name != "sleep") {
			t.Errorf("control container processes from top = %q", c.Processes)
		}
	}
	// A read-only mount of /etc is reported, less severely than a writable one.
	if sev := itemSeverity(results, "5.6", prefix+"etcro"); sev != report.Medium {
		t.Errorf("5.6 read-only /etc severity = %v, want medium", sev)
	}
	if sev := itemSeverity(results, "5.6", prefix+"etcrw"); sev != report.High {
		t.Errorf("5.6 read-write /etc severity = %v, want high", sev)
	}
	// [::] is every interface too.
	for _, r := range results {
		if r.ID == "5.14" {
			for _, it := range r.Items {
				if it.Target == prefix+"anyaddr" && !strings.Contains(it.Detail, "::") {
					t.Errorf("5.14 missed the [::] binding: %s", it.Detail)
				}
			}
		}
	}
}

func filterContainers(s *Snapshot, prefix string) []Container {
	var out []Container
	for _, c := range s.Containers {
		if strings.HasPrefix(c.DisplayName(), prefix) {
			out = append(out, c)
		}
	}
	return out
}

func flags(results []Result, id, target string) bool {
	for _, r := range results {
		if r.ID != id || r.Status != Fail {
			continue
		}
		for _, it := range r.Items {
			if it.Target == target {
				return true
			}
		}
	}
	return false
}

func itemSeverity(results []Result, id, target string) report.Severity {
	for _, f := range Findings(results) {
		if f.Rule == RuleID(id) && (f.Target == target || f.File == target) {
			return f.Severity
		}
	}
	return report.None
}
