package main

import (
	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/modules"
	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/spf13/cobra"
)

// hostOpts are the flags every host subcommand shares.
type hostOpts struct {
	root     string
	stateDir string
	policy   string
	clock    clock.Clock
}

func (o *hostOpts) addFlags(a *app, cmd *cobra.Command, withPolicy, withState bool) {
	o.clock = a.clock
	cmd.Flags().StringVar(&o.root, "root", "/", "root directory of the host (a mounted image or a test tree); services are only reloaded when it is /")
	if withPolicy {
		cmd.Flags().StringVar(&o.policy, "policy", "", "policy YAML (default: the built-in baseline; 'ctsec host init' writes a copy)")
	}
	if withState {
		cmd.Flags().StringVar(&o.stateDir, "state-dir", safefile.DefaultStateDir, "where backups and the change journal are kept")
	}
}

// policyName is the policy as reports name it.
func (o *hostOpts) policyName() string {
	if o.policy == "" {
		return "baseline"
	}
	return o.policy
}

// engine builds the change engine for the named modules.
func (o *hostOpts) engine(names []string) (*host.Engine, error) {
	mods, err := modules.Select(names)
	if err != nil {
		return nil, usageError(err)
	}
	return &host.Engine{Env: host.NewEnv(o.root), StateDir: o.stateDir, Modules: mods, Clock: o.clock}, nil
}

// setup is what audit, plan and apply all start with: the engine for the
// named modules and the policy to hold them to.
func (o *hostOpts) setup(names []string) (*host.Engine, *host.Policy, error) {
	e, err := o.engine(names)
	if err != nil {
		return nil, nil, err
	}
	pol, err := host.LoadPolicy(o.policy)
	if err != nil {
		return nil, nil, usageError(err)
	}
	return e, pol, nil
}

func newHostCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "host",
		Short: "Audit and harden the host: firewall, SSH, sysctl, fail2ban, updates, audit rules, integrity",
		Long: `Audit and harden the host under the containers, module by module:
ssh, fail2ban, sysctl, firewall (UFW, Docker-aware), updates, auditd
(audit rules for Docker's files) and integrity (AIDE, rkhunter).

  audit     the effective state and the file each value comes from
  plan      the exact file edits and commands, as a diff (changes nothing)
  apply     back up, write, verify with the real tool, reload; roll back by
            itself on failure; --confirm-within arms a rollback that runs
            unless 'ctsec host confirm' is run from a new SSH login in time
  rollback  restore an earlier apply; history lists them

Edits go only to drop-ins that win (sshd_config.d/00-ctsec.conf,
sysctl.d/99-zz-ctsec.conf, fail2ban jail.d/ctsec.local, apt.conf.d with
#clear, a systemd timer drop-in) and never to the distribution's files.
Lockout guards refuse a change that could shut the operator out, unless
--force.`,
		Example: `  ctsec host audit
  ctsec host plan ssh fail2ban
  ctsec host apply --confirm-within 5m
  ctsec host confirm          # from a new SSH login
  ctsec host history
  ctsec host rollback`,
	}
	cmd.AddCommand(newHostInitCmd(a, nil), newHostAuditCmd(a, nil), newHostPlanCmd(a, nil), newHostApplyCmd(a, nil),
		newHostConfirmCmd(a, nil), newHostRollbackCmd(a, nil), newHostHistoryCmd(a, nil))
	return cmd
}

func moduleCompletion(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return modules.Names(), cobra.ShellCompDirectiveNoFileComp
}
