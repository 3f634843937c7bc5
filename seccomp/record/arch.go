package record

import (
	"fmt"
	"strings"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// specArch names libseccomp architectures the way profiles do (runtime-spec
// SCMP_ARCH_*). Only architectures runc knows are listed.
var specArch = map[libseccomp.ScmpArch]string{
	libseccomp.ArchX86:         "SCMP_ARCH_X86",
	libseccomp.ArchAMD64:       "SCMP_ARCH_X86_64",
	libseccomp.ArchX32:         "SCMP_ARCH_X32",
	libseccomp.ArchARM:         "SCMP_ARCH_ARM",
	libseccomp.ArchARM64:       "SCMP_ARCH_AARCH64",
	libseccomp.ArchMIPS:        "SCMP_ARCH_MIPS",
	libseccomp.ArchMIPS64:      "SCMP_ARCH_MIPS64",
	libseccomp.ArchMIPS64N32:   "SCMP_ARCH_MIPS64N32",
	libseccomp.ArchMIPSEL:      "SCMP_ARCH_MIPSEL",
	libseccomp.ArchMIPSEL64:    "SCMP_ARCH_MIPSEL64",
	libseccomp.ArchMIPSEL64N32: "SCMP_ARCH_MIPSEL64N32",
	libseccomp.ArchPPC:         "SCMP_ARCH_PPC",
	libseccomp.ArchPPC64:       "SCMP_ARCH_PPC64",
	libseccomp.ArchPPC64LE:     "SCMP_ARCH_PPC64LE",
	libseccomp.ArchS390:        "SCMP_ARCH_S390",
	libseccomp.ArchS390X:       "SCMP_ARCH_S390X",
	libseccomp.ArchRISCV64:     "SCMP_ARCH_RISCV64",
	libseccomp.ArchLOONGARCH64: "SCMP_ARCH_LOONGARCH64",
}

// compatArches are the other ABIs a native kernel runs: a 64-bit x86 kernel
// also takes 32-bit and x32 syscalls, and a recorder that ignored them would
// miss what a 32-bit helper binary does.
var compatArches = map[libseccomp.ScmpArch][]libseccomp.ScmpArch{
	libseccomp.ArchAMD64: {libseccomp.ArchX86, libseccomp.ArchX32},
	libseccomp.ArchARM64: {libseccomp.ArchARM},
	libseccomp.ArchS390X: {libseccomp.ArchS390},
}

// ArchName is the short name observations use: "x86_64", "x86", "aarch64"
// (the SCMP_ARCH_ name without its prefix, lower case).
func ArchName(a libseccomp.ScmpArch) string {
	if s, ok := specArch[a]; ok {
		return strings.ToLower(strings.TrimPrefix(s, "SCMP_ARCH_"))
	}
	return a.String()
}

// nativeArches is the kernel's native architecture followed by its compat
// ABIs: the architectures a recording filter must cover.
func nativeArches() ([]libseccomp.ScmpArch, error) {
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return nil, fmt.Errorf("asking libseccomp for the native architecture: %w", err)
	}
	return append([]libseccomp.ScmpArch{native}, compatArches[native]...), nil
}

// specArches names arches for a profile's "architectures" list.
func specArches(arches []libseccomp.ScmpArch) []string {
	var out []string
	for _, a := range arches {
		if s, ok := specArch[a]; ok {
			out = append(out, s)
		}
	}
	return out
}

// x32SyscallBit marks x32 syscall numbers on x86_64.
const x32SyscallBit = 0x40000000

// maxSyscallNr bounds the syscall table scan; no architecture has more.
const maxSyscallNr = 1024

// syscallNames lists every syscall libseccomp knows for the given
// architectures, each name once, in table order. A recording profile for runc
// must name them one by one because runc refuses NOTIFY as the default action.
func syscallNames(arches []libseccomp.ScmpArch) []string {
	seen := map[string]bool{}
	var names []string
	for _, a := range arches {
		base := 0
		if a == libseccomp.ArchX32 {
			base = x32SyscallBit
		}
		for nr := 0; nr < maxSyscallNr; nr++ {
			name, err := libseccomp.ScmpSyscall(base + nr).GetNameByArch(a)
			if err != nil || name == "" || seen[name] {
				continue
			}
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

// resolvesOnNative reports whether libseccomp knows name on the native
// architecture; runc silently drops names that do not resolve, so a profile
// should not rely on them.
func resolvesOnNative(name string) bool {
	nr, err := libseccomp.GetSyscallFromName(name)
	return err == nil && nr >= 0 // negative: a pseudo-syscall, no number here
}
