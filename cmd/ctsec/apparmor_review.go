package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/spf13/cobra"
)

// logFlags are the review inputs shared by review and promote.
type logFlags struct {
	since, until string
	logs         []string
	journal      bool
	journalDir   string
	root         string
	profilesDir  string
	profiles     []string
	normalize    bool
	minComplain  string
}

func (f *logFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.since, "since", "7d", "start of the window: a duration back from now (7d, 36h) or a date")
	fl.StringVar(&f.until, "until", "", "end of the window (default now)")
	fl.StringArrayVar(&f.logs, "log", nil, "log file to read (audit.log, kern.log, syslog, dmesg output, journalctl -o json); repeatable; - for stdin")
	fl.BoolVar(&f.journal, "journal", false, "read the systemd journal through journalctl")
	fl.StringVar(&f.journalDir, "journal-dir", "", "with --journal: read this journal directory (journalctl -D; default ROOT/var/log/journal when --root is not /)")
	fl.StringVar(&f.root, "root", "/", "host root the profiles directory and default logs are under")
	fl.StringVar(&f.profilesDir, "profiles-dir", "", "profiles directory (default ROOT/"+apparmor.DefaultProfilesDir+")")
	fl.BoolVar(&f.normalize, "normalize", false, "generalise volatile paths: /proc/<pid> → @{pid}, hashes and long numbers → *")
	fl.StringVar(&f.minComplain, "min-complain", "7d", "time in complain mode before a quiet profile is ready")
}

func (f *logFlags) dir() string {
	if f.profilesDir != "" {
		return f.profilesDir
	}
	return filepath.Join(f.root, apparmor.DefaultProfilesDir)
}

// review runs the review these flags describe.
func (f *logFlags) review(ctx context.Context, a *app) (apparmor.Review, error) {
	now := a.clock.Now()
	since, err := apparmor.ParseSince(f.since, now)
	if err != nil {
		return apparmor.Review{}, usageError(fmt.Errorf("--since: %w", err))
	}
	var until time.Time
	if f.until != "" {
		if until, err = apparmor.ParseSince(f.until, now); err != nil {
			return apparmor.Review{}, usageError(fmt.Errorf("--until: %w", err))
		}
	}
	minStart, err := apparmor.ParseSince(f.minComplain, now)
	if err != nil {
		return apparmor.Review{}, usageError(fmt.Errorf("--min-complain: %w", err))
	}
	inputs, closeLogs, err := apparmor.OpenLogs(ctx, f.root, f.logs, f.journal, f.journalDir, a.stdin, since, until)
	if err != nil {
		return apparmor.Review{}, err
	}
	o := apparmor.ReviewOptions{
		Since: since, Until: until, Clock: clock.Fixed(now), MinComplain: now.Sub(minStart),
		Profiles: f.profiles, Normalize: f.normalize,
	}
	if isTerminal(a.stderr) {
		o.Progress = func(name string, n int64) { fmt.Fprintf(a.stderr, "\rreading %s: %d MB ", name, n>>20) }
		defer fmt.Fprint(a.stderr, "\r\033[K")
	}
	rv, err := apparmor.ReviewLogs(inputs, f.dir(), o)
	if cerr := closeLogs(); err == nil && cerr != nil {
		err = cerr
	}
	return rv, err
}

