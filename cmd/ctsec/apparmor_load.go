package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/spf13/cobra"
)

func newApparmorLoadCmd(a *app) *cobra.Command {
	var o apparmor.LoadOptions
	var complain, enforce bool
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
and the kernel's profiles are put back as they were.

--complain / --enforce rewrite the profile's flags before installing (the
rewrite keeps every rule and comment; only the flags change).

On a host whose kernel has no AppArmor, load --write says so in one line and
exits 2 before changing anything (the plan is still shown without --write);
--no-load installs the files only. With a --root other than / (a mounted
image), files are installed and verified with apparmor_parser -QK but never
loaded into this kernel, so that root needs no AppArmor of its own.`,
		Example: `  ctsec apparmor load web.apparmor                 # plan: target, mode, diff
  ctsec apparmor load --write web.apparmor         # install and load (complain/enforce as in the file)
  ctsec apparmor load --write --enforce web.apparmor
  ctsec apparmor load --write --root /mnt/image web.apparmor     # install and verify, never load`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case complain && enforce:
				return usageError(errors.New("--complain and --enforce exclude each other"))
			case complain:
				o.Mode = "complain"
			case enforce:
				o.Mode = "enforce"
			}
			o.Clock = a.clock
			res, err := apparmor.Load(cmd.Context(), args, o)
			var ve *apparmor.ValidationError
			if errors.As(err, &ve) {
				return failed("%s", ve.Error())
			}
			if err != nil {
				return err
			}
			return printLoad(a, res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Root, "root", "/", "host root: profiles go to ROOT/etc/apparmor.d/containers/")
	f.StringVar(&o.StateDir, "state-dir", safefile.DefaultStateDir, "where backups of replaced files are kept")
	f.BoolVar(&o.Write, "write", false, "install and load (without it, only show the plan)")
	f.BoolVar(&o.NoLoad, "no-load", false, "install the files without loading them into the kernel")
	f.BoolVar(&complain, "complain", false, "set the profiles to complain mode (log, do not block)")
	f.BoolVar(&enforce, "enforce", false, "set the profiles to enforce mode")
	f.StringVar(&o.Checker.Features, "features", "", "kernel features file to validate against (default: the pinned AppArmor 3.0 ABI)")
	return cmd
}

func printLoad(a *app, res apparmor.LoadResult) error {
	if a.format != report.Text {
		return a.emit(report.New("apparmor load", nil, res))
	}
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
		fmt.Fprintf(a.stdout, "%s: %s → %s (profile %s, %s mode)\n", verb, act.Source, act.Target, strings.Join(act.Names, ", "), act.Mode)
		if act.Diff != "" && (!res.Written || act.Changed) {
			fmt.Fprint(a.stdout, act.Diff)
		}
	}
	if res.BackupID != "" {
		fmt.Fprintf(a.stdout, "backup: %s\n", res.BackupID)
	}
	if res.Note != "" {
		fmt.Fprintln(a.stdout, res.Note)
	}
	return nil
}

func newApparmorStatusCmd(a *app) *cobra.Command {
	var root, host string
	var noDocker bool
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
			sup := apparmor.DetectSupport(cmd.Context(), root)
			if !sup.KernelEnabled || !sup.SecurityFS {
				return fmt.Errorf("%w under %s (no %s)", apparmor.ErrNoAppArmor, root, "sys/kernel/security/apparmor")
			}
			var st apparmor.Status
			var err error
			if noDocker {
				st, err = apparmor.ReadStatus(cmd.Context(), root, nil)
			} else {
				cli, cerr := engine.Connect(host)
				if cerr != nil {
					return cerr
				}
				defer cli.Close()
				st, err = apparmor.ReadStatus(cmd.Context(), root, cli)
			}
			if err != nil {
				return err
			}
			return printStatus(a, st)
		},
	}
	cmd.Flags().StringVar(&root, "root", "/", "host root to read securityfs and the profile directory under")
	cmd.Flags().StringVarP(&host, "host", "H", "", "Docker engine to ask (default: DOCKER_HOST or the local socket)")
	cmd.Flags().BoolVar(&noDocker, "no-docker", false, "do not ask the Docker engine")
	return cmd
}

func printStatus(a *app, st apparmor.Status) error {
	r := report.New("apparmor status", st.Findings(), st)
	if a.format != report.Text {
		return a.emit(r)
	}
	if err := printStatusText(a, st); err != nil {
		return err
	}
	if r.Reaches(a.failOn) {
		return errFindingsReached
	}
	return nil
}

func printStatusText(a *app, st apparmor.Status) error {
	modes := map[string]int{}
	for _, p := range st.Loaded {
		modes[p.Mode]++
	}
	fmt.Fprintf(a.stdout, "%d profiles loaded (%d enforce, %d complain, %d other)\n", len(st.Loaded), modes["enforce"], modes["complain"], len(st.Loaded)-modes["enforce"]-modes["complain"])
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, p := range st.Loaded {
		if strings.HasPrefix(p.Name, "ctsec-") || p.Name == "docker-default" {
			fmt.Fprintf(tw, "  %s\t%s\n", p.Name, p.Mode)
		}
	}
	tw.Flush()
	switch {
	case st.DockerError != "":
		fmt.Fprintf(a.stdout, "containers: engine not reachable (%s)\n", st.DockerError)
	case st.Containers != nil:
		fmt.Fprintf(a.stdout, "containers: %d\n", len(st.Containers))
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
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Container, c.State, prof, loaded)
		}
		tw.Flush()
	}
	fmt.Fprintf(a.stdout, "on disk (%s): %d\n", apparmor.ProfileDir, len(st.OnDisk))
	for _, d := range st.OnDisk {
		state := "loaded"
		switch {
		case d.Problem != "":
			state = "unreadable: " + d.Problem
		case !d.Loaded:
			state = "NOT LOADED"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", d.File, strings.Join(d.Names, ","), d.Mode, state)
	}
	return tw.Flush()
}
