package seccomp

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/ctsec/ctsec/internal/execx"
)

// Runc is the runc whose way of loading a filter compile reproduces: the
// program the kernel holds depends on it, not only on libseccomp. runc 1.1
// loads libseccomp's filter as built (a linear list of checks); runc 1.2 and
// later ask for libseccomp's binary tree above 32 syscall names; every runc
// since 1.0 prepends its -ENOSYS stub (patchbpf) unless the default action
// allows or is already ENOSYS.
type Runc struct {
	// Version is runc's release ("1.1.5"); for the zero value, the newest
	// layout ctsec knows (runc 1.2 and later).
	Version string `json:"version"`
	// Libseccomp is the libseccomp runc reports it is linked with, when
	// detected; its filter layout is what the count assumes.
	Libseccomp string `json:"libseccomp,omitempty"`
	// Source says where Version came from: "runc --version", "--runc", or
	// "assumed" (no runc found).
	Source string `json:"source"`

	major, minor, patch int
}

// LatestRunc is the layout of runc 1.2 and later (binary tree above 32
// names, ENOSYS stub, native architecture always in the stub), used when no
// runc is known.
var LatestRunc = Runc{Version: "1.2", Source: "assumed", major: 1, minor: 2}

var runcVersionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?`) })

// ParseRuncVersion reads a runc release ("1.1.5", "v1.2.0-rc.1",
// "1.1.5+ds1").
func ParseRuncVersion(s string) (Runc, error) {
	m := runcVersionRE().FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Runc{}, fmt.Errorf("runc version %q: want MAJOR.MINOR[.PATCH], e.g. 1.1.5", s)
	}
	r := Runc{Version: strings.TrimPrefix(m[0], "v")}
	r.major, _ = strconv.Atoi(m[1])
	r.minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		r.patch, _ = strconv.Atoi(m[3])
	}
	if r.major > 999 || r.minor > 999 || r.patch > 999 {
		return Runc{}, fmt.Errorf("runc version %q: not a runc release", s)
	}
	return r, nil
}

var runcLibRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^libseccomp:\s*(\S+)`) })

// DetectRunc asks the runc on PATH for its version (`runc --version`).
func DetectRunc(ctx context.Context) (Runc, error) {
	res, err := (execx.Runner{Timeout: 10_000_000_000}).Run(ctx, "runc", "--version")
	if err != nil {
		return Runc{}, err
	}
	if res.ExitCode != 0 {
		return Runc{}, fmt.Errorf("runc --version exited %d: %s", res.ExitCode, execx.FirstLine(res.Stderr))
	}
	first := execx.FirstLine(res.Stdout)
	r, err := ParseRuncVersion(strings.TrimPrefix(first, "runc version "))
	if err != nil {
		return Runc{}, fmt.Errorf("runc --version: %w", err)
	}
	if m := runcLibRE().FindSubmatch(res.Stdout); m != nil {
		r.Libseccomp = string(m[1])
	}
	r.Source = "runc --version"
	return r, nil
}

func (r Runc) resolved() Runc {
	if r.Version == "" {
		return LatestRunc
	}
	return r
}

func (r Runc) atLeast(major, minor, patch int) bool {
	if r.major != major {
		return r.major > major
	}
	if r.minor != minor {
		return r.minor > minor
	}
	return r.patch >= patch
}

// binaryTree: runc 1.2 (PR #3405) sets SCMP_FLTATR_CTL_OPTIMIZE=2 when a
// profile names more than 32 syscalls.
func (r Runc) binaryTree() bool { return r.atLeast(1, 2, 0) }

// stub: patchbpf's -ENOSYS stub, since runc 1.0.0-rc93.
func (r Runc) stub() bool { return r.atLeast(1, 0, 0) }

// impliedNative: the stub covers the native architecture even when the
// profile does not list it (runc 1.1.15 and 1.2.0, commit ccc500c42).
func (r Runc) impliedNative() bool {
	return r.atLeast(1, 2, 0) || (r.major == 1 && r.minor == 1 && r.patch >= 15)
}

// stubReturns: runc 1.2 returns ENOSYS directly in the stub's long-jump
// form instead of jumping to a shared return (same length).
func (r Runc) stubReturns() bool { return r.atLeast(1, 2, 0) }

// flags: runc before 1.2 refuses a profile with flags ("seccomp flags are
// not yet supported by runc").
func (r Runc) flags() bool { return r.atLeast(1, 2, 0) }

// knowsArch: runc's patchbpf maps riscv64 from 1.2 and loongarch64 from
// 1.4; an architecture it cannot map makes it fail to load the filter.
func (r Runc) knowsArch(a string) bool {
	switch a {
	case "riscv64":
		return r.atLeast(1, 2, 0)
	case "loongarch64":
		return r.atLeast(1, 4, 0)
	}
	_, ok := auditArch[a]
	return ok
}

func (r Runc) String() string {
	r = r.resolved()
	if r.Source == "assumed" {
		return "runc ≥ " + r.Version + " (assumed)"
	}
	return "runc " + r.Version
}
