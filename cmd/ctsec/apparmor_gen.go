package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/spf13/cobra"
)

func newApparmorGenCmd(a *app) *cobra.Command {
	var specFile, template, output, stateDir string
	var enforce, force bool
	cmd := &cobra.Command{
		Use:   "gen NAME",
		Short: "Generate the AppArmor profile ctsec-NAME for a service",
		Long: `gen builds the profile ctsec-NAME from a template (docker-default as Docker
renders it, or strict) and, with --spec, a YAML service spec: read-only,
writable, executable and denied paths, capabilities, network protocols and
extra rules. It is validated as 'ctsec apparmor validate' does (apparmor_parser
-QK against the pinned 3.0 ABI) before anything is written: a profile the
parser refuses is an error (exit 1) and nothing is written. The profile is in
complain mode (log, do not block) unless
--enforce or the spec says 'mode: enforce'. A complain-mode profile carries
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
  ctsec apparmor gen web --template strict --enforce -o web.apparmor`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := apparmor.ValidateServiceName(args[0]); err != nil {
				return usageError(err)
			}
			var p *apparmor.Profile
			var err error
			if specFile != "" {
				if template != "" {
					return usageError(errors.New("--template goes in the spec when --spec is given"))
				}
				p, err = apparmor.ForService(args[0], specFile, enforce, a.clock.Now())
			} else {
				spec := &apparmor.Spec{Name: args[0], Template: template, Created: a.clock.Now()}
				if enforce {
					spec.Mode = "enforce"
				}
				p, err = apparmor.Generate(spec)
			}
			if err != nil {
				return err
			}
			file := output
			if file == "" {
				file = args[0] + ".apparmor"
			}
			text, _, err := checkedProfile(cmd.Context(), file, p)
			if err != nil {
				return err
			}
			if output == "" {
				_, err = a.stdout.Write(text)
				return err
			}
			verb, backup, err := writeProfileFile(output, text, force, a.store(stateDir))
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s %s (profile %s, %s mode)\n", verb, output, p.Name, p.Mode())
			if backup != "" {
				fmt.Fprintf(a.stdout, "the replaced file is backed up as change %s in %s\n", backup, stateDir)
			}
			fmt.Fprintf(a.stdout, "security_opt:\n  - %s\n", apparmor.SecurityOpt(p.Name))
			return nil
		},
	}
	cmd.Flags().StringVar(&specFile, "spec", "", "YAML service spec")
	cmd.Flags().StringVar(&template, "template", "", "base template without a spec: docker-default or strict")
	cmd.Flags().BoolVar(&enforce, "enforce", false, "start in enforce mode instead of complain")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the profile to this file instead of stdout")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing -o file with different content (after a backup)")
	cmd.Flags().StringVar(&stateDir, "state-dir", safefile.DefaultStateDir, "where a replaced -o file is backed up")
	return cmd
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
	change, err := store.NewChange("apparmor gen")
	if err == nil {
		err = change.Save(path)
	}
	if err != nil {
		return "", "", fmt.Errorf("backing up %s: %w", path, err)
	}
	return "replaced", change.ID(), safefile.WriteFile(path, text, 0o644)
}

func newApparmorTemplateCmd(a *app) *cobra.Command {
	var name, root string
	var detect bool
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
			which := "docker-default"
			if len(args) == 1 {
				which = args[0]
			}
			o := apparmor.TemplateOptions{Name: name}
			if detect {
				o.DetectMacros(root + "/etc/apparmor.d")
			}
			if which == "docker-default" {
				text, err := apparmor.DockerDefault(o)
				if err != nil {
					return usageError(err)
				}
				_, err = a.stdout.Write(text)
				return err
			}
			p, err := apparmor.Template(which, o)
			if err != nil {
				return usageError(err)
			}
			text, err := p.Bytes()
			if err != nil {
				return usageError(err)
			}
			_, err = a.stdout.Write(text)
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "docker-default", "profile name")
	cmd.Flags().StringVar(&root, "root", "/", "host root for --detect-macros")
	cmd.Flags().BoolVar(&detect, "detect-macros", false, "include abi/tunables/abstractions that exist under ROOT/etc/apparmor.d")
	return cmd
}
