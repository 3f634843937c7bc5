package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newHostConfirmCmd(a *app) *cobra.Command {
	var o hostOpts
	var force bool
	cmd := &cobra.Command{
		Use:   "confirm [ID]",
		Short: "Keep an apply made with --confirm-within and disarm its rollback",
		Long: `Confirm keeps the newest apply waiting for confirmation (or ID) and stops
its armed rollback. Run it from a NEW SSH login: that proves the host still
lets you in. Confirming from the session that applied is refused unless
--force.`,
		Example: `  ssh admin@host sudo ctsec host confirm`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := o.engine(nil)
			if err != nil {
				return err
			}
			j, err := e.Confirm(cmd.Context(), firstArg(args), force)
			if err != nil {
				return failed("%v", err)
			}
			if a.jsonOutput() {
				return writeJSON(a.stdout, j)
			}
			fmt.Fprintf(a.stdout, "confirmed %s; its rollback is disarmed\n", j.ID)
			return nil
		},
	}
	o.addFlags(a, cmd, false, true)
	cmd.Flags().BoolVar(&force, "force", false, "confirm even from the session that applied")
	return cmd
}

func newHostRollbackCmd(a *app) *cobra.Command {
	var o hostOpts
	var ifUnconfirmed bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "rollback [ID]",
		Short: "Restore the files and live state of an earlier apply (default: the newest)",
		Long: `Rollback restores every file an apply changed, byte for byte with its mode
and owner (files it created are removed), then makes the running system use
them again (reload sshd, previous sysctl values, ufw, fail2ban). Without ID
it undoes the newest apply that is not rolled back yet; see 'ctsec host
history'.`,
		Example: `  ctsec host rollback
  ctsec host rollback 20260101T020000Z-a1b2c3`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := o.engine(nil)
			if err != nil {
				return err
			}
			if ifUnconfirmed {
				if len(args) != 1 {
					return usageError(fmt.Errorf("--if-unconfirmed needs an ID"))
				}
				done, err := e.RollbackIfUnconfirmed(cmd.Context(), args[0], wait)
				if err != nil {
					return err
				}
				if done {
					fmt.Fprintf(a.stdout, "rolled back %s: not confirmed in time\n", args[0])
				} else {
					fmt.Fprintf(a.stdout, "%s was confirmed; nothing rolled back\n", args[0])
				}
				return nil
			}
			id, err := e.Rollback(cmd.Context(), firstArg(args))
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				return writeJSON(a.stdout, map[string]string{"rolled_back": id})
			}
			fmt.Fprintf(a.stdout, "rolled back %s\n", id)
			return nil
		},
	}
	o.addFlags(a, cmd, false, true)
	cmd.Flags().BoolVar(&ifUnconfirmed, "if-unconfirmed", false, "only roll back if the change was not confirmed (what the armed timer runs)")
	cmd.Flags().DurationVar(&wait, "wait", 0, "with --if-unconfirmed: sleep this long first")
	cmd.Flags().MarkHidden("if-unconfirmed")
	cmd.Flags().MarkHidden("wait")
	return cmd
}

func newHostHistoryCmd(a *app) *cobra.Command {
	var o hostOpts
	cmd := &cobra.Command{
		Use:     "history",
		Short:   "List host applies, their status and how to undo them",
		Example: `  ctsec host history --format json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := o.engine(nil)
			if err != nil {
				return err
			}
			js, err := e.History()
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				if js == nil {
					return writeJSON(a.stdout, []any{})
				}
				return writeJSON(a.stdout, js)
			}
			if len(js) == 0 {
				fmt.Fprintln(a.stdout, "no host changes recorded in "+o.stateDir)
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIME\tMODULES\tSTATUS\tROOT")
			for _, j := range js {
				status := j.Status
				if j.Reason != "" {
					status += " (" + j.Reason + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.ID, j.Time.Format(time.RFC3339), strings.Join(j.Modules, ","), status, j.Root)
			}
			return tw.Flush()
		},
	}
	o.addFlags(a, cmd, false, true)
	return cmd
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
