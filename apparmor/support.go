package apparmor

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/ctsec/ctsec/internal/execx"
)

// Support is what this host offers for AppArmor.
type Support struct {
	KernelEnabled bool   `json:"kernel_enabled"` // the LSM is active (parameters/enabled = Y)
	SecurityFS    bool   `json:"securityfs"`     // /sys/kernel/security/apparmor is mounted
	Parser        string `json:"parser,omitempty"`
	ParserVersion string `json:"parser_version,omitempty"`
}

// DetectSupport looks under root for the kernel side and in PATH for apparmor_parser.
func DetectSupport(ctx context.Context, root string) Support {
	var s Support
	b, err := os.ReadFile(filepath.Join(root, "sys/module/apparmor/parameters/enabled"))
	s.KernelEnabled = err == nil && strings.TrimSpace(string(b)) == "Y"
	_, err = os.Stat(filepath.Join(root, "sys/kernel/security/apparmor/profiles"))
	s.SecurityFS = err == nil
	if p, err := execx.LookPath("apparmor_parser"); err == nil {
		s.Parser = p
		if res, err := (execx.Runner{}).Run(ctx, "apparmor_parser", "--version"); err == nil {
			s.ParserVersion = parserVersion(string(res.Stdout) + string(res.Stderr))
		}
	}
	return s
}

// parserVersion picks the version out of "AppArmor parser version 3.0.8\n…".
func parserVersion(out string) string {
	first := strings.SplitN(strings.TrimSpace(out), "\n", 2)[0]
	if f := strings.Fields(first); len(f) > 0 {
		return f[len(f)-1]
	}
	return ""
}
