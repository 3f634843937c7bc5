package seccomp

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// parseBPF reads a classic BPF program as libseccomp exports it and the
// kernel hands it back: struct sock_filter in host byte order.
func parseBPF(b []byte) ([]unix.SockFilter, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("BPF program of %d bytes is not a whole number of instructions", len(b))
	}
	prog := make([]unix.SockFilter, len(b)/8)
	for i := range prog {
		x := b[i*8:]
		prog[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(x), Jt: x[2], Jf: x[3], K: binary.NativeEndian.Uint32(x[4:])}
	}
	return prog, nil
}

func encodeBPF(prog []unix.SockFilter) []byte {
	b := make([]byte, 8*len(prog))
	for i, ins := range prog {
		x := b[i*8:]
		binary.NativeEndian.PutUint16(x, ins.Code)
		x[2], x[3] = ins.Jt, ins.Jf
		binary.NativeEndian.PutUint32(x[4:], ins.K)
	}
	return b
}

// What the accumulator is known to hold while walking a program for one
// architecture.
const (
	accUnknown = iota
	accArch    // seccomp_data.arch: the architecture's AUDIT_ARCH value
	accNR      // seccomp_data.nr: within the architecture's number range
)

// nrRange is the syscall numbers a process of an architecture can pass:
// x86_64 and x32 share AUDIT_ARCH_X86_64 and differ in bit 30.
func nrRange(arch string) (lo, hi uint32) {
	switch arch {
	case "amd64":
		return 0, x32Bit - 1
	case "x32":
		return x32Bit, 1<<31 - 1
	}
	return 0, 1<<32 - 1
}

// Reachable counts the instructions of prog that a syscall of arch can run
// through: the whole program is one filter for every architecture, and the
// part an architecture can reach is what it costs. The walk knows the value
// of seccomp_data.arch and the range of seccomp_data.nr, and follows both
// targets of any other test, so the count errs towards more. One pass over
// the program: no compile per architecture.
func Reachable(prog []unix.SockFilter, arch string) int {
	n := 0
	for _, hit := range reachable(prog, arch) {
		if hit {
			n++
		}
	}
	return n
}

func reachable(prog []unix.SockFilter, arch string) []bool {
	hit := make([]bool, len(prog))
	audit, ok := auditArch[arch]
	if !ok {
		return hit
	}
	lo, hi := nrRange(arch)
	var seen [3][]bool
	for i := range seen {
		seen[i] = make([]bool, len(prog))
	}
	type state struct {
		pc  int
		acc int
	}
	stack := []state{{0, accUnknown}}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s.pc < 0 || s.pc >= len(prog) || seen[s.acc][s.pc] {
			continue
		}
		seen[s.acc][s.pc] = true
		hit[s.pc] = true
		ins := prog[s.pc]
		next := s.pc + 1
		switch ins.Code & 0x07 {
		case unix.BPF_RET:
			continue
		case unix.BPF_LD:
			acc := accUnknown
			if ins.Code == bpfLoadAbsW && ins.K == offsetArch {
				acc = accArch
			} else if ins.Code == bpfLoadAbsW && ins.K == offsetNR {
				acc = accNR
			}
			stack = append(stack, state{next, acc})
		case unix.BPF_ALU:
			stack = append(stack, state{next, accUnknown})
		case unix.BPF_MISC:
			acc := s.acc
			if ins.Code&0xf8 == unix.BPF_TXA {
				acc = accUnknown
			}
			stack = append(stack, state{next, acc})
		case unix.BPF_JMP:
			if ins.Code&0xf0 == unix.BPF_JA {
				stack = append(stack, state{next + int(ins.K), s.acc})
				continue
			}
			t, f := true, true
			if ins.Code&0x08 == unix.BPF_K {
				switch s.acc {
				case accArch:
					t = test(ins.Code&0xf0, audit, ins.K)
					f = !t
				case accNR:
					t, f = testRange(ins.Code&0xf0, lo, hi, ins.K)
				}
			}
			if t {
				stack = append(stack, state{next + int(ins.Jt), s.acc})
			}
			if f {
				stack = append(stack, state{next + int(ins.Jf), s.acc})
			}
		default: // LDX, ST, STX leave the accumulator alone
			stack = append(stack, state{next, s.acc})
		}
	}
	return hit
}

func test(op uint16, a, k uint32) bool {
	switch op {
	case unix.BPF_JEQ:
		return a == k
	case unix.BPF_JGT:
		return a > k
	case unix.BPF_JGE:
		return a >= k
	case unix.BPF_JSET:
		return a&k != 0
	}
	return true
}

// testRange says whether a test can be true and whether it can be false for
// some value in [lo, hi].
func testRange(op uint16, lo, hi, k uint32) (canTrue, canFalse bool) {
	switch op {
	case unix.BPF_JEQ:
		return lo <= k && k <= hi, !(lo == k && hi == k)
	case unix.BPF_JGT:
		return hi > k, lo <= k
	case unix.BPF_JGE:
		return hi >= k, lo < k
	case unix.BPF_JSET:
		// Decided for one bit that does not change across the range: the
		// range is shorter than the bit's period and its ends agree.
		if k != 0 && k&(k-1) == 0 && uint64(hi)-uint64(lo) < uint64(k) && lo&k == hi&k {
			return lo&k != 0, lo&k == 0
		}
	}
	return true, true
}
