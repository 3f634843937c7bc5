package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/spf13/cobra"
)

type apparmorLoadOptions struct {
	Files    []string
	Load     apparmor.LoadOptions
	Complain bool
	Enforce  bool
}

func newApparmorLoadCmd(a *app, runF runFunc[apparmorLoadOptions]) *cobra.Command {
	if runF == nil {
		runF = runApparmorLoad
	}
	opts := &apparmorLoadOptions{}
	o := &opts.Load
	cmd := &cobra.Command{
		Use:   "load FILE...",
		Short: "Install profiles under /etc/apparmor.d/containers/ and load them",
		Long: `load validates each profile file (as 'ctsec apparmor validate' does), then
shows what it would install: the target under ROOT/etc/apparmor.d/containers/
(named after the profile), the mode, and a diff against what is installed.

With --write it installs the files atomically, keeps a backup of any file it
replaces under --state-dir (restore with the backup id), and loads them with
'apparmor_parser -r -W', which also refreshes the cache so the profiles come
back after an AppArmor reload. When the kernel refuses a profile, the files
and the kernel's profiles are put back as they were, and it exits 1.

--complain / --enforce rewrite the profile's flags before installing (the
rewrite keeps every rule and comment; only the flags change).

On a host whose kernel has no AppArmor, load --write says so in one line and
exits 2 before changing anything (the plan is still shown without --write);
--no-load installs the files only. With a --root other than / (a mounted
image), files are installed and verified with apparmor_parser -QK but never
loaded into this kernel, so that root needs no AppArmor of its own.`,
		Example: `  ctsec apparmor load web.apparmor                 # plan: target, mode, diff
  ctsec apparmor load --write web.apparmor         # install and load (mode as in the file)
  ctsec apparmor load --write --enforce web.apparmor
  ctsec apparmor load --write --root /mnt/image web.apparmor     # install and verify, never load`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Root, "root", "/", "host root: profiles go to ROOT/etc/apparmor.d/containers/")
	f.StringVar(&o.StateDir, "state-dir", safefile.DefaultStateDir, "where backups of replaced files are kept")
	f.BoolVar(&o.Write, "write", false, "install and load (without it, only show the plan)")
	f.BoolVar(&o.NoLoad, "no-load", false, "install the files without loading them into the kernel")
	f.BoolVar(&opts.Complain, "complain", false, "set the profiles to complain mode (log, do not block)")
	f.BoolVar(&opts.Enforce, "enforce", false, "set the profiles to enforce mode")
	f.StringVar(&o.Checker.Features, "features", "", "kernel features `FILE` to validate against (default: the pinned AppArmor 3.0 ABI)")
	return cmd
}

func runApparmorLoad(ctx context.Context, opts *apparmorLoadOptions, a *app) (*report.Report, error) {
	o := opts.Load
	switch {
	case opts.Complain && opts.Enforce:
		return nil, usageError(errors.New("--complain and --enforce exclude each other"))
	case opts.Complain:
		o.Mode = "complain"
	case opts.Enforce:
		o.Mode = "enforce"
	}
	o.Clock = a.clock
	res, err := apparmor.Load(ctx, opts.Files, o)
	var ve *apparmor.ValidationError
	if errors.As(err, &ve) {
		// Nothing was changed: the findings say why, the line says so.
		r := report.New("apparmor load", ve.Findings, res)
		r.Rules = apparmor.ValidateRules()
		return &r, failedErr(err)
	}
	if errors.Is(err, apparmor.ErrValidation) {
		// The kernel or apparmor_parser refused the installed file: it and
		// the loaded policy were put back, as promote does.
		return nil, failedErr(err)
	}
	if err != nil {
		return nil, err
	}
	r := report.New("apparmor load", nil, res)
	r.Text = func(w io.Writer, o report.Options) error { return writeLoad(w, res, o) }
	return &r, nil
}

func writeLoad(w io.Writer, res apparmor.LoadResult, o report.Options) error {
	var b strings.Builder
	for _, act := range res.Actions {
		verb := "unchanged"
		switch {
		case act.Loaded:
			verb = "loaded"
		case res.Written && act.Changed:
			verb = "installed"
		case act.Changed:
			verb = "would install"
		}
		fmt.Fprintf(&b, "%s: %s → %s (profile %s, %s mode)\n", verb, act.Source, act.Target, strings.Join(act.Names, ", "), act.Mode)
		if act.Diff != "" && (!res.Written || act.Changed) {
			// the diff is the file's content: printed as it is
			io.WriteString(w, term.Fit(b.String(), o.LineWidth()))
			b.Reset()
			io.WriteString(w, act.Diff)
		}
	}
	if res.BackupID != "" {
		fmt.Fprintf(&b, "backup: %s\n", res.BackupID)
	}
	if res.Note != "" {
		fmt.Fprintln(&b, term.Line(res.Note))
	}
	_, err := io.WriteString(w, term.Fit(b.String(), o.LineWidth()))
	return err
}

