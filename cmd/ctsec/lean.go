//go:build lean

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/spf13/cobra"
)

// A lean build (go build -tags lean) leaves out compose-go, the JSON Schema
// validator it links and the man-page generator: their package
// initialisation was most of every command's start-up (docs/startup.md). It
// lists compose, portainer and man as the default build does and runs them
// by executing ctsec-compose — the default build, installed beside it by
// scripts/install.sh — with the same arguments, so help, completion, output
// and exit codes are that build's own.

const (
	helperName = "ctsec-compose"
	// helperEnv names the helper to run instead of the installed one.
	helperEnv           = "CTSEC_COMPOSE"
	delegatedAnnotation = "ctsec/delegated"
)

func composeCmds() []topCmd {
	return []topCmd{
		{"compose", func(*app) *cobra.Command { return delegatedCmd("compose", composeShort, false) }},
		{"portainer", func(*app) *cobra.Command { return delegatedCmd("portainer", portainerShort, false) }},
		{"man", func(*app) *cobra.Command { return delegatedCmd(manUse, manShort, true) }},
	}
}

func delegatedCmd(use, short string, hidden bool) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Hidden: hidden,
		DisableFlagParsing: true,
		Annotations:        map[string]string{delegatedAnnotation: helperName},
		// runApp hands the command line to ctsec-compose before cobra
		// parses it; this runs only if that check was bypassed.
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("%s: internal error: not handed to %s", cmd.CommandPath(), helperName)
		},
	}
}

// delegated is the command of args that ctsec-compose runs, or nil. Help
// and shell completion of those commands go there too: their flags and
// subcommands are defined only in that build.
func delegated(root *cobra.Command, args []string) *cobra.Command {
	find := args
	if len(args) > 0 {
		switch args[0] {
		case "help", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
			find = args[1:]
		}
	}
	c, _, err := root.Find(find)
	if err != nil || c.Annotations[delegatedAnnotation] == "" {
		return nil
	}
	return c
}

// delegate replaces this process with ctsec-compose running the same
// command line: signals, the terminal and the exit code are then its own.
func (a *app) delegate(c *cobra.Command, args []string) error {
	path, err := a.helper(c.CommandPath())
	if err != nil {
		return err
	}
	argv := append([]string{"ctsec"}, args...)
	if err := syscall.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("%s: running %s: %w", c.CommandPath(), path, err)
	}
	return nil
}

// helper finds ctsec-compose: $CTSEC_COMPOSE, else PREFIX/libexec/ctsec/
// for this binary's PREFIX/bin, else beside this binary. ctsec runs as
// root, and so would the helper: one that someone else could have replaced
// is refused, as an untrusted state directory is; and one that is this
// binary (CTSEC_COMPOSE or a link to ctsec) would exec itself for ever.
func (a *app) helper(what string) (string, error) {
	path, err := a.findHelper(what)
	if err != nil {
		return "", err
	}
	if err := safefile.CheckExecutable(path); err != nil {
		return "", fmt.Errorf("%s: not running %s: %w", what, helperName, err)
	}
	if self, err := os.Executable(); err == nil && sameFile(self, path) {
		return "", fmt.Errorf("%s: %s is this lean build of ctsec itself, not the build with the compose commands; install both with scripts/install.sh", what, path)
	}
	return path, nil
}

func (a *app) findHelper(what string) (string, error) {
	if p := a.getenv(helperEnv); p != "" {
		if !filepath.IsAbs(p) {
			return "", usageError(fmt.Errorf("%s=%q: want an absolute path", helperEnv, p))
		}
		return p, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("%s: finding %s: %w", what, helperName, err)
	}
	dir := filepath.Dir(self)
	tried := []string{
		filepath.Join(filepath.Dir(dir), "libexec", "ctsec", helperName),
		filepath.Join(dir, helperName),
	}
	for _, p := range tried {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: this is the lean build of ctsec, which runs compose, portainer and man through %s, and none is installed (looked for %s); install both with scripts/install.sh, or set %s to one",
		what, helperName, strings.Join(tried, " and "), helperEnv)
}

func (a *app) composeCheck() doctorCheck {
	c := doctorCheck{Rule: "doctor/compose-commands", Name: "compose commands", Needed: "compose, portainer, man"}
	path, err := a.helper("ctsec compose")
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	c.OK, c.Detail = true, "run through "+path
	return c
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

func composeRuleArea() ruleArea {
	return ruleArea{Name: "compose", Commands: "compose audit, compose harden, portainer (through " + helperName + ")"}
}

func composeAuditRules() report.Rules { return nil }
