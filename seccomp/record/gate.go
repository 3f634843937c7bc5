package record

import (
	"os"
	"strconv"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// shimGate admits only the command's syscalls. Until the shim's execve the
// syscalls are the shim's (Go runtime, filter load) and are let through
// unrecorded. Between the execve and the command's first syscall the shim's
// other threads may still notify before the exec kills them; their thread
// ids are ignored. Notifications are served by one goroutine, in order.
type shimGate struct {
	pid    uint32
	phase  int
	ignore map[uint32]bool
	execve map[libseccomp.ScmpArch][2]int32 // execve, execveat numbers per arch
}

const (
	phaseShim = iota
	phaseExec
	phaseCommand
)

func newShimGate(pid int) *shimGate {
	return &shimGate{pid: uint32(pid), execve: map[libseccomp.ScmpArch][2]int32{}}
}

func (g *shimGate) admit(req *libseccomp.ScmpNotifReq) bool {
	switch g.phase {
	case phaseShim:
		if req.Pid != g.pid || !g.isExec(req.Data.Arch, int32(req.Data.Syscall)) {
			return false
		}
		g.ignore = threadsOf(g.pid)
		delete(g.ignore, g.pid)
		g.phase = phaseExec
		return true
	case phaseExec:
		if req.Pid == g.pid {
			g.phase = phaseCommand
			g.ignore = nil
			return true
		}
		return !g.ignore[req.Pid]
	}
	return true
}

func (g *shimGate) isExec(arch libseccomp.ScmpArch, nr int32) bool {
	nums, ok := g.execve[arch]
	if !ok {
		nums = [2]int32{-1, -1}
		for i, name := range []string{"execve", "execveat"} {
			if n, err := libseccomp.GetSyscallFromNameByArch(name, arch); err == nil {
				nums[i] = int32(n)
			}
		}
		g.execve[arch] = nums
	}
	return nr == nums[0] || nr == nums[1]
}

// threadsOf lists the thread ids of a process.
func threadsOf(pid uint32) map[uint32]bool {
	set := map[uint32]bool{}
	entries, _ := os.ReadDir("/proc/" + strconv.Itoa(int(pid)) + "/task")
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			set[uint32(tid)] = true
		}
	}
	return set
}
