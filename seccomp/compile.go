package seccomp

import (
	"errors"
	"fmt"
	"io"
	"os"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// MaxInstructions is the kernel's limit on a classic BPF program
// (BPF_MAXINSNS); a longer seccomp filter cannot be loaded.
const MaxInstructions = 4096

// MaxConditionalRules bounds the (syscall, argument conditions) rules a
// profile may ask libseccomp to compile. Docker's default has 9; a profile
// near the limit is far past anything written by hand.
const MaxConditionalRules = 2048

// Compiled is a profile turned into the one BPF program runc loads.
type Compiled struct {
	Arches []string `json:"arches"`
	// Instructions is the program's length as the kernel holds it: runc's
	// ENOSYS stub plus libseccomp's filter.
	Instructions int `json:"instructions"`
	// Filter is libseccomp's part, Stub runc's.
	Filter int `json:"filter_instructions"`
	Stub   int `json:"stub_instructions"`
	// PerArch is, for each architecture, how many of the instructions a
	// syscall of that architecture can run through (Reachable).
	PerArch  map[string]int `json:"per_arch"`
	Optimize int            `json:"optimize"`
	// Runc is the runc whose loading the program reproduces.
	Runc Runc `json:"runc"`
	// Flags are the profile's seccomp(2) flags, applied when it is loaded.
	Flags []string `json:"flags,omitempty"`
	// Dropped lists names runc would skip because libseccomp cannot
	// resolve them (runc only logs this at debug level).
	Dropped []string `json:"dropped,omitempty"`
	BPF     []byte   `json:"-"`
	// execve is how the filter answers execve, which Exec needs to start
	// the command at all.
	execve string
	// sections are the stub's architecture sections, for Matches.
	sections []stubArch
}

// Compile builds the program for an effective profile the way e.Runc's
// InitSeccomp and patchbpf do: one libseccomp filter over all arches, rules
// whose action equals the default skipped, unknown names dropped, repeated
// argument indexes split into OR-ed rules, the binary tree above 32 names
// (runc 1.2 and later), and runc's -ENOSYS stub in front. One libseccomp
// build serves the count, the per-architecture figures and the program.
func (e *Effective) Compile() (*Compiled, error) {
	r := e.Runc.resolved()
	if len(e.Flags) > 0 && !r.flags() {
		return nil, fmt.Errorf("%s refuses a profile with flags (\"seccomp flags are not yet supported by runc\"): runc 1.2 added them", r)
	}
	var stub []unix.SockFilter
	var sections []stubArch
	if e.needsStub(r) {
		var err error
		if sections, err = e.lastSyscalls(r); err != nil {
			return nil, err
		}
		if stub, err = enosysStub(sections, sections, r); err != nil {
			return nil, err
		}
	}
	filter, err := e.build(r)
	if err != nil {
		return nil, err
	}
	defer filter.f.Release()
	raw, err := exportBPF(filter.f)
	if err != nil {
		return nil, err
	}
	prog, err := parseBPF(raw)
	if err != nil {
		return nil, err
	}
	full := append(stub, prog...)
	c := &Compiled{
		Arches: e.Arches, Instructions: len(full), Filter: len(prog), Stub: len(stub),
		PerArch: map[string]int{}, Optimize: filter.optimize, Runc: r,
		Dropped: filter.dropped, BPF: encodeBPF(full), Flags: e.Flags, execve: e.actionFor("execve"), sections: sections,
	}
	for _, a := range e.Arches {
		c.PerArch[a] = Reachable(full, a)
	}
	return c, nil
}

// PFC is libseccomp's pseudo-filter code for the profile: the compiled
// filter in a form people can read (which syscalls reach which action),
// without runc's stub.
func (e *Effective) PFC() ([]byte, error) {
	b, err := e.build(e.Runc.resolved())
	if err != nil {
		return nil, err
	}
	defer b.f.Release()
	return exportVia(func(f *os.File) error { return b.f.ExportPFC(f) })
}

// actionFor is the action a syscall gets when any rule naming it may allow
// it (conditions are not evaluated: the answer errs towards allowing).
func (e *Effective) actionFor(name string) string {
	act := ""
	for _, r := range e.Rules {
		if contains(r.Names, name) {
			if allows(r.Action) || r.Action == ActTrace || r.Action == ActNotify {
				return r.Action
			}
			if len(r.Args) == 0 && act == "" {
				act = r.Action
			}
		}
	}
	if act == "" {
		act = e.DefaultAction
	}
	return act
}

type builtFilter struct {
	f        *libseccomp.ScmpFilter
	optimize int
	dropped  []string
}

func (e *Effective) build(r Runc) (*builtFilter, error) {
	defAct, err := scmpAction(e.DefaultAction, e.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("defaultAction: %w", err)
	}
	f, err := libseccomp.NewFilter(defAct)
	if err != nil {
		return nil, fmt.Errorf("creating seccomp filter: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Release()
		}
	}()
	for _, a := range e.Arches {
		sa, err := libseccomp.GetArchFromString(a)
		if err != nil {
			return nil, fmt.Errorf("architecture %s: %w", a, err)
		}
		if err := f.AddArch(sa); err != nil {
			return nil, fmt.Errorf("architecture %s is not supported by this libseccomp: %w", a, err)
		}
	}
	// libseccomp always starts with the native arch; compiling for another
	// host (ctsec seccomp compile --arch arm64 on amd64) must drop it.
	if native, err := libseccomp.GetNativeArch(); err == nil && !contains(e.Arches, native.String()) {
		if err := f.RemoveArch(native); err != nil {
			return nil, fmt.Errorf("removing native architecture %s: %w", native, err)
		}
	}
	// ctsec (like runc) sets no_new_privs itself; the filter must not.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return nil, fmt.Errorf("clearing the no_new_privs attribute: %w", err)
	}
	for _, fl := range e.Flags {
		switch fl {
		case "SECCOMP_FILTER_FLAG_LOG":
			err = f.SetLogBit(true)
		case "SECCOMP_FILTER_FLAG_SPEC_ALLOW":
			err = f.SetSSB(true)
		case "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV":
			err = f.SetWaitKill(true)
		}
		if err != nil {
			return nil, fmt.Errorf("flag %s: %w", fl, err)
		}
	}
	b := &builtFilter{f: f, optimize: 1}
	names := 0
	for _, r := range e.Rules {
		names += len(r.Names)
	}
	if names > 32 && r.binaryTree() {
		if err := f.SetOptimize(2); err == nil {
			b.optimize = 2
		}
	}
	// libseccomp merges a rule it already has into the same program, but
	// pays for it in time that grows with the rules of that syscall: 32,000
	// repeats of one name took 10 s. Each distinct rule is added once.
	type ruleKey struct {
		call  libseccomp.ScmpSyscall
		act   libseccomp.ScmpAction
		conds string
	}
	// runc splits a rule that repeats an argument index into one rule per
	// condition.
	conditional := 0
	for _, r := range e.Rules {
		switch _, split, _ := conditions(r.Args); {
		case split:
			conditional += len(r.Names) * len(r.Args)
		case len(r.Args) > 0:
			conditional += len(r.Names)
		}
	}
	if conditional > MaxConditionalRules {
		return nil, fmt.Errorf("%d syscall rules with argument conditions, more than ctsec compiles (%d): libseccomp's time to build such a filter grows with the cube of their number (3,000 take 2 s here, 4,000 take 5 s) and the program would near the kernel's %d-instruction limit", conditional, MaxConditionalRules, MaxInstructions)
	}
	added := map[ruleKey]bool{}
	dropped := map[string]bool{}
	for _, r := range e.Rules {
		act, err := scmpAction(r.Action, r.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", r.Source, err)
		}
		if act == defAct {
			continue
		}
		conds, split, err := conditions(r.Args)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", r.Source, err)
		}
		condKey := fmt.Sprint(split, conds)
		for _, name := range r.Names {
			call, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				if !dropped[name] {
					dropped[name] = true
					b.dropped = append(b.dropped, name)
				}
				continue
			}
			k := ruleKey{call, act, condKey}
			if added[k] {
				continue
			}
			added[k] = true
			if err := addRule(f, call, act, conds, split); err != nil {
				return nil, fmt.Errorf("adding rule for %s: %w", name, err)
			}
		}
	}
	ok = true
	return b, nil
}

