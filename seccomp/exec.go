package seccomp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// execMarker tells a re-executed ctsec (or test binary) that it is the
// helper which must load the filter passed on fd 3 and exec the command.
// The child is started from this package's init, so neither main nor any
// TestMain needs to know about it.
const execMarker = "_CTSEC_SECCOMP_EXEC"

func init() {
	if v, ok := os.LookupEnv(execMarker); ok {
		execChild(v)
	}
}

// ExecResult is how the command ended.
type ExecResult struct {
	Code   int            // exit code, or 128+signal as a shell reports it
	Signal syscall.Signal // non-zero when killed by a signal (SIGSYS: a KILL/TRAP action)
}

// ExecOptions wires the command's standard streams.
type ExecOptions struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Exec runs argv under the compiled filter the way runc applies a profile:
// a fresh process (ctsec re-executed) sets no_new_privs, loads the BPF on the
// thread that will exec — runc passes no TSYNC either, the other threads end
// at execve — and then execve()s the command, so the filter covers exactly
// the command and ctsec itself stays unconfined. Unlike runc, nothing runs
// between the filter and execve: runc init still finishes its handshake
// (sync pipe, exec fifo, its Go runtime) under the filter, which is why a
// container needs the runtime base set and Exec does not.
func Exec(ctx context.Context, c *Compiled, argv []string, opt ExecOptions) (ExecResult, error) {
	if len(argv) == 0 {
		return ExecResult{}, errors.New("no command to run")
	}
	if err := c.canExec(); err != nil {
		return ExecResult{}, err
	}
	// Resolve the command before the filter exists, as runc does, so a
	// missing binary is a clear error and not a denied syscall.
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return ExecResult{}, fmt.Errorf("finding command %q: %w", argv[0], err)
	}
	fd, err := unix.MemfdCreate("ctsec-seccomp-exec", unix.MFD_CLOEXEC)
	if err != nil {
		return ExecResult{}, fmt.Errorf("passing the filter: %w", err)
	}
	bpf := os.NewFile(uintptr(fd), "ctsec-seccomp-bpf")
	defer bpf.Close()
	if _, err := bpf.Write(c.BPF); err != nil {
		return ExecResult{}, fmt.Errorf("passing the filter: %w", err)
	}
	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = append([]string{path}, argv[1:]...)
	// The helper's runtime must not preempt its thread with a signal
	// between loading the filter and execve: the handler's rt_sigreturn
	// would be judged by the command's profile, and a tight one kills.
	// The command gets the caller's GODEBUG back (see execChild).
	godebug, hadGodebug := os.LookupEnv("GODEBUG")
	spec, err := json.Marshal(childSpec{Path: path, Flags: c.Flags, GODEBUG: godebug, HadGODEBUG: hadGodebug})
	if err != nil {
		return ExecResult{}, err
	}
	cmd.Env = append(withoutEnv(os.Environ(), "GODEBUG"), execMarker+"="+string(spec),
		"GODEBUG="+strings.TrimPrefix(godebug+",asyncpreemptoff=1", ","))
	cmd.ExtraFiles = []*os.File{bpf}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opt.Stdin, opt.Stdout, opt.Stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return ExecResult{}, nil
	case errors.As(err, &ee):
		ws, _ := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			return ExecResult{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}, nil
		}
		return ExecResult{Code: ws.ExitStatus()}, nil
	default:
		return ExecResult{}, fmt.Errorf("running %s: %w", argv[0], err)
	}
}

// canExec refuses a filter under which no command could start.
func (c *Compiled) canExec() error {
	switch c.execve {
	case ActAllow, ActLog, "":
		return nil
	case ActTrace, ActNotify:
		// Without a tracer or a listener the kernel fails such a call with
		// ENOSYS, so the helper could only report a failed exec.
		return fmt.Errorf("the profile answers execve with %s: with no tracer or seccomp agent attached the kernel fails it with ENOSYS, so no command can be started under it", c.execve)
	default:
		// A killed execve would leave the helper's other threads waiting
		// forever (KILL_THREAD), and any other answer means no command.
		return fmt.Errorf("the profile answers execve with %s: no command can be started under it", c.execve)
	}
}

