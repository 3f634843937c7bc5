package record

import (
	"fmt"
	"strings"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// compile builds the libseccomp filter for a profile this package wrote,
// the way runc does for its subset (no argument rules, no includes or
// excludes): names libseccomp cannot resolve are skipped, as runc skips
// them. It proves a profile loads before it is written; the caller
// releases the filter.
func compile(p *seccomp.Seccomp) (*libseccomp.ScmpFilter, error) {
	def, err := action(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("default action: %w", err)
	}
	filter, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("creating the filter: %w", err)
	}
	for _, a := range p.Architectures {
		name := strings.ToLower(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
		name = strings.NewReplacer("x86_64", "amd64", "aarch64", "arm64").Replace(name)
		arch, err := libseccomp.GetArchFromString(name)
		if err == nil {
			err = filter.AddArch(arch)
		}
		if err != nil {
			filter.Release()
			return nil, fmt.Errorf("architecture %s: %w", a, err)
		}
	}
	for _, rule := range p.Syscalls {
		act, err := action(rule.Action, rule.ErrnoRet)
		if err != nil {
			filter.Release()
			return nil, fmt.Errorf("rule for %v: %w", rule.Names, err)
		}
		if act == def {
			continue // libseccomp refuses rules that repeat the default; runc skips them too
		}
		for _, name := range rule.Names {
			nr, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue
			}
			if err := filter.AddRule(nr, act); err != nil {
				filter.Release()
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return filter, nil
}

func action(a specs.LinuxSeccompAction, errno *uint) (libseccomp.ScmpAction, error) {
	ret := int16(1) // EPERM, runc's default errno
	if errno != nil {
		ret = int16(*errno)
	}
	switch a {
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(ret), nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	case specs.ActNotify:
		return libseccomp.ActNotify, nil
	}
	return libseccomp.ActInvalid, fmt.Errorf("action %q is not one a recorded profile uses", a)
}

// verify compiles a profile and throws the filter away.
func verify(p *seccomp.Seccomp) error {
	f, err := compile(p)
	if err != nil {
		return err
	}
	f.Release()
	return nil
}