func addRule(f *libseccomp.ScmpFilter, call libseccomp.ScmpSyscall, act libseccomp.ScmpAction, conds []libseccomp.ScmpCondition, split bool) error {
	switch {
	case len(conds) == 0:
		return f.AddRule(call, act)
	case split:
		for _, c := range conds {
			if err := f.AddRuleConditional(call, act, []libseccomp.ScmpCondition{c}); err != nil {
				return err
			}
		}
		return nil
	default:
		return f.AddRuleConditional(call, act, conds)
	}
}

// conditions converts argument rules; split is runc's rule that conditions
// repeating an argument index are OR-ed (separate rules) instead of AND-ed.
func conditions(args []Arg) ([]libseccomp.ScmpCondition, bool, error) {
	var out []libseccomp.ScmpCondition
	var count [6]int
	split := false
	for _, a := range args {
		if a.Index > 5 {
			return nil, false, fmt.Errorf("argument index %d is above 5", a.Index)
		}
		op, err := scmpOp(a.Op)
		if err != nil {
			return nil, false, err
		}
		var c libseccomp.ScmpCondition
		if op == libseccomp.CompareMaskedEqual {
			c, err = libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		} else {
			c, err = libseccomp.MakeCondition(a.Index, op, a.Value)
		}
		if err != nil {
			return nil, false, err
		}
		count[a.Index]++
		if count[a.Index] > 1 {
			split = true
		}
		out = append(out, c)
	}
	return out, split, nil
}

