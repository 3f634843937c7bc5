package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/spf13/cobra"
)

type hostApplyOptions struct {
	Host    hostOpts
	Modules []string
	Force   bool
	Within  time.Duration
}

// hostApplyData is apply's result: the plan it carried out and what came
// of it.
type hostApplyData struct {
	Plan   *host.Plan        `json:"plan"`
	Result *host.ApplyResult `json:"result"`
}

func newHostApplyCmd(a *app, runF runFunc[hostApplyOptions]) *cobra.Command {
	if runF == nil {
		runF = runHostApply
	}
	opts := &hostApplyOptions{}
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

Lockout guards refuse (exit 1): password login off while an allowed user
has no usable key, default-deny without the real SSH port, the current SSH
client not whitelisted in fail2ban, ip_forward=0 on a Docker host,
algorithms the installed OpenSSH lacks, one-way sysctls. The plan says what
to change for each; --force overrides them.`,
		Example: `  ctsec host apply ssh
  ctsec host apply --confirm-within 5m
  ctsec host apply --root /mnt/image --state-dir /mnt/image/var/lib/ctsec`,
		ValidArgsFunction: moduleCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Modules = args
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Host.addFlags(a, cmd, true, true)
	cmd.Flags().BoolVar(&opts.Force, "force", false, "apply even though a lockout guard refuses")
	cmd.Flags().DurationVar(&opts.Within, "confirm-within", 0, "roll back automatically unless 'ctsec host confirm' runs within this time (e.g. 5m)")
	return cmd
}

func runHostApply(ctx context.Context, opts *hostApplyOptions, a *app) (*report.Report, error) {
	e, pol, err := opts.Host.setup(opts.Modules)
	if err != nil {
		return nil, err
	}
	text := a.format == report.Text
	if text {
		e.Log = a.stderr
	}
	plan, err := e.Plan(ctx, pol)
	if err != nil {
		return nil, err
	}
	if text {
		// The plan comes first, before anything changes, so a failure
		// further on is read against what was about to be done.
		if err := writePlan(a.stdout, plan, a.options()); err != nil {
			return nil, err
		}
	}
	res, err := e.Apply(ctx, plan, host.ApplyOptions{Force: opts.Force, ConfirmWithin: opts.Within})
	var refused *host.RefusedError
	var rolled *host.RolledBackError
	switch {
	case errors.As(err, &refused):
		err := refusedErr(plan, "apply refused, nothing changed,")
		if text {
			return nil, err
		}
		r := report.New("host apply", nil, hostApplyData{Plan: plan})
		return &r, err
	case errors.As(err, &rolled):
		return nil, failed("apply failed and was rolled back: %w", err)
	case err != nil:
		return nil, err
	}
	r := report.New("host apply", nil, hostApplyData{Plan: plan, Result: res})
	confirm := a.nextCommand("host confirm")
	undo := a.nextCommand("host rollback", res.ID)
	r.Text = func(w io.Writer, o report.Options) error {
		var line string
		switch {
		case !res.Changed:
			line = "nothing applied: the host already matches the policy"
		case opts.Within > 0:
			line = fmt.Sprintf("applied %s (%s); rollback armed (%s): from a NEW ssh login, before %s, run: %s",
				res.ID, strings.Join(res.Modules, ", "), res.Armed, res.Deadline.Format(time.RFC3339), confirm)
		default:
			line = fmt.Sprintf("applied %s (%s); undo with: %s", res.ID, strings.Join(res.Modules, ", "), undo)
		}
		_, err := io.WriteString(w, term.Fit(line+"\n", o.LineWidth()))
		return err
	}
	return &r, nil
}
