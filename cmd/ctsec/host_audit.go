package main

import (
	"context"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/spf13/cobra"
)

type hostAuditOptions struct {
	Host    hostOpts
	Modules []string
}

type hostAuditData struct {
	Root    string   `json:"root"`
	Policy  string   `json:"policy"` // the file, or "baseline"
	Modules []string `json:"modules"`
}

func newHostAuditCmd(a *app, runF runFunc[hostAuditOptions]) *cobra.Command {
	if runF == nil {
		runF = runHostAudit
	}
	opts := &hostAuditOptions{}
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
  auditd    whether Docker's files and binaries have audit watches, on disk
            and in the kernel (CIS 1.1.x)
  integrity AIDE's database (present, recent, Docker left out, checked
            daily) and rkhunter's configuration for Debian

A finding's rule is the check (host/ssh-option), its target the setting
(sshd permitrootlogin), its location the file:line that sets it. --fail-on
sets the exit code.`,
		Example: `  ctsec host audit
  ctsec host audit ssh sysctl --format json
  ctsec host audit --root /mnt/image --fail-on medium`,
		ValidArgsFunction: moduleCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Modules = args
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Host.addFlags(a, cmd, true, false)
	return withRules(audit(cmd), "host audit")
}

func runHostAudit(ctx context.Context, opts *hostAuditOptions, _ *app) (*report.Report, error) {
	e, pol, err := opts.Host.setup(opts.Modules)
	if err != nil {
		return nil, err
	}
	findings, err := e.Audit(ctx, pol)
	if err != nil {
		return nil, err
	}
	data := hostAuditData{Root: opts.Host.root, Policy: opts.Host.policyName(), Modules: []string{}}
	for _, m := range e.Modules {
		data.Modules = append(data.Modules, m.Name())
	}
	r := report.New("host audit", findings, data)
	r.Rules = host.Rules
	return &r, nil
}
