package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/seccomp/record"
	"github.com/spf13/cobra"
)

func run(ctx context.Context, clk clock.Clock, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runApp(ctx, &app{stdin: stdin, stdout: stdout, stderr: stderr, clock: clock.Or(clk)}, args)
}

// runEnv is run with environment variables for the output's shape
// (COLUMNS, NO_COLOR), which the binary reads from its environment.
func runEnv(ctx context.Context, clk clock.Clock, env map[string]string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	return runApp(ctx, &app{stdin: stdin, stdout: stdout, stderr: stderr, clock: clock.Or(clk), lookupEnv: lookup}, args)
}

func runApp(ctx context.Context, a *app, args []string) int {
	stdin, stdout, stderr := a.stdin, a.stdout, a.stderr
	root := newRootCmdFor(a, args)
	if helper := delegated(root, args); helper != nil {
		return exitCode(a.delegate(helper, args), stderr)
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return exitCode(root.ExecuteContext(ctx), stderr)
}

func newRootBase(a *app) *cobra.Command {
	formats := make([]string, len(report.Formats))
	for i, f := range report.Formats {
		formats[i] = string(f)
	}
	root := &cobra.Command{
		Use:   "ctsec",
		Short: "Harden Docker hosts: seccomp and AppArmor profiles, stacks, CIS benchmark, the host",
		Long: `ctsec hardens Docker hosts and proves what it did.

Every command that changes something shows the change first (a diff or a
plan) and changes nothing without --write or apply; changes are written
atomically, backed up under --state-dir, verified with the real tool and
rolled back when verification fails.

Exit codes: 0 done and nothing at or above --fail-on; 1 findings at or above
--fail-on, or a validation failed; 2 the job could not be done (bad usage,
unreadable or malformed input, missing tool or engine).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			a.armInterrupt(cmd.Context(), cmd)
			a.cmd = cmd
			for _, n := range a.notes {
				fmt.Fprintln(a.stderr, n)
			}
			var err error
			if a.format, err = report.ParseFormat(a.formatName); err != nil {
				return usageError(err)
			}
			if err := checkFormat(cmd, a.format); err != nil {
				return err
			}
			if a.failOn, err = report.ParseSeverity(a.failOnName); err != nil {
				return usageError(fmt.Errorf("--fail-on: %w", err))
			}
			switch a.colorMode {
			case "auto", "always", "never":
			default:
				return usageError(fmt.Errorf("--color: want auto, always or never, not %q", a.colorMode))
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError(flagError(c, err)) })
	root.SetHelpFunc(a.helpFunc)
	root.SetUsageFunc(func(c *cobra.Command) error {
		a.writeUsage(c.OutOrStderr(), c)
		return nil
	})
	pf := root.PersistentFlags()
	pf.StringVarP(&a.formatName, "format", "f", "text", "output format: "+strings.Join(formats, ", "))
	pf.StringVar(&a.failOnName, "fail-on", "high", "audits: exit 1 when a finding is at or above this severity (info, low, medium, high, critical, none)")
	pf.StringVar(&a.colorMode, "color", "auto", "colour people-facing output: auto (terminal and no NO_COLOR), always, never")
	root.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
	root.RegisterFlagCompletionFunc("fail-on", cobra.FixedCompletions(
		[]string{"info", "low", "medium", "high", "critical", "none"}, cobra.ShellCompDirectiveNoFileComp))

	return root
}

// newRootCmd is the whole command tree.
func newRootCmd(a *app) *cobra.Command {
	root := newRootBase(a)
	for _, t := range topCmds() {
		root.AddCommand(t.build(a))
	}
	groups(root)
	return root
}

// newRootCmdFor is the tree args need: the root and the one command under
// it that args run (building every command's flags was a tenth of each
// start-up, docs/startup.md), or the whole tree when args name none of them
// (ctsec's own help, completion, a mistyped command). cobra itself finds
// the command, on a root whose commands are names only, so the choice is
// the one its parsing makes.
func newRootCmdFor(a *app, args []string) *cobra.Command {
	root := newRootBase(a)
	tops := topCmds()
	names := make([]*cobra.Command, len(tops))
	for i, t := range tops {
		names[i] = &cobra.Command{Use: t.name, Run: func(*cobra.Command, []string) {}}
	}
	root.AddCommand(names...)
	c, _, err := root.Find(args)
	root.RemoveCommand(names...)
	whole := err != nil || c == root
	if !whole {
		root.Annotations = map[string]string{partialAnnotation: c.Name()}
	}
	for _, t := range tops {
		if whole || t.name == c.Name() {
			root.AddCommand(t.build(a))
		}
	}
	groups(root)
	return root
}

// partialAnnotation marks a root built with one command under it.
const partialAnnotation = "ctsec-partial-tree"

// fullTree is the whole tree cmd belongs to, for looking up the flags of
// commands other than the one running (the next commands a fix names); it
// is built on first use when runApp built only the running command.
func (a *app) fullTree(cmd *cobra.Command) *cobra.Command {
	root := cmd.Root()
	if root.Annotations[partialAnnotation] == "" {
		return root
	}
	if a.tree == nil {
		// its own app: building binds flags to their defaults
		a.tree = newRootCmd(&app{clock: a.clock})
	}
	return a.tree
}

// topCmd is a command under the root and how to build it.
type topCmd struct {
	name  string
	build func(*app) *cobra.Command
}

// topCmds are the commands under the root, in the order help lists them;
// compose, portainer and man are linked in (the default build) or run
// through ctsec-compose (-tags lean, docs/startup.md).
func topCmds() []topCmd {
	return append([]topCmd{
		{"version", func(a *app) *cobra.Command { return newVersionCmd(a, nil) }},
		{"doctor", func(a *app) *cobra.Command { return newDoctorCmd(a, nil) }},
		{"seccomp", newSeccompCmd},
		{"apparmor", newApparmorCmd},
		{"profile", newProfileCmd},
		{"bench", func(a *app) *cobra.Command { return newBenchCmd(a, nil) }},
		{"host", newHostCmd},
		{"status", func(a *app) *cobra.Command { return newStatusCmd(a, nil) }},
		{"tls", newTLSCmd},
		{"schedule", newScheduleCmd},
		{"history", func(a *app) *cobra.Command { return newHistoryCmd(a, nil) }},
		{"rollback", func(a *app) *cobra.Command { return newRollbackCmd(a, nil) }},
		{record.ShimCommand, func(*app) *cobra.Command { return newRecordShimCmd() }},
	}, composeCmds()...)
}

// groups makes every command that holds subcommands refuse a mistyped one.
func groups(c *cobra.Command) {
	if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		groupCmd(c)
	}
	for _, sub := range c.Commands() {
		groups(sub)
	}
}

// usageError is exit code 2 for a command line that cannot be obeyed.
func usageError(err error) error { return &exitErr{code: exitError, err: err} }
