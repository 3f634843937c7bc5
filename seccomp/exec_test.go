package seccomp

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

func compileSrc(t *testing.T, src string, target Target) *Compiled {
	t.Helper()
	p, schema, err := Parse("e.json", []byte(src))
	if err != nil || len(schema) != 0 {
		t.Fatal(err, schema)
	}
	c, err := p.Resolve(target).Compile()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func run(t *testing.T, c *Compiled, argv ...string) (ExecResult, string) {
	t.Helper()
	var out bytes.Buffer
	res, err := Exec(context.Background(), c, argv, ExecOptions{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	return res, out.String()
}

// TestExecDeniesWithProfileErrno runs real commands under real filters: a
// denied syscall fails with the errno the profile names, the rest works.
func TestExecDeniesWithProfileErrno(t *testing.T) {
	bb := testenv.Tool(t, "busybox")
	dir := t.TempDir()
	// mkdir answered with ENOSYS (38), everything else allowed.
	c := compileSrc(t, `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}`, amd64Target)
	res, out := run(t, c, bb, "mkdir", filepath.Join(dir, "x"))
	if res.Code == 0 || !strings.Contains(out, "Function not implemented") {
		t.Errorf("mkdir under ENOSYS rule: code %d, %q", res.Code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("directory was created despite the filter")
	}
	res, out = run(t, c, bb, "touch", filepath.Join(dir, "y"))
	if res.Code != 0 {
		t.Errorf("touch (allowed): code %d %q", res.Code, out)
	}
	// The same command without the rule works: the filter made the difference.
	open := compileSrc(t, `{"defaultAction":"SCMP_ACT_ALLOW"}`, amd64Target)
	if res, out := run(t, open, bb, "mkdir", filepath.Join(dir, "x")); res.Code != 0 {
		t.Errorf("mkdir unfiltered: %d %q", res.Code, out)
	}
}

// TestExecDockerDefault: under Docker's default with Docker's capabilities,
// unshare is denied (EPERM) even for root, as inside a container.
func TestExecDockerDefault(t *testing.T) {
	testenv.Root(t)
	bb := testenv.Tool(t, "busybox")
	c, err := builtin(t, "default").Resolve(DefaultTarget()).Compile()
	if err != nil {
		t.Fatal(err)
	}
	res, out := run(t, c, bb, "unshare", "-m", "true")
	if res.Code == 0 || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("unshare under default: code %d %q", res.Code, out)
	}
	res, out = run(t, c, bb, "sh", "-c", "echo ok")
	if res.Code != 0 || strings.TrimSpace(out) != "ok" {
		t.Errorf("echo under default: code %d %q", res.Code, out)
	}
}

// TestExecFlags: a profile's seccomp(2) flags reach the helper.
func TestExecFlags(t *testing.T) {
	bb := testenv.Tool(t, "busybox")
	c := compileSrc(t, `{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW"],"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`, amd64Target)
	var out bytes.Buffer
	res, err := Exec(context.Background(), c, []string{bb, "mkdir", filepath.Join(t.TempDir(), "x")}, ExecOptions{Stdout: &out, Stderr: &out})
	if err != nil || res.Code == 0 || !strings.Contains(out.String(), "Operation not permitted") {
		t.Errorf("%v %+v %q", err, res, out.String())
	}
}

func TestExecKillAndMissing(t *testing.T) {
	bb := testenv.Tool(t, "busybox")
	c := compileSrc(t, `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_KILL_PROCESS"}]}`, amd64Target)
	res, _ := run(t, c, bb, "mkdir", filepath.Join(t.TempDir(), "k"))
	if res.Signal != syscall.SIGSYS || res.Code != 128+int(syscall.SIGSYS) {
		t.Errorf("kill: %+v", res)
	}
	if _, err := Exec(context.Background(), c, []string{"/nonexistent/cmd"}, ExecOptions{}); err == nil {
		t.Error("missing command ran")
	}
	for _, src := range []string{
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["execve"],"action":"SCMP_ACT_ERRNO"}]}`,
		`{"defaultAction":"SCMP_ACT_KILL"}`,
		// No tracer and no agent under exec: the kernel would fail execve with ENOSYS.
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["execve"],"action":"SCMP_ACT_TRACE"}]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/x.sock","syscalls":[{"names":["execve"],"action":"SCMP_ACT_NOTIFY"}]}`,
	} {
		_, err := Exec(context.Background(), compileSrc(t, src, amd64Target), []string{bb, "true"}, ExecOptions{})
		if err == nil || !strings.Contains(err.Error(), "no command can be started") {
			t.Errorf("%s: %v", src, err)
		}
	}
	// execve allowed but the command's next syscall killed: SIGSYS, no hang.
	c = compileSrc(t, `{"defaultAction":"SCMP_ACT_KILL_PROCESS","syscalls":[{"names":["execve"],"action":"SCMP_ACT_ALLOW"}]}`, amd64Target)
	if res, _ := run(t, c, bb, "true"); res.Signal != syscall.SIGSYS {
		t.Errorf("kill-process default: %+v", res)
	}
}

