package seccomp

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Target is the container a profile is judged for: the host's architecture,
// the container's capability bounding set and the kernel version. moby's
// includes/excludes are decided against exactly these three.
type Target struct {
	Arch   string   // native name, e.g. amd64
	Caps   []string // CAP_* names
	Kernel KernelVersion
	// Runc is the runc that loads the filter; its release decides the
	// program's layout (binary tree or not, the ENOSYS stub). The zero value
	// is the newest layout (runc 1.2 and later).
	Runc Runc
}

// KernelVersion is moby's "<kernel>.<major>".
type KernelVersion struct{ Kernel, Major uint64 }

func (k KernelVersion) String() string { return fmt.Sprintf("%d.%d", k.Kernel, k.Major) }

func (k KernelVersion) atLeast(kernel, major uint8) bool {
	if k.Kernel != uint64(kernel) {
		return k.Kernel > uint64(kernel)
	}
	return k.Major >= uint64(major)
}

// ParseKernel reads a kernel release ("6.1.0-18-amd64", "5.10") the way moby
// does: the first two dotted numbers.
func ParseKernel(release string) (KernelVersion, error) {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return KernelVersion{}, fmt.Errorf("kernel version %q: want <kernel>.<major>", release)
	}
	k, err := strconv.ParseUint(parts[0], 10, 32)
	if err != nil {
		return KernelVersion{}, fmt.Errorf("kernel version %q: %w", release, err)
	}
	end := 0
	for end < len(parts[1]) && parts[1][end] >= '0' && parts[1][end] <= '9' {
		end++
	}
	m, err := strconv.ParseUint(parts[1][:end], 10, 32)
	if err != nil {
		return KernelVersion{}, fmt.Errorf("kernel version %q: %w", release, err)
	}
	return KernelVersion{k, m}, nil
}

// HostKernel is the running kernel's version.
func HostKernel() (KernelVersion, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return KernelVersion{}, fmt.Errorf("reading kernel version: %w", err)
	}
	return ParseKernel(unix.ByteSliceToString(u.Release[:]))
}

// DefaultTarget is a container with Docker's default capabilities on this
// host's architecture and kernel.
func DefaultTarget() Target {
	k, err := HostKernel()
	if err != nil {
		k = KernelVersion{6, 1}
	}
	return Target{Arch: NativeArch(), Caps: DockerDefaultCaps, Kernel: k}
}

// Effective is a profile after moby's loader has applied archMap and the
// includes/excludes conditions for one target: what runc receives.
type Effective struct {
	DefaultAction   string
	DefaultErrnoRet *uint
	Arches          []string // native names of the filter's architectures
	// Declared are the architectures the profile names for this host (its
	// architectures list, or its archMap entry): what moby hands runc, whose
	// ENOSYS stub covers these; libseccomp adds the native one regardless.
	Declared []string
	Native   string
	Runc     Runc
	Flags    []string
	Rules    []EffectiveRule
}

// EffectiveRule is a rule that survived its conditions; Source indexes the
// profile's syscalls array.
type EffectiveRule struct {
	Source   int
	Names    []string
	Action   string
	ErrnoRet *uint
	Args     []Arg
}

// Resolve applies moby's setupSeccomp logic for target t.
func (p *Profile) Resolve(t Target) *Effective {
	e := &Effective{DefaultAction: p.DefaultAction, DefaultErrnoRet: p.DefaultErrnoRet, Flags: p.Flags, Native: t.Arch, Runc: t.Runc}
	e.Declared = p.declaredArches(t.Arch)
	e.Arches = slices.Clone(e.Declared)
	if !contains(e.Arches, t.Arch) {
		e.Arches = append([]string{t.Arch}, e.Arches...)
	}
	for i, r := range p.Syscalls {
		if !r.applies(t) {
			continue
		}
		e.Rules = append(e.Rules, EffectiveRule{Source: i, Names: r.AllNames(), Action: r.Action, ErrnoRet: r.ErrnoRet, Args: r.Args})
	}
	return e
}

// FilterArches is the architectures the filter covers on a host of native
// arch: the explicit list, or the archMap entry for that arch with its
// sub-architectures, or just the native arch (libseccomp always adds it).
func (p *Profile) FilterArches(native string) []string {
	out := p.declaredArches(native)
	if !contains(out, native) {
		out = append([]string{native}, out...)
	}
	return out
}

// declaredArches is the profile's own list for a host of native arch: the
// explicit list, or the archMap entry for that arch with its
// sub-architectures.
func (p *Profile) declaredArches(native string) []string {
	var out []string
	add := func(scmp string) {
		if a, ok := archByScmp(scmp); ok && !contains(out, a.native) {
			out = append(out, a.native)
		}
	}
	if len(p.Architectures) > 0 {
		for _, a := range p.Architectures {
			add(a)
		}
	} else {
		for _, m := range p.ArchMap {
			if a, ok := archByScmp(m.Arch); ok && a.native == native {
				add(m.Arch)
				for _, s := range m.SubArches {
					add(s)
				}
			}
		}
	}
	return out
}

func (r Rule) applies(t Target) bool {
	if ex := r.Excludes; !ex.empty() {
		if len(ex.Arches) > 0 && containsArch(ex.Arches, t.Arch) {
			return false
		}
		for _, c := range ex.Caps {
			if contains(t.Caps, c) {
				return false
			}
		}
		if k, m, err := ParseMinKernel(ex.MinKernel); err == nil && ex.MinKernel != "" && t.Kernel.atLeast(k, m) {
			return false
		}
	}
	if in := r.Includes; !in.empty() {
		if len(in.Arches) > 0 && !containsArch(in.Arches, t.Arch) {
			return false
		}
		for _, c := range in.Caps {
			if !contains(t.Caps, c) {
				return false
			}
		}
		if k, m, err := ParseMinKernel(in.MinKernel); err == nil && in.MinKernel != "" && !t.Kernel.atLeast(k, m) {
			return false
		}
	}
	return true
}

func containsArch(list []string, native string) bool {
	for _, a := range list {
		if x, ok := archByNative(a); ok && x.native == native {
			return true
		}
	}
	return false
}
