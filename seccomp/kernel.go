package seccomp

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// KernelFilters reads the seccomp filters process pid holds, newest first,
// as the kernel keeps them (PTRACE_SECCOMP_GET_FILTER: the classic BPF
// program exactly as loaded). It attaches with ptrace, which stops the
// process for the duration of the read, and detaches. Needs CAP_SYS_ADMIN
// and a kernel built with CONFIG_CHECKPOINT_RESTORE.
func KernelFilters(pid int) ([][]byte, error) {
	// ptrace requests must come from the thread that attached.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.PtraceAttach(pid); err != nil {
		return nil, fmt.Errorf("attaching to process %d: %w", pid, err)
	}
	defer unix.PtraceDetach(pid)
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return nil, fmt.Errorf("waiting for process %d to stop: %w", pid, err)
		}
		if ws.Stopped() {
			break
		}
		if ws.Exited() || ws.Signaled() {
			return nil, fmt.Errorf("process %d ended while being read", pid)
		}
	}
	var out [][]byte
	for i := 0; ; i++ {
		n, err := ptraceFilter(pid, i, nil)
		if errors.Is(err, unix.ENOENT) {
			return out, nil // past the oldest filter
		}
		if err != nil {
			if i == 0 && errors.Is(err, unix.EINVAL) {
				return nil, nil // no filter at all
			}
			return nil, fmt.Errorf("reading seccomp filter %d of process %d: %w", i, pid, err)
		}
		prog := make([]unix.SockFilter, n)
		if _, err := ptraceFilter(pid, i, prog); err != nil {
			return nil, fmt.Errorf("reading seccomp filter %d of process %d: %w", i, pid, err)
		}
		out = append(out, encodeBPF(prog))
	}
}

func ptraceFilter(pid, index int, buf []unix.SockFilter) (int, error) {
	var p unsafe.Pointer
	if len(buf) > 0 {
		p = unsafe.Pointer(&buf[0])
	}
	n, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(pid), uintptr(index), uintptr(p), 0, 0)
	runtime.KeepAlive(buf)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// Matches reports whether a program the kernel holds is this one. runc
// lays the stub's architecture sections, and the jumps to them, out in Go
// map order, which changes from run to run, so every order of both is
// accepted; the stub's content and libseccomp's filter must be identical.
func (c *Compiled) Matches(kernel []byte) bool {
	if bytes.Equal(kernel, c.BPF) {
		return true
	}
	if len(kernel) != len(c.BPF) || c.Stub == 0 || !bytes.Equal(kernel[8*c.Stub:], c.BPF[8*c.Stub:]) {
		return false
	}
	return permute(c.sections, func(sections []stubArch) bool {
		return permute(c.sections, func(jumps []stubArch) bool {
			stub, err := enosysStub(sections, jumps, c.Runc)
			return err == nil && bytes.Equal(encodeBPF(stub), kernel[:8*c.Stub])
		})
	})
}

// permute calls f with every order of s until f returns true.
func permute(s []stubArch, f func([]stubArch) bool) bool {
	if len(s) <= 1 {
		return f(s)
	}
	for i := range s {
		rest := append(append([]stubArch{}, s[:i]...), s[i+1:]...)
		if permute(rest, func(tail []stubArch) bool { return f(append([]stubArch{s[i]}, tail...)) }) {
			return true
		}
	}
	return false
}
