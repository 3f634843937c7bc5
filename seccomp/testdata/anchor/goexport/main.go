// goexport is export.c in Go: the same rules file, the same libseccomp
// calls through libseccomp-golang, and nothing else. It is the floor of any
// Go program that compiles with libseccomp, start-up included, beside which
// scripts/seccomp-perf.sh puts ctsec and the C anchor.
//
//	go build -o goexport ./seccomp/testdata/anchor/goexport
//	./goexport default-amd64.rules OPTIMIZE [OUT]   # the BPF to OUT, /dev/null by default
package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

func main() {
	if len(os.Args) != 3 && len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: goexport FILE.rules OPTIMIZE [OUT]")
		os.Exit(2)
	}
	out := os.DevNull
	if len(os.Args) == 4 {
		out = os.Args[3]
	}
	if err := run(os.Args[1], os.Args[2] == "2", out); err != nil {
		fmt.Fprintln(os.Stderr, "goexport:", err)
		os.Exit(2)
	}
}

func run(path string, tree bool, outPath string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	sc := bufio.NewScanner(in)
	line := 0
	next := func() []string { line++; return strings.Fields(sc.Text()) }
	// bad names the line a malformed rules file breaks at, as export.c would stop there.
	bad := func(err error) error { return fmt.Errorf("%s:%d: %w", path, line, err) }
	var f *libseccomp.ScmpFilter
	for sc.Scan() {
		w := next()
		if f == nil && (len(w) == 0 || w[0] != "default") {
			return bad(errors.New(`the first line must be "default ACTION"`))
		}
		switch {
		case len(w) == 2 && w[0] == "default":
			act, err := strconv.ParseUint(w[1], 16, 32)
			if err != nil {
				return bad(err)
			}
			if f, err = libseccomp.NewFilter(action(act)); err != nil {
				return bad(err)
			}
			defer f.Release()
			if err := f.SetNoNewPrivsBit(false); err != nil {
				return err
			}
			if tree {
				if err := f.SetOptimize(2); err != nil {
					return err
				}
			}
		case len(w) == 2 && w[0] == "arch":
			a, err := libseccomp.GetArchFromString(w[1])
			if err == nil {
				err = f.AddArch(a)
			}
			if err != nil {
				return bad(fmt.Errorf("arch %s: %w", w[1], err))
			}
		case len(w) == 4 && w[0] == "rule":
			act, err := strconv.ParseUint(w[1], 16, 32)
			if err != nil {
				return bad(err)
			}
			n, err := strconv.ParseUint(w[3], 10, 3)
			if err != nil || n > 6 {
				return bad(fmt.Errorf("%s: %q conditions", w[2], w[3]))
			}
			var conds []libseccomp.ScmpCondition
			for range n {
				if !sc.Scan() {
					return bad(fmt.Errorf("%s: a cond line is missing", w[2]))
				}
				cond, err := condition(next())
				if err != nil {
					return bad(err)
				}
				conds = append(conds, cond)
			}
			call, err := libseccomp.GetSyscallFromName(w[2])
			if err != nil {
				continue // runc drops names libseccomp cannot resolve
			}
			if err := f.AddRuleConditional(call, action(act), conds); err != nil {
				return bad(fmt.Errorf("%s: %w", w[2], err))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	out, err := os.Create(outPath)
	if err != nil {
		return err
	}
	if err := f.ExportBPF(out); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// condition reads "cond ARG OP DATUM_A DATUM_B" (OP in the numbers of C's
// enum scmp_compare, which libseccomp-golang's ScmpCompareOp shares).
func condition(c []string) (libseccomp.ScmpCondition, error) {
	if len(c) != 5 || c[0] != "cond" {
		return libseccomp.ScmpCondition{}, fmt.Errorf("not a cond line: %q", strings.Join(c, " "))
	}
	arg, err1 := strconv.ParseUint(c[1], 10, 32)
	op, err2 := strconv.ParseUint(c[2], 10, 8)
	a, err3 := strconv.ParseUint(c[3], 16, 64)
	b, err4 := strconv.ParseUint(c[4], 16, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return libseccomp.ScmpCondition{}, err
	}
	return libseccomp.MakeCondition(uint(arg), libseccomp.ScmpCompareOp(op), a, b)
}

// action is libseccomp-golang's value for one of libseccomp's own.
func action(raw uint64) libseccomp.ScmpAction {
	data := int16(raw & 0xffff)
	switch raw &^ 0xffff {
	case 0x7fff0000:
		return libseccomp.ActAllow
	case 0x00050000:
		return libseccomp.ActErrno.SetReturnCode(data)
	case 0x7ff00000:
		return libseccomp.ActTrace.SetReturnCode(data)
	case 0x00030000:
		return libseccomp.ActTrap
	case 0x7ffc0000:
		return libseccomp.ActLog
	case 0x7fc00000:
		return libseccomp.ActNotify
	case 0x80000000:
		return libseccomp.ActKillProcess
	case 0:
		return libseccomp.ActKillThread
	}
	return libseccomp.ActInvalid
}
