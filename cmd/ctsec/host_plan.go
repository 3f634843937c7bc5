package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/ctsec/ctsec/host"
	"github.com/spf13/cobra"
)

func newHostPlanCmd(a *app) *cobra.Command {
	var o hostOpts
	cmd := &cobra.Command{
		Use:   "plan [MODULE...]",
		Short: "Show the exact file edits and commands apply would make (changes nothing)",
		Long: `Plan prints, per module, the unified diff of every file apply would write,
the commands it would run to verify and activate them, and the lockout
guards that would refuse it. Nothing is changed.

Exit status 1 when a guard refuses the plan (apply would need --force).`,
		Example: `  ctsec host plan
  ctsec host plan ssh --policy ./ctsec-host.yaml
  ctsec host plan --root /mnt/image --format json`,
		ValidArgsFunction: moduleCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, pol, err := o.setup(args)
			if err != nil {
				return err
			}
			plan, err := e.Plan(cmd.Context(), pol)
			if err != nil {
				return err
			}
			if err := printPlan(a, plan); err != nil {
				return err
			}
			if r := plan.Refusals(); len(r) > 0 {
				return failed("%d lockout guard(s) refuse this plan; apply needs --force", len(r))
			}
			return nil
		},
	}
	o.addFlags(a, cmd, true, false)
	return cmd
}

func printPlan(a *app, plan *host.Plan) error {
	if a.jsonOutput() {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(plan)
	}
	writePlan(a.stdout, plan)
	return nil
}

func writePlan(w io.Writer, plan *host.Plan) {
	if !plan.Changed() {
		fmt.Fprintln(w, "nothing to change: the host already matches the policy")
	}
	for _, m := range plan.Modules {
		if !m.Changed() && len(m.Refusals) == 0 && len(m.Notes) == 0 {
			fmt.Fprintf(w, "== %s: no change\n", m.Module)
			continue
		}
		fmt.Fprintf(w, "== %s\n", m.Module)
		for _, e := range m.Edits {
			fmt.Fprint(w, e.Diff)
		}
		for _, c := range m.Commands {
			fmt.Fprintf(w, "run: %s\n", c)
		}
		for _, n := range m.Notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
		for _, r := range m.Refusals {
			fmt.Fprintf(w, "REFUSED (%s): %s\n", r.Guard, r.Reason)
		}
	}
}