// TestExecNothingBetweenFilterAndExec: a profile that kills on anything but
// the syscalls of `busybox true` itself runs it every time, so the helper
// makes no syscall (futex, mmap, write of its Go runtime) between loading
// the filter and execve. Repeated because such a call would be timing-bound.
func TestExecNothingBetweenFilterAndExec(t *testing.T) {
	bb := testenv.Tool(t, "busybox")
	// strace -f busybox true (static busybox on Debian 12), plus execve.
	c := compileSrc(t, `{"defaultAction":"SCMP_ACT_KILL_PROCESS","syscalls":[{"names":["execve","arch_prctl","brk","exit_group","getrandom","getuid","mprotect","prctl","prlimit64","readlink","rseq","set_robust_list","set_tid_address"],"action":"SCMP_ACT_ALLOW"}]}`, amd64Target)
	for i := range 30 {
		if res, out := run(t, c, bb, "true"); res.Code != 0 {
			t.Fatalf("run %d: %+v %q", i, res, out)
		}
	}
	// The same profile without one of the command's syscalls kills it: the
	// filter is really in force for the command.
	c = compileSrc(t, `{"defaultAction":"SCMP_ACT_KILL_PROCESS","syscalls":[{"names":["execve","arch_prctl","brk","exit_group","getrandom","getuid","mprotect","prctl","prlimit64","readlink","rseq","set_robust_list"],"action":"SCMP_ACT_ALLOW"}]}`, amd64Target)
	if res, _ := run(t, c, bb, "true"); res.Signal != syscall.SIGSYS {
		t.Errorf("without set_tid_address: %+v", res)
	}
}

// The helper runs with asynchronous preemption off, but the command gets the
// caller's environment back exactly: GODEBUG as it was, or none.
func TestExecKeepsTheCallersGODEBUG(t *testing.T) {
	bb := testenv.Tool(t, "busybox")
	c := compileSrc(t, `{"defaultAction":"SCMP_ACT_ALLOW"}`, amd64Target)
	t.Setenv("GODEBUG", "") // restored after the test, whatever the cases do
	for _, tt := range []struct {
		set  bool
		val  string
		want string
	}{{false, "", ""}, {true, "", "GODEBUG=\n"}, {true, "madvdontneed=1", "GODEBUG=madvdontneed=1\n"}} {
		if tt.set {
			t.Setenv("GODEBUG", tt.val)
		} else {
			os.Unsetenv("GODEBUG")
		}
		var out bytes.Buffer
		if _, err := Exec(context.Background(), c, []string{bb, "sh", "-c", "env | grep ^GODEBUG= || true"}, ExecOptions{Stdout: &out}); err != nil {
			t.Fatal(err)
		}
		if out.String() != tt.want {
			t.Errorf("GODEBUG set=%v %q: the command saw %q, want %q", tt.set, tt.val, out.String(), tt.want)
		}
	}
}
