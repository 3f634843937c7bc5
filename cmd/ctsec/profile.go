package main

import "github.com/spf13/cobra"

func newProfileCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Generate and record profiles for a service",
	}
	cmd.AddCommand(newProfileGenCmd(a, nil), newProfileRecordCmd(a, nil))
	return cmd
}
