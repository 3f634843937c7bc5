package seccomp

import (
	"fmt"
	"slices"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// runc's patchbpf prepends a stub to libseccomp's filter: a syscall whose
// number is above the highest the profile names (per architecture) gets
// -ENOSYS, so a program calling something newer than the profile falls back
// instead of failing with EPERM. The kernel holds stub and filter as one
// program; counting only libseccomp's part under-reports it and, more to the
// point, a profile judged by libseccomp alone is not what runs. This file
// reproduces runc's generator (libcontainer/seccomp/patchbpf/enosys_linux.go,
// identical in layout from 1.1 to 1.5) instruction for instruction, so the
// program ctsec writes is the one runc loads; the tests compare it with the
// filter the kernel holds for a container's PID 1.

// auditArch is the AUDIT_ARCH_* value the kernel puts in seccomp_data.arch;
// x32 shares x86_64's and sets bit 30 of the syscall number instead.
var auditArch = map[string]uint32{
	"x86": unix.AUDIT_ARCH_I386, "amd64": unix.AUDIT_ARCH_X86_64, "x32": unix.AUDIT_ARCH_X86_64,
	"arm": unix.AUDIT_ARCH_ARM, "arm64": unix.AUDIT_ARCH_AARCH64,
	"mips": unix.AUDIT_ARCH_MIPS, "mips64": unix.AUDIT_ARCH_MIPS64, "mips64n32": unix.AUDIT_ARCH_MIPS64N32,
	"mipsel": unix.AUDIT_ARCH_MIPSEL, "mipsel64": unix.AUDIT_ARCH_MIPSEL64, "mipsel64n32": unix.AUDIT_ARCH_MIPSEL64N32,
	"ppc": unix.AUDIT_ARCH_PPC, "ppc64": unix.AUDIT_ARCH_PPC64, "ppc64le": unix.AUDIT_ARCH_PPC64LE,
	"s390": unix.AUDIT_ARCH_S390, "s390x": unix.AUDIT_ARCH_S390X,
	"riscv64": unix.AUDIT_ARCH_RISCV64, "loongarch64": unix.AUDIT_ARCH_LOONGARCH64,
}

const (
	x32Bit       = 1 << 30
	retENOSYS    = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	bpfLoadAbsW  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	bpfJA        = unix.BPF_JMP | unix.BPF_JA
	bpfRetK      = unix.BPF_RET | unix.BPF_K
	offsetNR     = 0 // seccomp_data.nr
	offsetArch   = 4 // seccomp_data.arch
	maxShortJump = 255
)

// The instruction constructors encode as golang.org/x/net/bpf assembles
// runc's instructions (a negated test is the positive opcode with its
// targets swapped), so the program is byte-identical.
func load(off uint32) unix.SockFilter { return unix.SockFilter{Code: bpfLoadAbsW, K: off} }
func ja(skip uint32) unix.SockFilter  { return unix.SockFilter{Code: bpfJA, K: skip} }
func ret(v uint32) unix.SockFilter    { return unix.SockFilter{Code: bpfRetK, K: v} }
func jmp(op uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, Jt: jt, Jf: jf, K: k}
}
func jeq(k uint32, t, f uint8) unix.SockFilter  { return jmp(unix.BPF_JEQ, k, t, f) }
func jne(k uint32, t, f uint8) unix.SockFilter  { return jmp(unix.BPF_JEQ, k, f, t) }
func jgt(k uint32, t, f uint8) unix.SockFilter  { return jmp(unix.BPF_JGT, k, t, f) }
func jle(k uint32, t, f uint8) unix.SockFilter  { return jmp(unix.BPF_JGT, k, f, t) }
func jset(k uint32, t, f uint8) unix.SockFilter { return jmp(unix.BPF_JSET, k, t, f) }
func jnset(k uint32, t, f uint8) unix.SockFilter {
	return jmp(unix.BPF_JSET, k, f, t)
}

// stubArch is one AUDIT_ARCH section of the stub: the highest syscall
// number of each libseccomp architecture sharing it (x86_64 and x32).
type stubArch struct {
	audit uint32
	last  map[string]uint32 // native arch name -> highest syscall number
}

// lastSyscalls is runc's findLastSyscalls: for every architecture of the
// profile (runc's config.Architectures, plus the native one in newer runc),
// the highest number any rule's name resolves to, whatever the rule's
// action. Architectures without any resolvable name are left out.
func (e *Effective) lastSyscalls(r Runc) ([]stubArch, error) {
	arches := slices.Clone(e.Declared)
	if r.impliedNative() && !contains(arches, e.Native) {
		arches = append(arches, e.Native)
	}
	var out []stubArch
	for _, a := range arches {
		if !r.knowsArch(a) {
			return nil, fmt.Errorf("%s cannot patch a filter for %s (patchbpf has no AUDIT_ARCH for it) and fails to start the container", r, a)
		}
		sa, err := libseccomp.GetArchFromString(a)
		if err != nil {
			return nil, fmt.Errorf("architecture %s: %w", a, err)
		}
		var largest libseccomp.ScmpSyscall
		for _, rule := range e.Rules {
			for _, name := range rule.Names {
				if n, err := libseccomp.GetSyscallFromNameByArch(name, sa); err == nil && n > largest {
					largest = n
				}
			}
		}
		if largest == 0 {
			continue
		}
		i := slices.IndexFunc(out, func(s stubArch) bool { return s.audit == auditArch[a] })
		if i < 0 {
			out = append(out, stubArch{audit: auditArch[a], last: map[string]uint32{}})
			i = len(out) - 1
		}
		out[i].last[a] = uint32(largest)
	}
	return out, nil
}

