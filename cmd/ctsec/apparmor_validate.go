package main

import (
	"context"

	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/spf13/cobra"
)

type apparmorValidateOptions struct {
	Files    []string
	Validate apparmor.ValidateOptions
}

type apparmorValidateData struct {
	Files []string `json:"files"`
}

func newApparmorValidateCmd(a *app, runF runFunc[apparmorValidateOptions]) *cobra.Command {
	if runF == nil {
		runF = runApparmorValidate
	}
	opts := &apparmorValidateOptions{}
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
			opts.Files = args
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().BoolVar(&opts.Validate.AllowMultiple, "allow-multiple", false, "accept files that define several profiles")
	cmd.Flags().BoolVar(&opts.Validate.SkipParser, "no-parser", false, "structural checks only (do not run apparmor_parser)")
	cmd.Flags().StringVar(&opts.Validate.Checker.Features, "features", "", "kernel features `FILE` to validate against (default: the pinned AppArmor 3.0 ABI)")
	return withRules(audit(cmd), "apparmor validate")
}

func runApparmorValidate(ctx context.Context, opts *apparmorValidateOptions, _ *app) (*report.Report, error) {
	var findings []report.Finding
	for _, f := range opts.Files {
		data, err := apparmor.ReadFile(f)
		if err != nil {
			return nil, err
		}
		fs, err := apparmor.Validate(ctx, f, data, opts.Validate)
		if err != nil {
			return nil, err
		}
		findings = append(findings, fs...)
	}
	r := report.New("apparmor validate", findings, apparmorValidateData{Files: opts.Files})
	r.Rules = apparmor.ValidateRules()
	return &r, nil
}
