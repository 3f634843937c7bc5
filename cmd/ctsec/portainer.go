package main

import "github.com/spf13/cobra"

func newPortainerCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "portainer",
		Short: "Audit and harden Portainer stacks through its API",
	}
	return cmd
}
