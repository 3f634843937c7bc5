package main

import "github.com/spf13/cobra"

func newApparmorCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apparmor",
		Short: "Generate, validate, load and promote AppArmor profiles",
		Long: `AppArmor profiles for containers: one named profile per service (the name
ties log events to the service), generated from a spec or a template,
validated with apparmor_parser before it is loaded, installed under
/etc/apparmor.d/containers/ so it survives AppArmor reloads.

Every path and name from a log, a compose file or a spec reaches a profile
only through typed values: literal paths are quoted and escaped, patterns
are checked, names are validated.`,
	}
	cmd.AddCommand(
		newApparmorValidateCmd(a, nil),
		newApparmorLoadCmd(a, nil),
		newApparmorStatusCmd(a, nil),
		newApparmorGenCmd(a, nil),
		newApparmorTemplateCmd(a, nil),
		newApparmorReviewCmd(a, nil),
		newApparmorPromoteCmd(a, nil),
		newApparmorDemoteCmd(a, nil),
	)
	return cmd
}
