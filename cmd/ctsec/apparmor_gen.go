package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/spf13/cobra"
)

type apparmorGenOptions struct {
	Name     string
	Spec     string // YAML service spec
	Base     string // template without a spec: docker-default or strict
	Output   string // file to write; empty prints the profile
	StateDir string
	Enforce  bool
	Force    bool
}

// apparmorGenData is gen's result. Text is the profile itself, printed when
// it is not written to a file.
type apparmorGenData struct {
	Profile     string `json:"profile"`
	Mode        string `json:"mode"`
	Output      string `json:"output,omitempty"`
	Written     bool   `json:"written"`
	Backup      string `json:"backup,omitempty"`
	SecurityOpt string `json:"security_opt"`
	Text        string `json:"text"`
}

func newApparmorGenCmd(a *app, runF runFunc[apparmorGenOptions]) *cobra.Command {
	if runF == nil {
		runF = runApparmorGen
	}
	opts := &apparmorGenOptions{}
	cmd := &cobra.Command{
		Use:   "gen NAME",
		Short: "Generate the AppArmor profile ctsec-NAME for a service",
		Long: `gen builds the profile ctsec-NAME from a base (docker-default as Docker renders
it, or strict) and, with --spec, a YAML service spec: read-only, writable,
executable and denied paths, capabilities, network protocols and extra
rules. It is validated as 'ctsec apparmor validate' does (apparmor_parser -QK
against the pinned 3.0 ABI) before anything is written: a profile the parser
refuses is an error (exit 1) and nothing is written. The profile is in
complain mode (log, do not block) unless --enforce or the spec says
'mode: enforce'. A complain-mode profile carries
'# ctsec: complain since DATE', from which 'apparmor review' counts days in
complain mode; 'apparmor load' sets it to the day it installs the profile
and keeps it on reinstall, so regenerating or reloading never resets it.
With -o, an existing file with other content is replaced only with --force,
after a backup under --state-dir.

A spec looks like:

  template: docker-default     # or strict
  filesystem:
    read_only: [/etc/**]
    writable: [/var/cache/nginx/**, /run/nginx.pid]
    executables: [/usr/sbin/nginx, /docker-entrypoint.sh]   # only these may run
    deny_executables: [/usr/bin/curl]
  capabilities:
    allow: [chown, setuid, setgid, net_bind_service]
  network:
    protocols: [tcp]
    raw: false
  rules: |
    /run/secrets/** r,

See docs/apparmor.md for every key.`,
		Example: `  ctsec apparmor gen web --spec web.yaml > web.apparmor
  ctsec apparmor gen web --base strict --enforce -o web.apparmor`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Spec, "spec", "", "YAML service spec `FILE`")
	f.StringVar(&opts.Base, "base", "", "base profile without a spec: docker-default or strict")
	f.BoolVar(&opts.Enforce, "enforce", false, "start in enforce mode instead of complain")
	f.StringVarP(&opts.Output, "output", "o", "", "write the profile to this `FILE` instead of stdout")
	f.BoolVar(&opts.Force, "force", false, "replace an existing -o file with different content (after a backup)")
	f.StringVar(&opts.StateDir, "state-dir", safefile.DefaultStateDir, "where a replaced -o file is backed up")
	a.deprecatedFlag(f, "template", "", "base")
	return cmd
}

func runApparmorGen(ctx context.Context, opts *apparmorGenOptions, a *app) (*report.Report, error) {
	if err := apparmor.ValidateServiceName(opts.Name); err != nil {
		return nil, usageError(err)
	}
	var p *apparmor.Profile
	var err error
	if opts.Spec != "" {
		if opts.Base != "" {
			return nil, usageError(errors.New("--base goes in the spec (template:) when --spec is given"))
		}
		p, err = apparmor.ForService(opts.Name, opts.Spec, opts.Enforce, a.clock.Now())
	} else {
		spec := &apparmor.Spec{Name: opts.Name, Template: opts.Base, Created: a.clock.Now()}
		if opts.Enforce {
			spec.Mode = "enforce"
		}
		p, err = apparmor.Generate(spec)
	}
	if err != nil {
		return nil, err
	}
	file := opts.Output
	if file == "" {
		file = opts.Name + ".apparmor"
	}
	text, _, err := checkedProfile(ctx, file, p)
	if err != nil {
		return nil, err
	}
	data := apparmorGenData{Profile: p.Name, Mode: p.Mode(), SecurityOpt: apparmor.SecurityOpt(p.Name), Text: string(text)}
	r := report.New("apparmor gen", nil, &data)
	if opts.Output == "" {
		r.Text = func(w io.Writer, _ report.Options) error {
			_, err := w.Write(text)
			return err
		}
		return &r, nil
	}
	data.Output = opts.Output
	verb, backup, err := writeProfileFile(opts.Output, text, opts.Force, a.store(opts.StateDir))
	if err != nil {
		return nil, err
	}
	data.Written, data.Backup = verb != "unchanged", backup
	r.Text = func(w io.Writer, o report.Options) error {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s (profile %s, %s mode)\n", verb, opts.Output, p.Name, p.Mode())
		if backup != "" {
			fmt.Fprintf(&b, "the replaced file is backed up as change %s in %s\n", backup, opts.StateDir)
		}
		fmt.Fprintf(&b, "security_opt:\n  - %s\n", data.SecurityOpt)
		_, err := io.WriteString(w, term.Fit(b.String(), o.LineWidth()))
		return err
	}
	return &r, nil
}

