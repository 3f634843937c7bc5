package seccomp

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCompileMatchesKernel is the proof of the count: for each profile a
// container is started by the real dockerd and runc, the filter its PID 1
// holds is read back with PTRACE_SECCOMP_GET_FILTER, and it must be the
// program Compile built for the detected runc, byte for byte (up to the
// order of the stub's sections, which runc takes from a Go map). Counting
// libseccomp's filter alone, at runc 1.2's binary-tree setting, reported
// 1,246 instructions for Docker's default where runc 1.1.5's kernel program
// has 1,015.
func TestCompileMatchesKernel(t *testing.T) {
	testenv.Root(t)
	docker := testenv.Docker(t)
	image := testenv.Busybox(t)
	r, err := DetectRunc(context.Background())
	if err != nil {
		testenv.Unavailable(t, "runc: %v", err)
	}
	target := DefaultTarget()
	target.Runc = r
	profiles := map[string]string{
		"default": "", "strict": "", "runtime": "",
		// An allowing default gets no stub.
		"allow": `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kexec_load","mount"],"action":"SCMP_ACT_ERRNO"}]}`,
	}
	for name, src := range profiles {
		t.Run(name, func(t *testing.T) {
			var p *Profile
			if src == "" {
				p = builtin(t, name)
				data, _ := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "profiles", "seccomp", name+".json"))
				src = string(data)
			} else {
				var err error
				if p, _, err = Parse(name+".json", []byte(src)); err != nil {
					t.Fatal(err)
				}
			}
			c, err := p.Resolve(target).Compile()
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), name+".json")
			if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			// cat blocks reading the open stdin: alive under every profile.
			pid := startContainer(t, docker, "-i", "--security-opt", "seccomp="+file, image, "cat")
			filters, err := KernelFilters(pid)
			if err != nil {
				t.Fatal(err)
			}
			if len(filters) != 1 {
				t.Fatalf("PID 1 holds %d filters, want runc's one", len(filters))
			}
			got := len(filters[0]) / 8
			if got != c.Instructions || !c.Matches(filters[0]) {
				t.Errorf("kernel holds %d instructions, ctsec built %d (%d stub + %d filter) for %s; same program: %v",
					got, c.Instructions, c.Stub, c.Filter, c.Runc, c.Matches(filters[0]))
			}
			if !c.Matches(filters[0]) {
				diffProg(t, filters[0], c.BPF)
			}
			if name == "allow" && c.Stub != 0 || name != "allow" && c.Stub == 0 {
				t.Errorf("stub of %d instructions", c.Stub)
			}
			t.Logf("%s: %d instructions (%d stub) as %s loads it", name, c.Instructions, c.Stub, c.Runc)
		})
	}
}

// TestCompileMatchesKernelRunc: runc means to skip its stub for a default
// of ENOSYS but compares defaultErrnoRet with the whole action value, so
// the stub is there; dockerd 20.10 drops defaultErrnoRet, so this case goes
// to runc directly.
func TestCompileMatchesKernelRunc(t *testing.T) {
	testenv.Root(t)
	runc := testenv.Tool(t, "runc")
	r, err := DetectRunc(context.Background())
	if err != nil {
		testenv.Unavailable(t, "runc: %v", err)
	}
	target := DefaultTarget()
	target.Runc = r
	src := `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]}],` +
		`"syscalls":[{"names":` + jsonList(append(RuncStartNeeds(false), append(commandNeeds, "clock_nanosleep", "nanosleep")...)) + `,"action":"SCMP_ACT_ALLOW"}]}`
	p, _, err := Parse("errno38.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Resolve(target).Compile()
	if err != nil {
		t.Fatal(err)
	}
	bundle := testenv.RuncBundle(t, runc, []string{"/bin/busybox", "sleep", "60"}, func(spec *specs.Spec) {
		if spec.Linux.Seccomp, err = mobyseccomp.LoadProfile(src, spec); err != nil {
			t.Fatalf("moby LoadProfile: %v", err)
		}
	})
	root := filepath.Join(t.TempDir(), "runc")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id := "ctsec-kernel-filter"
	// The container's stdio stays /dev/null: a pipe would be held open by
	// the detached process.
	if err := exec.CommandContext(ctx, runc, "--root", root, "run", "-d", "--bundle", bundle, id).Run(); err != nil {
		t.Fatalf("runc run -d: %v", err)
	}
	t.Cleanup(func() { exec.Command(runc, "--root", root, "delete", "--force", id).Run() })
	out, err := exec.CommandContext(ctx, runc, "--root", root, "state", id).Output()
	if err != nil {
		t.Fatalf("runc state: %v", err)
	}
	var state struct{ Pid int }
	if err := json.Unmarshal(out, &state); err != nil || state.Pid <= 0 {
		t.Fatalf("runc state: %v %s", err, out)
	}
	filters, err := KernelFilters(state.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(filters) != 1 || c.Stub == 0 || !c.Matches(filters[0]) {
		t.Errorf("kernel holds %d filters; ctsec built %d instructions (%d stub)", len(filters), c.Instructions, c.Stub)
		if len(filters) > 0 {
			diffProg(t, filters[0], c.BPF)
		}
	}
}

// startContainer runs a detached container, removed when the test ends, and
// returns its PID 1 on the host.
func startContainer(t *testing.T, docker string, args ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, docker, append([]string{"run", "-d", "--rm"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	id := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command(docker, "rm", "-f", id).Run() })
	out, err = exec.CommandContext(ctx, docker, "inspect", "-f", "{{.State.Pid}}", id).Output()
	if err != nil {
		t.Fatalf("docker inspect: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid <= 0 {
		t.Fatalf("container %s has PID %q", id, out)
	}
	return pid
}

func diffProg(t *testing.T, a, b []byte) {
	pa, _ := parseBPF(a)
	pb, _ := parseBPF(b)
	n := 0
	for i := range pa {
		if i < len(pb) && pa[i] != pb[i] {
			t.Logf("%4d kernel %+v ctsec %+v", i, pa[i], pb[i])
			if n++; n > 12 {
				return
			}
		}
	}
}
