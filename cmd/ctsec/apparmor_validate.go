package main

import (
	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/spf13/cobra"
)

func newApparmorValidateCmd(a *app) *cobra.Command {
	var o apparmor.ValidateOptions
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check AppArmor profile files before they are loaded",
		Long: `validate checks each profile file in two steps:

  1. structure, with ctsec's own parser: one profile per file (unless
     --allow-multiple), balanced braces, every rule terminated by a comma,
     known permission letters, exec modes, flags and keywords;
  2. apparmor_parser -QK (compile, load nothing) against a pinned AppArmor
     3.0 feature ABI, so the result does not depend on this kernel: without
     one, apparmor_parser on a host without AppArmor silently ignores
     signal, ptrace, unix, mount and network rules. Use --features with a
     file from 'aa-features-abi -x -w FILE' to check against a target host.

Problems are findings at FILE:LINE. Exit 1 when a finding reaches --fail-on
(default high), 2 when a file cannot be read.`,
		Example: `  ctsec apparmor validate profiles/web.apparmor
  ctsec apparmor validate --format json /etc/apparmor.d/containers/*
  ctsec apparmor validate --features host-features.abi web.apparmor`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var findings []report.Finding
			for _, f := range args {
				data, err := apparmor.ReadFile(f)
				if err != nil {
					return err
				}
				fs, err := apparmor.Validate(cmd.Context(), f, data, o)
				if err != nil {
					return err
				}
				findings = append(findings, fs...)
			}
			return a.emit(report.New("apparmor validate", findings, map[string]any{"files": args}))
		},
	}
	cmd.Flags().BoolVar(&o.AllowMultiple, "allow-multiple", false, "accept files that define several profiles")
	cmd.Flags().BoolVar(&o.SkipParser, "no-parser", false, "structural checks only (do not run apparmor_parser)")
	cmd.Flags().StringVar(&o.Checker.Features, "features", "", "kernel features file to validate against (default: the pinned AppArmor 3.0 ABI)")
	return cmd
}