type apparmorStatusOptions struct {
	Root     string
	Host     string
	NoDocker bool
}

func newApparmorStatusCmd(a *app, runF runFunc[apparmorStatusOptions]) *cobra.Command {
	if runF == nil {
		runF = runApparmorStatus
	}
	opts := &apparmorStatusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show loaded profiles, which containers use which, and unloaded profiles on disk",
		Long: `status reads the kernel's profiles and their modes from securityfs
(ROOT/sys/kernel/security/apparmor/profiles), asks the Docker engine (when it
answers) which profile each container runs under or asked for, and lists the
files under ROOT/etc/apparmor.d/containers/ with whether they are loaded.
Findings: a container whose profile is not loaded (high: it cannot start),
a profile file that does not parse (medium), a file not loaded (low); exit 1
when one reaches --fail-on. JSON carries the status in .data.

On a host whose kernel has no AppArmor it says so in one line and exits 2.`,
		Example: `  ctsec apparmor status
  ctsec apparmor status --format json
  ctsec apparmor status --root /mnt/host --no-docker`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().StringVar(&opts.Root, "root", "/", "host root to read securityfs and the profile directory under")
	cmd.Flags().StringVarP(&opts.Host, "host", "H", "", "Docker engine to ask (default: DOCKER_HOST or the local socket)")
	cmd.Flags().BoolVar(&opts.NoDocker, "no-docker", false, "do not ask the Docker engine")
	return withRules(audit(cmd), "apparmor status")
}

func runApparmorStatus(ctx context.Context, opts *apparmorStatusOptions, _ *app) (*report.Report, error) {
	sup := apparmor.DetectSupport(ctx, opts.Root)
	if !sup.KernelEnabled || !sup.SecurityFS {
		return nil, fmt.Errorf("%w under %s (no %s)", apparmor.ErrNoAppArmor, opts.Root, "sys/kernel/security/apparmor")
	}
	var st apparmor.Status
	var err error
	if opts.NoDocker {
		st, err = apparmor.ReadStatus(ctx, opts.Root, nil)
	} else {
		cli, cerr := engine.Connect(opts.Host)
		if cerr != nil {
			return nil, cerr
		}
		defer cli.Close()
		st, err = apparmor.ReadStatus(ctx, opts.Root, cli)
	}
	if err != nil {
		return nil, err
	}
	r := report.New("apparmor status", st.Findings(), st)
	r.Rules = apparmor.StatusRules()
	r.Text = func(w io.Writer, o report.Options) error { return writeStatus(w, st, r.Findings, o) }
	return &r, nil
}

func writeStatus(w io.Writer, st apparmor.Status, findings []report.Finding, o report.Options) error {
	modes := map[string]int{}
	for _, p := range st.Loaded {
		modes[p.Mode]++
	}
	width := o.LineWidth()
	fmt.Fprintf(w, "%d profiles loaded (%d enforce, %d complain, %d other)\n", len(st.Loaded), modes["enforce"], modes["complain"], len(st.Loaded)-modes["enforce"]-modes["complain"])
	tw := term.NewTable(w, width)
	tw.Indent = "  "
	for _, p := range st.Loaded {
		if strings.HasPrefix(p.Name, "ctsec-") || p.Name == "docker-default" {
			tw.Row(p.Name, p.Mode)
		}
	}
	tw.Flush()
	tw = term.NewTable(w, width)
	tw.Indent = "  "
	switch {
	case st.DockerError != "":
		fmt.Fprint(w, term.Fit("containers: engine not reachable ("+term.Line(st.DockerError)+")\n", width))
	case st.Containers != nil:
		fmt.Fprintf(w, "containers: %d\n", len(st.Containers))
		for _, c := range st.Containers {
			prof := c.Profile
			if prof == "" {
				prof = c.Requested + " (requested)"
			}
			if prof == " (requested)" {
				prof = "(none reported)"
			}
			loaded := "loaded"
			switch {
			case c.MissingProfile():
				loaded = "NOT LOADED: cannot start"
			case !c.Loaded:
				loaded = "-"
			}
			tw.Row(c.Container, c.State, prof, loaded)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "on disk (%s): %d\n", apparmor.ProfileDir, len(st.OnDisk))
	tw = term.NewTable(w, width)
	tw.Indent = "  "
	for _, d := range st.OnDisk {
		state := "loaded"
		switch {
		case d.Problem != "":
			state = "unreadable: " + d.Problem
		case !d.Loaded:
			state = "NOT LOADED"
		}
		tw.Row(d.File, strings.Join(d.Names, ","), d.Mode, state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(findings) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	return report.WriteFindings(w, findings, o)
}
