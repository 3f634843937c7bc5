package seccomp

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
	"golang.org/x/sys/unix"
)

// nativeAction is libseccomp's C value of an action (SCMP_ACT_*).
func nativeAction(act string, errnoRet *uint) uint32 {
	ret := uint32(errnoOf(errnoRet))
	switch act {
	case ActAllow:
		return unix.SECCOMP_RET_ALLOW
	case ActErrno:
		return unix.SECCOMP_RET_ERRNO | ret
	case ActTrace:
		return unix.SECCOMP_RET_TRACE | ret
	case ActLog:
		return unix.SECCOMP_RET_LOG
	case ActTrap:
		return unix.SECCOMP_RET_TRAP
	case ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS
	case ActNotify:
		return unix.SECCOMP_RET_USER_NOTIF
	}
	return unix.SECCOMP_RET_KILL_THREAD
}

// TestAnchorRules writes the rules of Docker's default, as moby resolves
// them for an amd64 host with Docker's capabilities, in the form the C
// anchor (testdata/anchor/export.c) reads: the same rules ctsec compiles,
// for libseccomp alone (scripts/seccomp-perf.sh). -update rewrites it.
func TestAnchorRules(t *testing.T) {
	e := builtin(t, "default").Resolve(amd64Target)
	var b bytes.Buffer
	fmt.Fprintf(&b, "default %x\n", nativeAction(e.DefaultAction, e.DefaultErrnoRet))
	for _, a := range e.Arches {
		fmt.Fprintf(&b, "arch %s\n", map[string]string{"amd64": "x86_64", "x86": "x86", "x32": "x32"}[a])
	}
	for _, r := range e.Rules {
		act := nativeAction(r.Action, r.ErrnoRet)
		if r.Action == e.DefaultAction && errnoOf(r.ErrnoRet) == errnoOf(e.DefaultErrnoRet) {
			continue // runc skips it
		}
		conds, split, err := conditions(r.Args)
		if err != nil {
			t.Fatal(err)
		}
		groups := [][]int{{}}
		for i := range conds {
			if split {
				groups = append(groups, []int{i})
			} else {
				groups[0] = append(groups[0], i)
			}
		}
		if split {
			groups = groups[1:]
		}
		for _, name := range r.Names {
			for _, g := range groups {
				fmt.Fprintf(&b, "rule %x %s %d\n", act, name, len(g))
				for _, i := range g {
					c := conds[i]
					fmt.Fprintf(&b, "cond %d %d %x %x\n", c.Argument, c.Op, c.Operand1, c.Operand2)
				}
			}
		}
	}
	testenv.Golden(t, "testdata/anchor/default-amd64.rules", b.Bytes())
}

// TestAnchorsCompileAsCtsec: the C anchor and its Go twin, given the rules
// of TestAnchorRules, export the very program ctsec compiles for them (its
// filter part, after runc's stub), for both runc layouts. Without this the
// timings of scripts/seccomp-perf.sh would compare different work.
func TestAnchorsCompileAsCtsec(t *testing.T) {
	cc, goTool := testenv.Tool(t, "cc"), testenv.Tool(t, "go")
	pkgConfig := testenv.Tool(t, "pkg-config")
	flags, err := exec.Command(pkgConfig, "--cflags", "--libs", "libseccomp").Output()
	if err != nil {
		t.Fatalf("pkg-config libseccomp: %v", err)
	}
	dir := t.TempDir()
	export, goexport := filepath.Join(dir, "export"), filepath.Join(dir, "goexport")
	build := [][]string{
		append([]string{cc, "-O2", "-o", export, "testdata/anchor/export.c"}, strings.Fields(string(flags))...),
		{goTool, "build", "-o", goexport, "./testdata/anchor/goexport"},
	}
	for _, args := range build {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, v := range []string{"1.1.5", "1.2.0"} {
		r, _ := ParseRuncVersion(v)
		tg := amd64Target
		tg.Runc = r
		c, err := builtin(t, "default").Resolve(tg).Compile()
		if err != nil {
			t.Fatal(err)
		}
		want := c.BPF[len(c.BPF)-8*c.Filter:]
		for _, bin := range []string{export, goexport} {
			out := filepath.Join(dir, filepath.Base(bin)+"-"+v+".bpf")
			cmd := exec.Command(bin, "testdata/anchor/default-amd64.rules", strconv.Itoa(c.Optimize), out)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", bin, err, msg)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("runc %s: %s exported %d instructions, ctsec's filter has %d (or differs)",
					v, filepath.Base(bin), len(got)/8, c.Filter)
			}
		}
	}
}
