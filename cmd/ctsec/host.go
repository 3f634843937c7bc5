package main

import "github.com/spf13/cobra"

func newHostCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "host",
		Short: "Audit and harden the host: firewall, SSH, sysctl, fail2ban, updates",
	}
	return cmd
}
