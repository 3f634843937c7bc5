package seccomp

import (
	"math/rand/v2"
	"testing"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// interpret runs a seccomp filter (the classic BPF subset libseccomp and
// runc emit) for one syscall and returns the action and the instructions
// it went through.
func interpret(t *testing.T, prog []unix.SockFilter, arch, nr uint32) (uint32, []int) {
	t.Helper()
	var a uint32
	var path []int
	data := func(off uint32) uint32 {
		switch off {
		case offsetNR:
			return nr
		case offsetArch:
			return arch
		}
		return 0 // instruction pointer and arguments
	}
	for pc := 0; pc < len(prog); pc++ {
		path = append(path, pc)
		ins := prog[pc]
		switch {
		case ins.Code == bpfLoadAbsW:
			a = data(ins.K)
		case ins.Code == bpfRetK:
			return ins.K, path
		case ins.Code == bpfJA:
			pc += int(ins.K)
		case ins.Code&0x07 == unix.BPF_JMP && ins.Code&0x08 == unix.BPF_K:
			if test(ins.Code&0xf0, a, ins.K) {
				pc += int(ins.Jt)
			} else {
				pc += int(ins.Jf)
			}
		case ins.Code == unix.BPF_ALU|unix.BPF_AND|unix.BPF_K:
			a &= ins.K
		default:
			t.Fatalf("instruction %d: opcode %#x not interpreted", pc, ins.Code)
		}
	}
	t.Fatal("fell off the program")
	return 0, nil
}

// TestStubAndReach runs the program runc 1.1.5 loads for Docker's default
// through an interpreter: a syscall numbered above the profile's highest
// gets ENOSYS from the stub, a listed one the filter's answer, and every
// instruction a syscall of an architecture runs through is among those
// Reachable counts for it.
func TestStubAndReach(t *testing.T) {
	tg := amd64Target
	tg.Runc, _ = ParseRuncVersion("1.1.5")
	c, err := builtin(t, "default").Resolve(tg).Compile()
	if err != nil {
		t.Fatal(err)
	}
	prog, _ := parseBPF(c.BPF)
	if c.Stub != 14 || c.Filter != 1001 || c.Instructions != 1015 || c.Optimize != 1 {
		t.Fatalf("runc 1.1.5 program: %d stub + %d filter = %d, optimize %d", c.Stub, c.Filter, c.Instructions, c.Optimize)
	}
	read, _ := libseccomp.GetSyscallFromNameByArch("read", libseccomp.ArchAMD64)
	if act, _ := interpret(t, prog, unix.AUDIT_ARCH_X86_64, uint32(read)); act != unix.SECCOMP_RET_ALLOW {
		t.Errorf("read gets %#x", act)
	}
	if act, _ := interpret(t, prog, unix.AUDIT_ARCH_X86_64, 5000); act != retENOSYS {
		t.Errorf("syscall 5000 on x86_64 gets %#x, want ENOSYS from the stub", act)
	}
	if act, _ := interpret(t, prog, unix.AUDIT_ARCH_X86_64, x32Bit|5000); act != retENOSYS {
		t.Errorf("x32 syscall 5000 gets %#x, want ENOSYS", act)
	}
	if act, _ := interpret(t, prog, unix.AUDIT_ARCH_I386, 5000); act != retENOSYS {
		t.Errorf("x86 syscall 5000 gets %#x, want ENOSYS", act)
	}
	kexec, _ := libseccomp.GetSyscallFromNameByArch("kexec_load", libseccomp.ArchAMD64)
	if act, _ := interpret(t, prog, unix.AUDIT_ARCH_X86_64, uint32(kexec)); act != unix.SECCOMP_RET_ERRNO|1 {
		t.Errorf("kexec_load gets %#x, want EPERM", act)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, arch := range c.Arches {
		reach := reachable(prog, arch)
		lo, hi := nrRange(arch)
		for range 3000 {
			nr := lo + uint32(rng.Uint64N(uint64(hi-lo)+1))
			if rng.IntN(2) == 0 {
				nr = lo + uint32(rng.IntN(600)) // real numbers, not only the stub's
			}
			_, path := interpret(t, prog, auditArch[arch], nr)
			for _, pc := range path {
				if !reach[pc] {
					t.Fatalf("%s syscall %#x runs instruction %d, which Reachable leaves out", arch, nr, pc)
				}
			}
		}
		if n := c.PerArch[arch]; n <= c.Stub || n >= c.Instructions {
			t.Errorf("%s reaches %d of %d", arch, n, c.Instructions)
		}
	}
}