// ExecHere replaces the calling process with argv under the filter, loaded
// exactly as Exec's helper loads it. It returns only on failure. The caller
// must have locked its goroutine to its thread (runtime.LockOSThread) and
// should be a process made for this (a helper or a test's child): its other
// threads end at execve. Run it with GODEBUG=asyncpreemptoff=1, as Exec
// runs its helper, or the runtime may signal the thread under the filter.
func ExecHere(c *Compiled, argv, env []string) error {
	if len(argv) == 0 {
		return errors.New("no command to run")
	}
	if err := c.canExec(); err != nil {
		return err
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fmt.Errorf("finding command %q: %w", argv[0], err)
	}
	what, err := loadAndExec(c.BPF, c.Flags, path, argv, env)
	return fmt.Errorf("%s: %w", what, err)
}

// childSpec is what the helper needs besides the filter: the resolved
// command path and the profile's seccomp(2) flags.
type childSpec struct {
	Path  string   `json:"path"`
	Flags []string `json:"flags,omitempty"`
	// The caller's GODEBUG, restored for the command: the helper runs with
	// asynchronous preemption off.
	GODEBUG    string `json:"godebug,omitempty"`
	HadGODEBUG bool   `json:"had_godebug,omitempty"`
}

// withoutEnv is env without the variables named.
func withoutEnv(env []string, names ...string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
}

// execChild is the helper half of Exec. It never returns.
func execChild(marker string) {
	fail := func(code int, format string, args ...any) {
		fmt.Fprintf(os.Stderr, "ctsec: seccomp exec: "+format+"\n", args...)
		os.Exit(code)
	}
	var spec childSpec
	if err := json.Unmarshal([]byte(marker), &spec); err != nil || spec.Path == "" {
		fail(126, "bad helper environment %s: %v", execMarker, err)
	}
	path, flags := spec.Path, spec.Flags
	runtime.LockOSThread()
	f := os.NewFile(3, "ctsec-seccomp-bpf")
	if f == nil {
		fail(126, "no filter passed on fd 3")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		fail(126, "reading the filter: %v", err)
	}
	prog, err := io.ReadAll(io.LimitReader(f, MaxInstructions*8+1))
	f.Close()
	if err != nil || len(prog) == 0 || len(prog)%8 != 0 || len(prog) > MaxInstructions*8 {
		fail(126, "the filter passed on fd 3 is not a BPF program (%d bytes, %v)", len(prog), err)
	}
	env := withoutEnv(os.Environ(), execMarker, "GODEBUG")
	if spec.HadGODEBUG {
		env = append(env, "GODEBUG="+spec.GODEBUG)
	}
	what, err := loadAndExec(prog, flags, path, os.Args, env)
	fail(126, "%s: %v", what, err)
}

// loadAndExec sets no_new_privs, installs the program on the calling
// (locked) thread only and execs path; it returns only on failure, with
// what failed. Everything that allocates or may block is done before the
// filter exists: between the two raw syscalls no Go code runs that could
// make a syscall (futex, mmap, write) a tight profile denies, so the
// command starts under exactly the filter runc would give it. The other
// threads are this helper's Go runtime; execve ends them, which is also
// why runc loads without TSYNC.
func loadAndExec(prog []byte, flags []string, path string, argv, env []string) (string, error) {
	argv0, err := unix.BytePtrFromString(path)
	if err != nil {
		return "preparing the command", err
	}
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return "preparing the arguments", err
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return "preparing the environment", err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return "setting no_new_privs", err
	}
	insns := make([]unix.SockFilter, len(prog)/8)
	for i := range insns {
		b := prog[i*8 : i*8+8]
		// libseccomp exports in host byte order, as struct sock_filter.
		insns[i] = *(*unix.SockFilter)(unsafe.Pointer(&b[0]))
	}
	fprog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	fl := uintptr(0)
	for _, f := range flags {
		switch f {
		case "SECCOMP_FILTER_FLAG_LOG":
			fl |= unix.SECCOMP_FILTER_FLAG_LOG
		case "SECCOMP_FILTER_FLAG_SPEC_ALLOW":
			fl |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		}
	}
	// RawSyscall, not Syscall: no scheduler hooks around the calls. The
	// runtime's own preemption signal is off in the helper (Exec starts it
	// with GODEBUG=asyncpreemptoff=1): its handler's rt_sigreturn would be
	// judged by the command's profile. A signal sent from outside in that
	// instant still could be; so could one sent to the command itself.
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, fl, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return "loading the filter with seccomp(2)", errno
	}
	_, _, errno = unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(argv0)), uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])))
	runtime.KeepAlive(insns)
	runtime.KeepAlive(argv0)
	runtime.KeepAlive(argvp)
	runtime.KeepAlive(envp)
	return fmt.Sprintf("executing %s under the profile (does the profile allow execve?)", path), errno
}
