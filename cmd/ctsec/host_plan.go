package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/spf13/cobra"
)

type hostPlanOptions struct {
	Host    hostOpts
	Modules []string
}

func newHostPlanCmd(a *app, runF runFunc[hostPlanOptions]) *cobra.Command {
	if runF == nil {
		runF = runHostPlan
	}
	opts := &hostPlanOptions{}
	cmd := &cobra.Command{
		Use:   "plan [MODULE...]",
		Short: "Show the exact file edits and commands apply would make (changes nothing)",
		Long: `Plan prints, per module, the unified diff of every file apply would write,
the commands it would run to verify and activate them, and — first — the
lockout guards that would refuse it, each with what to change so it no
longer does. Nothing is changed.

Exit status 1 when a guard refuses the plan (apply would stop).`,
		Example: `  ctsec host plan
  ctsec host plan ssh --policy ./ctsec-host.yaml
  ctsec host plan --root /mnt/image --format json`,
		ValidArgsFunction: moduleCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Modules = args
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Host.addFlags(a, cmd, true, false)
	return cmd
}

func runHostPlan(ctx context.Context, opts *hostPlanOptions, _ *app) (*report.Report, error) {
	e, pol, err := opts.Host.setup(opts.Modules)
	if err != nil {
		return nil, err
	}
	plan, err := e.Plan(ctx, pol)
	if err != nil {
		return nil, err
	}
	r := report.New("host plan", nil, plan)
	r.Text = func(w io.Writer, o report.Options) error { return writePlan(w, plan, o) }
	return &r, refusedErr(plan, "apply would be refused")
}

// refusedErr is exit 1 for a plan a guard refuses: which guards and why,
// then how to go on (the fixes are in the plan above), --force last.
func refusedErr(plan *host.Plan, what string) error {
	refusals := plan.Refusals()
	if len(refusals) == 0 {
		return nil
	}
	reasons := make([]string, len(refusals))
	for i, r := range refusals {
		reasons[i] = r.Guard + ": " + r.Reason
	}
	return failed("%s by %d lockout guard(s): %s; make the change under each REFUSED line of the plan, or add --force only if you have another way in",
		what, len(refusals), strings.Join(reasons, "; "))
}

// writePlan shows refusals first, each with its fix, then per module the
// diffs (as they are: they are the files' content), commands and notes.
func writePlan(w io.Writer, plan *host.Plan, o report.Options) error {
	width := o.LineWidth()
	fit := func(format string, args ...any) {
		io.WriteString(w, term.Fit(fmt.Sprintf(format, args...), width))
	}
	if refusals := plan.Refusals(); len(refusals) > 0 {
		fit("REFUSED: %d lockout guard(s) would stop apply; fix each, then plan again:\n", len(refusals))
		for _, r := range refusals {
			fit("  %s: %s\n", r.Guard, term.Line(r.Reason))
			if fix := host.GuardFix(r.Guard); fix != "" {
				fit("    fix: %s\n", fix)
			}
		}
		fit("  (apply --force overrides the guards: only with another way into this host)\n\n")
	}
	if !plan.Changed() {
		fit("nothing to change: the host already matches the policy\n")
	}
	for _, m := range plan.Modules {
		if !m.Changed() && len(m.Refusals) == 0 && len(m.Notes) == 0 {
			fit("== %s: no change\n", m.Module)
			continue
		}
		fit("== %s\n", m.Module)
		for _, e := range m.Edits {
			io.WriteString(w, e.Diff)
			for _, warn := range e.Warnings {
				fit("warning: %s: %s\n", e.Path, term.Line(warn))
			}
		}
		for _, c := range m.Commands {
			fit("run: %s\n", c)
		}
		for _, n := range m.Notes {
			fit("note: %s\n", term.Line(n))
		}
		if len(m.Refusals) > 0 {
			names := make([]string, len(m.Refusals))
			for i, r := range m.Refusals {
				names[i] = r.Guard
			}
			fit("refused by: %s (see above)\n", strings.Join(names, ", "))
		}
	}
	return nil
}
