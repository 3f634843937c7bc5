package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ctsec/ctsec/internal/safefile"
	profile "github.com/ctsec/ctsec/profiles/host"
	"github.com/spf13/cobra"
)

func newHostInitCmd(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init [FILE]",
		Short: "Write a copy of the baseline host policy to edit (default ctsec-host.yaml, - for stdout)",
		Long: `Init writes the built-in baseline policy (the runbook's values: UFW
default-deny with 22/80/443/5432, fail2ban sshd 3 tries in 10 minutes → 1 h
ban, SSH key-only without root login, kernel sysctls, security updates at
02:00 without reboot) to FILE for editing. Use it with --policy FILE.
An existing file is not overwritten without --force.`,
		Example: `  ctsec host init
  ctsec host init /etc/ctsec/host.yaml
  ctsec host init - | less`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "ctsec-host.yaml"
			if len(args) == 1 {
				path = args[0]
			}
			data := profile.Baseline()
			if path == "-" {
				_, err := a.stdout.Write(data)
				return err
			}
			if _, err := os.Stat(path); err == nil && !force {
				return failed("%s exists; use --force to replace it", path)
			} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := safefile.WriteFile(path, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "wrote %s; edit it, then: ctsec host plan --policy %s\n", path, path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing file")
	return cmd
}