func newApparmorReviewCmd(a *app) *cobra.Command {
	var f logFlags
	var h reviewExtras
	cmd := &cobra.Command{
		Use:   "review",
		Short: "Weekly review: what complain-mode profiles would have denied, and which are ready to enforce",
		Long: `review reads AppArmor events from audit.log, kern.log/syslog, dmesg output or the
systemd journal (mixed formats are fine; the same event seen through two
transports counts once), and reports per profile: events in the window, the
rules that would have allowed them (escaped, de-duplicated against the rules
the profile already has), lost-event warnings, days in complain mode, last
activity, and a verdict:

  ready        quiet for the whole window, long enough in complain mode, exercised
  needs-rules  events the profile does not allow yet (a finding, severity medium)
  idle         no activity, or not long enough in complain mode: do not promote blindly
  blocked      the logs show events were lost in the window (a finding, severity high)

  breaking     the kernel denied events of an enforce-mode profile: the service
               is being blocked now (a finding, severity high, shown first)

Events a profile's own deny rules caused are listed with the deny rule, never
proposed as allows; an event with a field outside its grammar is rejected
(counted and shown), never turned into a wider rule.

Without --log or --journal it reads the first of ROOT/var/log/audit/audit.log,
kern.log, syslog, messages that exists, with its rotated files that hold part
of the window (audit.log.1, kern.log.2.gz…), else the journal. When the logs
read begin after the window's start it says so (a finding) and calls nothing
ready.

Each run is recorded under --state-dir (DIR/apparmor, trusted only when it
belongs to you and nobody else can write it) and compared with the last:
new rules since then, how long a profile has been quiet, when promote or
demote changed its mode. The engine is asked which containers run under each
profile (--no-docker skips it). It changes no profile.
--format text and markdown print the review itself (markdown is made for a
weekly ticket); json carries it in .data next to the findings.`,
		Example: `  ctsec apparmor review
  ctsec apparmor review --since 14d --log /var/log/audit/audit.log --log /var/log/kern.log
  journalctl -o json -k --since -7d | ctsec apparmor review --log -
  ctsec apparmor review --journal --profile ctsec-web --format markdown > review.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rv, err := f.review(cmd.Context(), a)
			if err != nil {
				return err
			}
			if !h.noDocker {
				reviewContainers(cmd.Context(), a, &rv, h.host)
			}
			if !h.noHistory {
				reviewHistory(&rv, h.stateDir)
			}
			r := report.New("apparmor review", rv.Findings(), rv)
			switch a.format {
			case report.Text:
				err = rv.WriteText(a.stdout)
			case report.Markdown:
				err = rv.WriteMarkdown(a.stdout)
			default:
				return a.emit(r)
			}
			if err != nil {
				return err
			}
			if r.Reaches(a.failOn) {
				return errFindingsReached
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringArrayVar(&f.profiles, "profile", nil, "review only this profile (repeatable)")
	cmd.Flags().StringVar(&h.stateDir, "state-dir", safefile.DefaultStateDir, "where the review history is kept (DIR/apparmor): each run's verdicts, counts and rules, for the trend")
	cmd.Flags().BoolVar(&h.noHistory, "no-history", false, "neither read nor record the review history")
	cmd.Flags().BoolVar(&h.noDocker, "no-docker", false, "do not ask the Docker engine which containers run under each profile")
	cmd.Flags().StringVarP(&h.host, "host", "H", "", "Docker engine to ask (default: DOCKER_HOST or the local socket)")
	return cmd
}

// reviewExtras are the review's flags beyond the logs.
type reviewExtras struct {
	stateDir, host      string
	noHistory, noDocker bool
}

// reviewHistory sets the trend against the recorded reviews, then records
// this one. History is a help, not the job: a state directory that cannot
// be used, or is not trusted, is a warning in the review.
func reviewHistory(rv *apparmor.Review, stateDir string) {
	h := apparmor.History{Dir: apparmor.HistoryDir(stateDir)}
	prev, err := h.Reviews(rv.Until, 12)
	if err == nil {
		var modes []apparmor.ModeRecord
		if modes, err = h.Modes(); err == nil {
			rv.AddTrends(prev, modes)
			err = h.Record(rv)
		}
	}
	if err != nil {
		rv.Warnings = append(rv.Warnings, "review history not used or kept: "+err.Error())
	}
}

// reviewContainers names the containers under each profile, when the
// engine answers; when it does not, the review says so and goes on.
func reviewContainers(ctx context.Context, a *app, rv *apparmor.Review, host string) {
	cli, err := engine.Connect(host)
	if err == nil {
		defer cli.Close()
		var cs []apparmor.ContainerProfile
		if cs, err = apparmor.Containers(ctx, cli); err == nil {
			rv.AddContainers(cs)
			return
		}
	}
	rv.Warnings = append(rv.Warnings, "containers not attributed: "+oneLine(err.Error()))
}

// changeFlags are what promote and demote share.
type changeFlags struct {
	logFlags
	stateDir string
	write    bool
	dryRun   bool
}

func (f *changeFlags) add(cmd *cobra.Command) {
	f.logFlags.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.stateDir, "state-dir", safefile.DefaultStateDir, "where backups are kept")
	fl.BoolVar(&f.write, "write", false, "change the files: back up, write, validate, reload (default: show the diff only)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "show the diff and change nothing: the default, and it wins over --write")
}

func (f *changeFlags) options(a *app) apparmor.ChangeOptions {
	return apparmor.ChangeOptions{Root: f.root, Dir: f.dir(), StateDir: f.stateDir, Write: f.write && !f.dryRun, Clock: a.clock}
}

func newApparmorPromoteCmd(a *app) *cobra.Command {
	var f changeFlags
	var ready, addRules bool
	cmd := &cobra.Command{
		Use:   "promote PROFILE... | --ready",
		Short: "Switch complain-mode profiles to enforce, optionally adding the rules the review proposes",
		Long: `promote switches profiles from complain to enforce in their files under the
profiles directory. --add-rules first adds the rules the review proposes for
them (from the same log flags as review); --ready promotes every profile the
review finds ready.

It is a dry run by default: it shows the unified diff and changes nothing.
--dry-run says so explicitly and wins over --write, so a script can force a
preview whatever else it passes. With --write it backs each file up under
--state-dir, writes it atomically, validates it with apparmor_parser -QK
against the pinned AppArmor 3.0 ABI and reloads it (apparmor_parser -r) when --root is / and the kernel has AppArmor;
otherwise it says that the reload was skipped and why. A failed validation or
reload restores the previous file (and the previously loaded policy) and
exits 1. Running it twice changes nothing the second time.`,
		Example: `  ctsec apparmor promote ctsec-web                       # dry run: show the diff
  ctsec apparmor promote --ready --add-rules --dry-run     # what the weekly run would change
  ctsec apparmor promote ctsec-web --add-rules --write     # add learnt rules, enforce
  ctsec apparmor promote --ready --write --since 14d
  ctsec apparmor promote ctsec-web --root /mnt/image --write`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ready == (len(args) > 0) {
				return usageError(errors.New("name profiles or give --ready, not both or neither"))
			}
			o := f.options(a)
			names := args
			if ready || addRules {
				if len(args) > 0 {
					f.profiles = args
				}
				rv, err := f.review(cmd.Context(), a)
				if err != nil {
					return err
				}
				if ready {
					names = rv.ReadyProfiles()
				}
				if addRules {
					o.Rules = rv.ProposedRules()
					if rv.LostEvents {
						// the rules come from an incomplete record: enforcing
						// them may block what the lost events would have shown
						fmt.Fprintln(a.stderr, "ctsec: warning: the logs show lost events in the window, so the rules to add may be incomplete (see 'ctsec apparmor review')")
					}
				}
			}
			if len(names) == 0 {
				return nothingToChange(a, "apparmor promote", o, "no profile is ready to promote")
			}
			return runSetMode(cmd.Context(), a, "apparmor promote", names, "enforce", o)
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&ready, "ready", false, "promote every profile the review finds ready")
	cmd.Flags().BoolVar(&addRules, "add-rules", false, "add the rules the review proposes before enforcing")
	return cmd
}

func newApparmorDemoteCmd(a *app) *cobra.Command {
	var f changeFlags
	var all bool
	cmd := &cobra.Command{
		Use:   "demote PROFILE... | --all",
		Short: "Emergency way back: switch enforce-mode profiles to complain",
		Long: `demote switches profiles back to complain mode in their files (--all: every
enforce-mode profile in the profiles directory) and records when, so the next
review counts the days in complain mode from now. Like promote it shows the
diff and changes nothing without --write (--dry-run wins over --write), keeps a backup, validates with
apparmor_parser -QK, reloads where it can and restores the file on failure.`,
		Example: `  ctsec apparmor demote ctsec-web --write
  ctsec apparmor demote --all --write`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usageError(errors.New("name profiles or give --all, not both or neither"))
			}
			var err error
			names := args
			var problems []error
			if all {
				files, probs, err := apparmor.LoadProfileDir(f.dir())
				if err != nil {
					return err
				}
				// In an emergency one file ctsec cannot parse must not stop
				// the others from going back to complain: it is named, and
				// the exit status says not everything was done.
				problems = probs
				for _, p := range problems {
					fmt.Fprintf(a.stderr, "ctsec: skipped: %v\n", p)
				}
				for _, pf := range files {
					for _, p := range pf.Profiles {
						if p.Mode() == "enforce" {
							names = append(names, p.Name)
						}
					}
				}
			}
			if len(names) == 0 {
				err = nothingToChange(a, "apparmor demote", f.options(a), "no profile in enforce mode")
			} else {
				err = runSetMode(cmd.Context(), a, "apparmor demote", names, "complain", f.options(a))
			}
			if err == nil && len(problems) > 0 {
				return failed("%d profile file(s) could not be parsed and were not demoted (first: %v)", len(problems), problems[0])
			}
			return err
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "demote every enforce-mode profile in the profiles directory")
	return cmd
}

type changeReport struct {
	DryRun  bool                    `json:"dry_run"`
	Results []apparmor.ChangeResult `json:"results"`
}

// nothingToChange reports a promote or demote that found no profile to
// change: a line of text, or the usual report with no results.
func nothingToChange(a *app, command string, o apparmor.ChangeOptions, msg string) error {
	if a.format == report.Text {
		fmt.Fprintln(a.stdout, msg)
		return nil
	}
	return a.emit(report.New(command, nil, changeReport{DryRun: !o.Write, Results: []apparmor.ChangeResult{}}))
}

func runSetMode(ctx context.Context, a *app, command string, names []string, mode string, o apparmor.ChangeOptions) error {
	results, err := apparmor.SetMode(ctx, names, mode, o)
	if results == nil && err != nil {
		return err
	}
	var findings []report.Finding
	for _, r := range results {
		if r.Error != "" {
			findings = append(findings, report.Finding{Rule: "apparmor-" + map[string]string{"enforce": "promote", "complain": "demote"}[mode] + "-failed",
				Severity: report.High, File: r.File, Message: r.Error, Fix: "fix the profile file; it was restored from backup " + r.BackupID})
		}
	}
	if a.format != report.Text {
		if rerr := a.emit(report.New(command, findings, changeReport{DryRun: !o.Write, Results: results})); rerr != nil && err == nil {
			return rerr
		}
	} else {
		printChanges(a, results, o.Write)
	}
	if err != nil {
		return failed("%v", err)
	}
	return nil
}

func printChanges(a *app, results []apparmor.ChangeResult, write bool) {
	for _, r := range results {
		if r.Diff == "" {
			fmt.Fprintf(a.stdout, "%s: already %s, nothing to change\n", r.File, r.Mode)
			continue
		}
		fmt.Fprint(a.stdout, r.Diff)
		switch {
		case r.RolledBack:
			fmt.Fprintf(a.stdout, "%s: NOT changed: %s (backup %s restored)\n", r.File, r.Error, r.BackupID)
		case !write:
			fmt.Fprintf(a.stdout, "%s: dry run, nothing changed (%d rule(s) to add); re-run with --write to apply\n", r.File, r.RulesAdded)
		default:
			fmt.Fprintf(a.stdout, "%s: now %s, %d rule(s) added, validated with apparmor_parser, backup %s\n", r.File, r.Mode, r.RulesAdded, r.BackupID)
			fmt.Fprintf(a.stdout, "%s: reload %s\n", r.File, r.Reload)
		}
	}
}
