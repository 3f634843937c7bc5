package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/ctsec/ctsec/host"
	"github.com/spf13/cobra"
)

func newHostApplyCmd(a *app) *cobra.Command {
	var o hostOpts
	var force bool
	var within time.Duration
	cmd := &cobra.Command{
		Use:   "apply [MODULE...]",
		Short: "Back up, write, verify with the real tool and activate the plan; roll back on failure",
		Long: `Apply prints the plan, then for every module that changes:

  1. backs up each file it will touch (under --state-dir, see history);
  2. with --confirm-within, arms a rollback (a systemd timer where systemd
     runs, otherwise a detached process) BEFORE anything changes;
  3. writes the files atomically;
  4. verifies them with the real tool: sshd -t and sshd -T values,
     fail2ban-client -t and -d values, sysctl --dry-run -p, ufw in a
     private namespace, apt-config dump;
  5. activates them (reload ssh, sysctl -p, fail2ban reload, ufw reload,
     systemctl daemon-reload) when --root is /.

Any failure restores every file byte for byte and the previous live state.
With --confirm-within, run 'ctsec host confirm' from a NEW SSH login before
the time runs out, or everything is rolled back.

Lockout guards refuse (exit 1) unless --force: password login off while an
allowed user has no usable key, default-deny without the real SSH port,
the current SSH client not whitelisted in fail2ban, ip_forward=0 on a
Docker host, algorithms the installed OpenSSH lacks, one-way sysctls.`,
		Example: `  ctsec host apply ssh
  ctsec host apply --confirm-within 5m
  ctsec host apply --root /mnt/image --state-dir /mnt/image/var/lib/ctsec`,
		ValidArgsFunction: moduleCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, pol, err := o.setup(args)
			if err != nil {
				return err
			}
			if !a.jsonOutput() {
				e.Log = a.stderr
			}
			plan, err := e.Plan(cmd.Context(), pol)
			if err != nil {
				return err
			}
			if !a.jsonOutput() {
				writePlan(a.stdout, plan)
			}
			res, err := e.Apply(cmd.Context(), plan, host.ApplyOptions{Force: force, ConfirmWithin: within})
			var refused *host.RefusedError
			var rolled *host.RolledBackError
			switch {
			case errors.As(err, &refused):
				return failed("%v", err)
			case errors.As(err, &rolled):
				return failed("apply failed and was rolled back: %v", err)
			case err != nil:
				return err
			}
			if a.jsonOutput() {
				return writeJSON(a.stdout, map[string]any{"plan": plan, "result": res})
			}
			switch {
			case !res.Changed:
				fmt.Fprintln(a.stdout, "nothing applied: the host already matches the policy")
			case within > 0:
				fmt.Fprintf(a.stdout, "applied %s (%v); rollback armed (%s): run `ctsec host confirm` from a new SSH login before %s\n",
					res.ID, res.Modules, res.Armed, res.Deadline.Format(time.RFC3339))
			default:
				fmt.Fprintf(a.stdout, "applied %s (%v); undo with `ctsec host rollback %s`\n", res.ID, res.Modules, res.ID)
			}
			return nil
		},
	}
	o.addFlags(a, cmd, true, true)
	cmd.Flags().BoolVar(&force, "force", false, "apply even though a lockout guard refuses")
	cmd.Flags().DurationVar(&within, "confirm-within", 0, "roll back automatically unless 'ctsec host confirm' runs within this time (e.g. 5m)")
	return cmd
}
