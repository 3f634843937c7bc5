package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	profile "github.com/ctsec/ctsec/profiles/host"
	"github.com/spf13/cobra"
)

type hostInitOptions struct {
	Path  string // "-" for stdout
	Force bool
}

type hostInitData struct {
	Path    string `json:"path,omitempty"`
	Written bool   `json:"written"`
	Policy  string `json:"policy"`
}

func newHostInitCmd(a *app, runF runFunc[hostInitOptions]) *cobra.Command {
	if runF == nil {
		runF = runHostInit
	}
	opts := &hostInitOptions{}
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
			opts.Path = "ctsec-host.yaml"
			if len(args) == 1 {
				opts.Path = args[0]
			}
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace an existing file")
	return cmd
}

func runHostInit(_ context.Context, opts *hostInitOptions, a *app) (*report.Report, error) {
	policy := profile.Baseline()
	data := hostInitData{Policy: string(policy)}
	if opts.Path == "-" {
		r := report.New("host init", nil, data)
		r.Text = func(w io.Writer, _ report.Options) error {
			_, err := w.Write(policy)
			return err
		}
		return &r, nil
	}
	if _, err := os.Stat(opts.Path); err == nil && !opts.Force {
		return nil, failed("%s exists; use --force to replace it", opts.Path)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := safefile.WriteFile(opts.Path, policy, 0o644); err != nil {
		return nil, err
	}
	data.Path, data.Written = opts.Path, true
	next := a.nextCommand("host plan", "--policy", opts.Path)
	r := report.New("host init", nil, data)
	r.Text = func(w io.Writer, _ report.Options) error {
		_, err := fmt.Fprintf(w, "wrote %s; edit it, then: %s\n", opts.Path, next)
		return err
	}
	return &r, nil
}
