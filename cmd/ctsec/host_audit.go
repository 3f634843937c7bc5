package main

import (
	"github.com/ctsec/ctsec/internal/report"
	"github.com/spf13/cobra"
)

func newHostAuditCmd(a *app) *cobra.Command {
	var o hostOpts
	cmd := &cobra.Command{
		Use:   "audit [MODULE...]",
		Short: "Report the effective host state against the policy, and where each value comes from",
		Long: `Audit reports, for each module, the effective state and its origin:

  ssh       sshd -T values (globally and per Match block) and the file:line
            that sets each one (sshd keeps the FIRST value it reads)
  sysctl    the running value and the file that wins (the LAST one read)
  firewall  UFW's status, defaults and rules, and published Docker ports
            that bypass UFW unless DOCKER-USER filters them
  fail2ban  the effective jail (fail2ban-client -d) and the file of each
            value, and whether the jail's backend can work here
  updates   whether unattended-upgrades is security-only, and when it runs

Findings use the common model: --format text|json|sarif|junit|markdown,
--fail-on sets the exit code.`,
		Example: `  ctsec host audit
  ctsec host audit ssh sysctl --format json
  ctsec host audit --root /mnt/image --fail-on medium`,
		ValidArgsFunction: moduleCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, pol, err := o.setup(args)
			if err != nil {
				return err
			}
			findings, err := e.Audit(cmd.Context(), pol)
			if err != nil {
				return err
			}
			return a.emit(report.New("host audit", findings, nil))
		},
	}
	o.addFlags(a, cmd, true, false)
	return cmd
}
