package main

import "github.com/spf13/cobra"

func newComposeCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "compose",
		Short: "Audit and harden Docker Compose files",
	}
	return cmd
}
