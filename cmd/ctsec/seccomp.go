package main

import "github.com/spf13/cobra"

func newSeccompCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "seccomp",
		Short: "Validate, lint, compile, diff and try seccomp profiles",
	}
	return cmd
}
