package main

import "github.com/spf13/cobra"

func newApparmorCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apparmor",
		Short: "Generate, validate, load and promote AppArmor profiles",
	}
	cmd.AddCommand(
		newApparmorReviewCmd(a),
		newApparmorPromoteCmd(a),
		newApparmorDemoteCmd(a),
	)
	return cmd
}
