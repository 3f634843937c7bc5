package apparmor

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/ctsec/ctsec/internal/execx"
)

// pinnedFeatures is the AppArmor 3.0 feature ABI (Debian 12's
// /etc/apparmor.d/abi/3.0). Without a features file apparmor_parser falls
// back to an ancient built-in ABI on hosts without AppArmor (CI, containers)
// and silently drops signal, ptrace, unix, mount and network mediation.
//
//go:embed abi/3.0
var pinnedFeatures []byte

// PinnedFeatures returns the feature ABI ctsec validates against by default.
func PinnedFeatures() []byte { return bytes.Clone(pinnedFeatures) }

// Checker runs apparmor_parser without loading anything into the kernel.
type Checker struct {
	// Features is a kernel features file (e.g. from `aa-features-abi -x -w`);
	// empty means the pinned AppArmor 3.0 ABI.
	Features string
	// IncludeDirs are extra -I directories; BaseDir is -b (default /etc/apparmor.d).
	IncludeDirs []string
	BaseDir     string
	Runner      execx.Runner
}

// ParserError is one complaint from apparmor_parser.
type ParserError struct {
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func (e ParserError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return e.Message
}

// withFeatures calls fn with the path of the features file to use.
func (c Checker) withFeatures(fn func(path string) error) error {
	if c.Features != "" {
		return fn(c.Features)
	}
	dir, err := os.MkdirTemp("", "ctsec-aa-features-")
	if err != nil {
		return fmt.Errorf("writing pinned feature ABI: %w", err)
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "features")
	if err := os.WriteFile(p, pinnedFeatures, 0o600); err != nil {
		return fmt.Errorf("writing pinned feature ABI: %w", err)
	}
	return fn(p)
}

func (c Checker) args(features string, extra ...string) []string {
	args := []string{"-QK", "--kernel-features", features, "--Werror=rule-not-enforced"}
	if c.BaseDir != "" {
		args = append(args, "-b", c.BaseDir)
	}
	for _, d := range c.IncludeDirs {
		args = append(args, "-I", d)
	}
	return append(args, extra...)
}

// Check compiles text (named name in messages) with `apparmor_parser -QK`
// against the feature ABI. It returns the parser's complaints; the error is
// for a parser that is missing or could not run.
func (c Checker) Check(ctx context.Context, text []byte) ([]ParserError, error) {
	var problems []ParserError
	err := c.withFeatures(func(features string) error {
		r := c.Runner
		r.Stdin = bytes.NewReader(text)
		res, err := r.Run(ctx, "apparmor_parser", c.args(features)...)
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			problems = parseParserErrors(res.Stderr)
		}
		if res.ExitCode != 0 && len(problems) == 0 {
			// A rule the ABI does not enforce fails --Werror without a word
			// unless that warning is on; it is not on by default because it
			// also flags rules that are enforced in part (deny network raw).
			r.Stdin = bytes.NewReader(text)
			if again, err := r.Run(ctx, "apparmor_parser", c.args(features, "--warn=rule-not-enforced")...); err == nil && again.ExitCode != 0 {
				problems = parseParserErrors(again.Stderr)
			}
			if len(problems) == 0 {
				problems = []ParserError{{Message: fmt.Sprintf("apparmor_parser exited %d", res.ExitCode)}}
			}
		}
		return nil
	})
	return problems, err
}

// Names lists the profiles text defines, as `apparmor_parser -N` reports them.
func (c Checker) Names(ctx context.Context, text []byte) ([]string, error) {
	var names []string
	err := c.withFeatures(func(features string) error {
		r := c.Runner
		r.Stdin = bytes.NewReader(text)
		res, err := r.Run(ctx, "apparmor_parser", c.args(features, "-N")...)
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("apparmor_parser -N: %s", parseParserErrors(res.Stderr))
		}
		for _, l := range strings.Split(string(res.Stdout), "\n") {
			if l != "" {
				names = append(names, l)
			}
		}
		return nil
	})
	return names, err
}

var (
	parserLineRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?:at line|line) (\d+)`) })
	parserNoise  = []string{"Cache read/write disabled", "Warning: unable to find a suitable fs"}
)

// parseParserErrors keeps apparmor_parser's meaningful lines and the line
// numbers it names ("AppArmor parser error at line 2: syntax error …").
func parseParserErrors(stderr []byte) []ParserError {
	var out []ParserError
	for _, l := range strings.Split(string(stderr), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || hasAnyPrefix(l, parserNoise) {
			continue
		}
		e := ParserError{Message: l}
		if m := parserLineRE().FindStringSubmatch(l); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
		}
		out = append(out, e)
	}
	return out
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Compile returns the binary policy `apparmor_parser -QKS` produces for text.
// Two texts with the same binary policy mean the same thing to the kernel.
func (c Checker) Compile(ctx context.Context, text []byte) ([]byte, error) {
	var out []byte
	err := c.withFeatures(func(features string) error {
		r := c.Runner
		r.Stdin = bytes.NewReader(text)
		res, err := r.Run(ctx, "apparmor_parser", c.args(features, "-S")...)
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("apparmor_parser -S: %v", parseParserErrors(res.Stderr))
		}
		out = res.Stdout
		return nil
	})
	return out, err
}
