package record

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// straceSyscalls runs args under `strace -f -c` and returns the calls per
// syscall name of its summary table.
func straceSyscalls(t *testing.T, args []string) map[string]int {
	t.Helper()
	strace := testenv.Tool(t, "strace")
	out := filepath.Join(t.TempDir(), "strace.txt")
	cmd := exec.Command(strace, append([]string{"-f", "-c", "-o", out}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("strace: %v\n%s", err, b)
	}
	return parseStraceSummary(t, out)
}

// parseStraceSummary reads strace -c's table: "% time, seconds,
// usecs/call, calls, [errors], syscall" rows between the header and "total".
func parseStraceSummary(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || strings.HasPrefix(fields[0], "---") || fields[0] == "%" {
			continue
		}
		name := fields[len(fields)-1]
		if name == "total" {
			continue
		}
		calls, err := strconv.Atoi(fields[3])
		if err != nil {
			t.Fatalf("strace summary row %q: %v", sc.Text(), err)
		}
		set[name] += calls
	}
	if len(set) == 0 {
		t.Fatalf("no syscalls in strace summary %s", path)
	}
	return set
}

// TestRecorderMissesNothingStraceSees compares the recorder with strace -f
// -c on the same workload: every syscall strace counts is in the recording
// (observed, or allowed implicitly by the recording filter).
func TestRecorderMissesNothingStraceSees(t *testing.T) {
	testenv.Root(t)
	workloads := map[string][]string{
		"busybox shell": busyboxWorkload(t, t.TempDir()),
		"coreutils":     {"/bin/sh", "-c", "ls -la /etc >/dev/null; sort /etc/passwd | head -n 3 >/dev/null; date >/dev/null"},
	}
	for name, args := range workloads {
		t.Run(name, func(t *testing.T) {
			want := straceSyscalls(t, args)
			obs := record(t, args).Observation
			got := obs.Names()
			for _, s := range obs.Implicit {
				got[s.Name] = true
			}
			var missing, extra []string
			for s := range want {
				if !got[s] {
					missing = append(missing, s)
				}
			}
			for s := range obs.Names() {
				if want[s] == 0 {
					extra = append(extra, s)
				}
			}
			sort.Strings(missing)
			sort.Strings(extra)
			if len(missing) > 0 {
				t.Errorf("recorder missed %v that strace saw (strace %d, recorder %d)", missing, len(want), len(obs.Names()))
			}
			t.Logf("strace %d syscalls, recorder %d; recorder only: %v", len(want), len(obs.Names()), extra)
		})
	}
}

// TestRecorderCountsMatchStrace: on a deterministic workload the recorder
// counts each syscall exactly as often as strace does.
func TestRecorderCountsMatchStrace(t *testing.T) {
	testenv.Root(t)
	busybox := testenv.Tool(t, "busybox")
	args := []string{busybox, "dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=2000"}
	want := straceSyscalls(t, args)
	got := map[string]uint64{}
	for _, s := range record(t, args).Observation.Syscalls {
		got[s.Name] += s.Count
	}
	for _, name := range []string{"read", "write", "execve", "openat", "close"} {
		if want[name] == 0 || got[name] != uint64(want[name]) {
			t.Errorf("%s: recorder %d, strace %d", name, got[name], want[name])
		}
	}
}
