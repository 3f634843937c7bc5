package seccomp

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

// allowList is an ERRNO-default profile over amd64+x86+x32 allowing names,
// with clone3 answered ENOSYS.
func allowList(names []string, extra ...string) string {
	all := slices.Concat(names, extra)
	slices.Sort(all)
	all = slices.Compact(all)
	b, _ := json.Marshal(all)
	return `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],` +
		`"syscalls":[{"names":` + string(b) + `,"action":"SCMP_ACT_ALLOW"},{"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}`
}

func runcStartFinding(t *testing.T, src string) *report.Finding {
	t.Helper()
	for _, f := range lintSrc(t, src) {
		if f.Rule == LintRuncStart {
			return &f
		}
	}
	return nil
}

func TestLintRuncStart(t *testing.T) {
	all := RuncStartNeeds(false)
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(n string) bool { return slices.Contains(drop, n) })
	}
	tests := []struct {
		name  string
		src   string
		names []string // the finding names exactly these; nil: no finding
		nnp   bool     // the finding says no-new-privileges would start it
	}{
		{"everything runc needs", allowList(all), nil, false},
		{"no fstatfs", allowList(without("fstatfs")), []string{"fstatfs"}, false},
		{"no capget, setuid", allowList(without("capget", "setuid")), []string{"capget", "setuid"}, true},
		{"no fstatfs, capget", allowList(without("fstatfs", "capget")), []string{"fstatfs", "capget"}, false},
		{"small allow-list", allowList([]string{"read", "write"}), without("read", "write"), false},
		{"default allow", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO"}]}`, nil, false},
		{"denied by a rule", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["fstatfs"],"action":"SCMP_ACT_ERRNO"}]}`, []string{"fstatfs"}, false},
		{"notified", `{"defaultAction":"SCMP_ACT_ERRNO","listenerPath":"/run/a.sock","syscalls":[{"names":` + jsonList(without("fstatfs")) + `,"action":"SCMP_ACT_ALLOW"},{"names":["fstatfs"],"action":"SCMP_ACT_NOTIFY"}]}`, nil, false},
		{"conditional allow", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":` + jsonList(without("prctl")) + `,"action":"SCMP_ACT_ALLOW"},{"names":["prctl"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_NE"}]}]}`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := runcStartFinding(t, tt.src)
			if tt.names == nil {
				if f != nil {
					t.Fatalf("unexpected finding: %s", f.Message)
				}
				return
			}
			if f == nil {
				t.Fatalf("no %s finding, want one naming %v", LintRuncStart, tt.names)
			}
			if f.Severity != report.Medium || f.Line != 1 {
				t.Errorf("severity %s line %d", f.Severity, f.Line)
			}
			got := strings.Split(strings.TrimSuffix(strings.TrimPrefix(regexp.MustCompile(`allow ([a-z0-9_, ]+), or`).FindString(f.Fix), "allow "), ", or"), ", ")
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.names))
			if !slices.Equal(got, want) {
				t.Errorf("fix names %v, want %v (%s)", got, want, f.Fix)
			}
			if strings.Contains(f.Message, "unless it runs with no-new-privileges") != tt.nnp {
				t.Errorf("no-new-privileges wording wrong: %s", f.Message)
			}
		})
	}
}

func jsonList(names []string) string {
	b, _ := json.Marshal(names)
	return string(b)
}

// commandNeeds is what the container's command (static busybox true) needs
// after runc has executed it: the TLS set-up and glibc's start-up.
var commandNeeds = []string{"arch_prctl", "mprotect", "brk", "set_tid_address", "exit_group", "rt_sigreturn", "munmap", "mmap"}

// TestRuncStartNeeds proves the lint's list on the real engine: a container
// starts under an allow-list of exactly RuncStartNeeds plus its command's
// own needs, the lint is silent about it, and without any one of the names
// the container does not start and the lint names that call. With
// no-new-privileges the smaller list is enough and each of its names is
// needed too.
func TestRuncStartNeeds(t *testing.T) {
	docker := testenv.Docker(t)
	image := testenv.Busybox(t)
	if v := runcVersion(t); v != "1.1.5" {
		t.Skipf("the list is measured for runc 1.1.5; this host has runc %s", v)
	}
	dir := t.TempDir()
	start := func(t *testing.T, src string, nnp bool) (bool, string) {
		t.Helper()
		file := filepath.Join(dir, "p.json")
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"run", "--rm", "--security-opt", "seccomp=" + file}
		if nnp {
			args = append(args, "--security-opt", "no-new-privileges")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, docker, append(args, image, "true")...).CombinedOutput()
		return err == nil, string(out)
	}
	for _, nnp := range []bool{false, true} {
		needs := RuncStartNeeds(nnp)
		src := allowList(needs, commandNeeds...)
		if ok, out := start(t, src, nnp); !ok {
			t.Fatalf("no-new-privileges %v: the container does not start with every listed call allowed:\n%s", nnp, out)
		}
		if f := runcStartFinding(t, src); f != nil && !nnp {
			t.Errorf("lint warns about a profile runc starts under: %s", f.Message)
		}
		for _, name := range needs {
			src := allowList(slices.DeleteFunc(slices.Clone(needs), func(n string) bool { return n == name }), commandNeeds...)
			if ok, _ := start(t, src, nnp); ok {
				t.Errorf("no-new-privileges %v: the container starts without %s; the list is too long", nnp, name)
			}
			if f := runcStartFinding(t, src); f == nil || !strings.Contains(f.Fix, name) {
				t.Errorf("no-new-privileges %v: lint does not name %s", nnp, name)
			}
		}
	}
}

// runcVersion is the installed runc's version ("1.1.5" for "1.1.5+ds1").
func runcVersion(t *testing.T) string {
	runc := testenv.Tool(t, "runc")
	out, err := exec.Command(runc, "--version").Output()
	if err != nil {
		t.Fatalf("runc --version: %v", err)
	}
	m := regexp.MustCompile(`runc version (\d+\.\d+\.\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("runc --version: %q", out)
	}
	return string(m[1])
}