func scmpAction(act string, errnoRet *uint) (libseccomp.ScmpAction, error) {
	ret := int16(unix.EPERM)
	if errnoRet != nil {
		ret = int16(*errnoRet)
	}
	switch act {
	case ActKill, ActKillThread:
		return libseccomp.ActKillThread, nil
	case ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case ActTrap:
		return libseccomp.ActTrap, nil
	case ActErrno:
		return libseccomp.ActErrno.SetReturnCode(ret), nil
	case ActTrace:
		return libseccomp.ActTrace.SetReturnCode(ret), nil
	case ActAllow:
		return libseccomp.ActAllow, nil
	case ActLog:
		return libseccomp.ActLog, nil
	case ActNotify:
		return libseccomp.ActNotify, nil
	}
	return libseccomp.ActInvalid, fmt.Errorf("%q is not a seccomp action", act)
}

func scmpOp(op string) (libseccomp.ScmpCompareOp, error) {
	switch op {
	case "SCMP_CMP_NE":
		return libseccomp.CompareNotEqual, nil
	case "SCMP_CMP_LT":
		return libseccomp.CompareLess, nil
	case "SCMP_CMP_LE":
		return libseccomp.CompareLessOrEqual, nil
	case "SCMP_CMP_EQ":
		return libseccomp.CompareEqual, nil
	case "SCMP_CMP_GE":
		return libseccomp.CompareGreaterEqual, nil
	case "SCMP_CMP_GT":
		return libseccomp.CompareGreater, nil
	case "SCMP_CMP_MASKED_EQ":
		return libseccomp.CompareMaskedEqual, nil
	}
	return libseccomp.CompareInvalid, fmt.Errorf("%q is not a seccomp operator", op)
}

// exportBPF has libseccomp write the program into an anonymous memory file
// (ExportBPFMem needs libseccomp 2.6) and reads it back.
func exportBPF(f *libseccomp.ScmpFilter) ([]byte, error) {
	bpf, err := exportVia(f.ExportBPF)
	if err != nil {
		return nil, fmt.Errorf("exporting BPF: %w", err)
	}
	if len(bpf)%8 != 0 || len(bpf) == 0 {
		return nil, errors.New("exporting BPF: libseccomp returned a truncated program")
	}
	return bpf, nil
}

// exportVia runs a libseccomp export into a memfd and returns what it wrote.
func exportVia(export func(*os.File) error) ([]byte, error) {
	fd, err := unix.MemfdCreate("ctsec-seccomp-export", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	file := os.NewFile(uintptr(fd), "ctsec-seccomp-export")
	defer file.Close()
	if err := export(file); err != nil {
		return nil, err
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(file)
}