// enosysStub is runc's generateEnosysStub, laying out the sections in the
// order given and the jumps to them in the order of jumps. runc walks a Go
// map for each, so both orders change from run to run; the length does not
// (unless a jump needs the long form, which takes far more architectures
// than exist), and the filter after the stub is the same.
func enosysStub(sections, jumps []stubArch, r Runc) ([]unix.SockFilter, error) {
	tail := []unix.SockFilter{ja(1), ret(retENOSYS)}
	table := map[uint32]uint32{}
	for _, s := range sections {
		baseEnosys := uint32(len(tail) - 1)
		baseFilter := baseEnosys + 1
		section := []unix.SockFilter{load(offsetNR)}
		switch len(s.last) {
		case 1:
			var name string
			var sysno uint32
			for n, v := range s.last {
				name, sysno = n, v
			}
			if name == "s390" || name == "s390x" {
				// setup(2), number 0, is where s390 multiplexes unknown
				// large syscall numbers: answer it with ENOSYS too.
				section = append(section, jne(0, 1, 0), ret(retENOSYS))
			}
			var st []unix.SockFilter
			switch {
			case baseEnosys+1 <= maxShortJump:
				st = []unix.SockFilter{jgt(sysno, uint8(baseEnosys+1), 0), ja(baseFilter)}
			case r.stubReturns():
				st = []unix.SockFilter{jle(sysno, 1, 0), ret(retENOSYS), ja(baseFilter)}
			default:
				st = []unix.SockFilter{jle(sysno, 1, 0), ja(baseEnosys + 1), ja(baseFilter)}
			}
			if s.audit == unix.AUDIT_ARCH_X86_64 {
				switch name {
				case "amd64":
					st = append([]unix.SockFilter{jset(x32Bit, uint8(len(st)-1), 0)}, st...)
				case "x32":
					st = append([]unix.SockFilter{jnset(x32Bit, uint8(len(st)-1), 0)}, st...)
				}
			}
			section = append(section, st...)
		case 2:
			x86, x32 := s.last["amd64"], s.last["x32"]
			if baseEnosys+2 <= maxShortJump {
				section = append(section,
					jset(x32Bit, 1, 0),
					jgt(x86, uint8(baseEnosys+2), 1),
					jgt(x32, uint8(baseEnosys+1), 0),
					ja(baseFilter))
			} else {
				long := ja(baseEnosys + 1)
				if r.stubReturns() {
					long = ret(retENOSYS)
				}
				section = append(section,
					jset(x32Bit, 1, 0),
					jgt(x86, 1, 2),
					jle(x32, 1, 0),
					long,
					ja(baseFilter))
			}
		default:
			return nil, fmt.Errorf("ENOSYS stub: %d architectures share AUDIT_ARCH %#x", len(s.last), s.audit)
		}
		tail = append(section, tail...)
		table[s.audit] = uint32(len(tail))
	}
	tail = append([]unix.SockFilter{ja(uint32(len(tail)))}, tail...)
	for _, s := range jumps {
		jump := uint32(len(tail)) - table[s.audit]
		if jump <= maxShortJump {
			tail = append([]unix.SockFilter{jeq(s.audit, uint8(jump), 0)}, tail...)
		} else {
			tail = append([]unix.SockFilter{jne(s.audit, 1, 0), ja(jump)}, tail...)
		}
	}
	return append([]unix.SockFilter{load(offsetArch)}, tail...), nil
}

// needsStub is runc's generatePatch condition: no stub when the default
// allows (ALLOW, LOG, TRACE: a tracer handles unknown calls itself). runc
// means to skip it for a default of ENOSYS too, but compares defaultErrnoRet
// with the whole action value SCMP_ACT_ERRNO(ENOSYS) (0x50026), which no
// errno equals: "defaultErrnoRet": 38 still gets the stub (the kernel test
// shows it), and so does every other denying default.
func (e *Effective) needsStub(r Runc) bool {
	if !r.stub() {
		return false
	}
	if e.DefaultErrnoRet != nil && *e.DefaultErrnoRet == uint(retENOSYS) {
		return false
	}
	switch e.DefaultAction {
	case ActAllow, ActLog, ActTrace:
		return false
	}
	return true
}