// writeProfileFile writes a generated profile to path the way 'profile gen'
// does: the complain-since date of the file it replaces is kept (a rerun
// changes nothing), a file with other content is replaced only with force
// and after a backup.
func writeProfileFile(path string, text []byte, force bool, store *safefile.Store) (verb, backup string, err error) {
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "wrote", "", safefile.WriteFile(path, text, 0o644)
	case err != nil:
		return "", "", fmt.Errorf("reading %s: %w", path, err)
	}
	text = apparmor.KeepComplainSince(text, old)
	if bytes.Equal(old, text) {
		return "unchanged", "", nil
	}
	if !force {
		return "", "", failed("%s exists with different content; use --force to replace it (it is backed up first)", path)
	}
	id, err := store.Replace("apparmor gen", path, text, 0o644)
	if err != nil {
		return "", "", fmt.Errorf("replacing %s: %w", path, err)
	}
	return "replaced", id, nil
}

type apparmorTemplateOptions struct {
	Which  string // docker-default or strict
	Name   string
	Root   string
	Detect bool
}

type apparmorTemplateData struct {
	Template string `json:"template"`
	Profile  string `json:"profile"`
	Text     string `json:"text"`
}

func newApparmorTemplateCmd(a *app, runF runFunc[apparmorTemplateOptions]) *cobra.Command {
	if runF == nil {
		runF = runApparmorTemplate
	}
	opts := &apparmorTemplateOptions{}
	cmd := &cobra.Command{
		Use:   "template [docker-default|strict]",
		Short: "Print a built-in base profile (docker-default as Docker renders it, or strict)",
		Long: `template prints a built-in profile. docker-default is byte for byte what
github.com/moby/profiles/apparmor generates (Docker's default container
profile, which Docker itself never writes to disk); strict is docker-default
without raw/packet sockets, mount/umount/pivot_root, writes to system paths
and /sys, kernel-introspection files, breakout capabilities or ptrace attach.
--detect-macros includes abi 3.0, tunables/global and abstractions/base when
they exist under ROOT/etc/apparmor.d, as Docker does.`,
		Example: `  ctsec apparmor template
  ctsec apparmor template strict --name ctsec-web --detect-macros`,
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: apparmor.Templates,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Which = "docker-default"
			if len(args) == 1 {
				opts.Which = args[0]
			}
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "docker-default", "profile name")
	cmd.Flags().StringVar(&opts.Root, "root", "/", "host root for --detect-macros")
	cmd.Flags().BoolVar(&opts.Detect, "detect-macros", false, "include abi/tunables/abstractions that exist under ROOT/etc/apparmor.d")
	return cmd
}

func runApparmorTemplate(_ context.Context, opts *apparmorTemplateOptions, _ *app) (*report.Report, error) {
	o := apparmor.TemplateOptions{Name: opts.Name}
	if opts.Detect {
		o.DetectMacros(filepath.Join(opts.Root, "etc/apparmor.d"))
	}
	var text []byte
	if opts.Which == "docker-default" {
		var err error
		if text, err = apparmor.DockerDefault(o); err != nil {
			return nil, usageError(err)
		}
	} else {
		p, err := apparmor.Template(opts.Which, o)
		if err != nil {
			return nil, usageError(err)
		}
		if text, err = p.Bytes(); err != nil {
			return nil, usageError(err)
		}
	}
	r := report.New("apparmor template", nil, apparmorTemplateData{Template: opts.Which, Profile: opts.Name, Text: string(text)})
	r.Text = func(w io.Writer, _ report.Options) error {
		_, err := w.Write(text)
		return err
	}
	return &r, nil
}
