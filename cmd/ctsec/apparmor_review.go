package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/spf13/cobra"
)

// dirFlags say where the profiles are: review, promote and demote share them.
type dirFlags struct {
	Root        string
	ProfilesDir string
}

func (f *dirFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.Root, "root", "/", "host root the profiles directory and default logs are under")
	fl.StringVar(&f.ProfilesDir, "profiles-dir", "", "profiles `DIR` (default ROOT/"+apparmor.DefaultProfilesDir+")")
}

func (f *dirFlags) dir() string {
	if f.ProfilesDir != "" {
		return f.ProfilesDir
	}
	return filepath.Join(f.Root, apparmor.DefaultProfilesDir)
}

// logFlags are the review inputs shared by review and promote.
type logFlags struct {
	dirFlags
	Since, Until string
	Logs         []string
	Journal      bool
	JournalDir   string
	Profiles     []string
	Normalize    bool
	MinComplain  string
}

func (f *logFlags) add(cmd *cobra.Command) {
	f.dirFlags.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.Since, "since", "7d", "start of the window: a duration back from now (7d, 36h) or a date")
	fl.StringVar(&f.Until, "until", "", "end of the window (default now)")
	fl.StringArrayVar(&f.Logs, "log", nil, "log `FILE` to read (audit.log, kern.log, syslog, dmesg output, journalctl -o json); repeatable; - for stdin")
	fl.BoolVar(&f.Journal, "journal", false, "read the systemd journal through journalctl")
	fl.StringVar(&f.JournalDir, "journal-dir", "", "with --journal: read this journal `DIR` (journalctl -D; default ROOT/var/log/journal when --root is not /)")
	fl.BoolVar(&f.Normalize, "normalize", false, "generalise volatile paths: /proc/<pid> → @{pid}, hashes and long numbers → *")
	fl.StringVar(&f.MinComplain, "min-complain", "7d", "time in complain mode before a quiet profile is ready")
}

// review runs the review these flags describe.
func (f *logFlags) review(ctx context.Context, a *app) (apparmor.Review, error) {
	now := a.clock.Now()
	since, err := apparmor.ParseSince(f.Since, now)
	if err != nil {
		return apparmor.Review{}, usageError(fmt.Errorf("--since: %w", err))
	}
	var until time.Time
	if f.Until != "" {
		if until, err = apparmor.ParseSince(f.Until, now); err != nil {
			return apparmor.Review{}, usageError(fmt.Errorf("--until: %w", err))
		}
	}
	minStart, err := apparmor.ParseSince(f.MinComplain, now)
	if err != nil {
		return apparmor.Review{}, usageError(fmt.Errorf("--min-complain: %w", err))
	}
	inputs, closeLogs, err := apparmor.OpenLogs(ctx, f.Root, f.Logs, f.Journal, f.JournalDir, a.stdin, since, until)
	if err != nil {
		return apparmor.Review{}, err
	}
	o := apparmor.ReviewOptions{
		Since: since, Until: until, Clock: clock.Fixed(now), MinComplain: now.Sub(minStart),
		Profiles: f.Profiles, Normalize: f.Normalize,
	}
	if a.progress() {
		o.Progress = func(name string, n int64) { fmt.Fprintf(a.stderr, "\rreading %s: %d MB ", term.Line(name), n>>20) }
		defer fmt.Fprint(a.stderr, "\r\033[K")
	}
	rv, err := apparmor.ReviewLogs(inputs, f.dir(), o)
	if cerr := closeLogs(); err == nil && cerr != nil {
		err = cerr
	}
	return rv, err
}

type apparmorReviewOptions struct {
	Logs      logFlags
	StateDir  string // the review history: DIR/apparmor
	NoHistory bool
	NoDocker  bool
	Host      string
}

func newApparmorReviewCmd(a *app, runF runFunc[apparmorReviewOptions]) *cobra.Command {
	if runF == nil {
		runF = runApparmorReview
	}
	opts := &apparmorReviewOptions{}
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
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Logs.add(cmd)
	cmd.Flags().StringArrayVar(&opts.Logs.Profiles, "profile", nil, "review only this profile (repeatable)")
	cmd.Flags().StringVar(&opts.StateDir, "state-dir", safefile.DefaultStateDir, "where the review history is kept (DIR/apparmor): each run's verdicts, counts and rules, for the trend")
	cmd.Flags().BoolVar(&opts.NoHistory, "no-history", false, "neither read nor record the review history")
	cmd.Flags().BoolVar(&opts.NoDocker, "no-docker", false, "do not ask the Docker engine which containers run under each profile")
	cmd.Flags().StringVarP(&opts.Host, "host", "H", "", "Docker engine to ask (default: DOCKER_HOST or the local socket)")
	return withRules(audit(cmd), "apparmor review")
}

func runApparmorReview(ctx context.Context, opts *apparmorReviewOptions, a *app) (*report.Report, error) {
	rv, err := opts.Logs.review(ctx, a)
	if err != nil {
		return nil, err
	}
	if !opts.NoDocker {
		reviewContainers(ctx, &rv, opts.Host)
	}
	if !opts.NoHistory {
		reviewHistory(&rv, opts.StateDir)
	}
	r := report.New("apparmor review", rv.Findings(), rv)
	r.Rules = apparmor.ReviewRules()
	r.Text = func(w io.Writer, o report.Options) error {
		var b strings.Builder
		if err := rv.WriteText(&b); err != nil {
			return err
		}
		_, err := io.WriteString(w, term.Fit(b.String(), o.LineWidth()))
		return err
	}
	r.Markdown = func(w io.Writer, _ report.Options) error { return rv.WriteMarkdown(w) }
	return &r, nil
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
func reviewContainers(ctx context.Context, rv *apparmor.Review, host string) {
	cli, err := engine.Connect(host)
	if err == nil {
		defer cli.Close()
		var cs []apparmor.ContainerProfile
		if cs, err = apparmor.Containers(ctx, cli); err == nil {
			rv.AddContainers(cs)
			return
		}
	}
	rv.Warnings = append(rv.Warnings, "containers not attributed: "+term.Line(err.Error()))
}

// changeFlags are what promote and demote share besides where the
// profiles are.
type changeFlags struct {
	StateDir string
	Write    bool
	DryRun   bool
}

func (f *changeFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.StateDir, "state-dir", safefile.DefaultStateDir, "where backups are kept")
	fl.BoolVar(&f.Write, "write", false, "change the files: back up, write, validate, reload (default: show the diff only)")
	fl.BoolVar(&f.DryRun, "dry-run", false, "show the diff and change nothing: the default, and it wins over --write")
}

func (f *changeFlags) options(d dirFlags, a *app) apparmor.ChangeOptions {
	return apparmor.ChangeOptions{Root: d.Root, Dir: d.dir(), StateDir: f.StateDir, Write: f.Write && !f.DryRun, Clock: a.clock}
}

type apparmorPromoteOptions struct {
	Logs     logFlags
	Change   changeFlags
	Names    []string
	Ready    bool
	AddRules bool
}

func newApparmorPromoteCmd(a *app, runF runFunc[apparmorPromoteOptions]) *cobra.Command {
	if runF == nil {
		runF = runApparmorPromote
	}
	opts := &apparmorPromoteOptions{}
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
against the pinned AppArmor 3.0 ABI and reloads it (apparmor_parser -r) when
--root is / and the kernel has AppArmor; otherwise it says that the reload
was skipped and why. A failed validation or reload restores the previous
file (and the previously loaded policy) and exits 1. Running it twice
changes nothing the second time.`,
		Example: `  ctsec apparmor promote ctsec-web                       # dry run: show the diff
  ctsec apparmor promote --ready --add-rules --dry-run     # what the weekly run would change
  ctsec apparmor promote ctsec-web --add-rules --write     # add learnt rules, enforce
  ctsec apparmor promote --ready --write --since 14d
  ctsec apparmor promote ctsec-web --root /mnt/image --write`,
		SuggestFor: []string{"enforce"},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Logs.add(cmd)
	opts.Change.add(cmd)
	cmd.Flags().BoolVar(&opts.Ready, "ready", false, "promote every profile the review finds ready")
	cmd.Flags().BoolVar(&opts.AddRules, "add-rules", false, "add the rules the review proposes before enforcing")
	return cmd
}

func runApparmorPromote(ctx context.Context, opts *apparmorPromoteOptions, a *app) (*report.Report, error) {
	if opts.Ready == (len(opts.Names) > 0) {
		return nil, usageError(errors.New("name profiles or give --ready, not both or neither"))
	}
	o := opts.Change.options(opts.Logs.dirFlags, a)
	names := opts.Names
	if opts.Ready || opts.AddRules {
		logs := opts.Logs
		if len(opts.Names) > 0 {
			logs.Profiles = opts.Names
		}
		rv, err := logs.review(ctx, a)
		if err != nil {
			return nil, err
		}
		if opts.Ready {
			names = rv.ReadyProfiles()
		}
		if opts.AddRules {
			o.Rules = rv.ProposedRules()
			if rv.LostEvents {
				// the rules come from an incomplete record: enforcing
				// them may block what the lost events would have shown
				fmt.Fprintln(a.stderr, "ctsec: warning: the logs show lost events in the window, so the rules to add may be incomplete (see 'ctsec apparmor review')")
			}
		}
	}
	if len(names) == 0 {
		return nothingToChange("apparmor promote", o, "no profile is ready to promote"), nil
	}
	return setMode(ctx, "apparmor promote", names, "enforce", o)
}

type apparmorDemoteOptions struct {
	Dir    dirFlags
	Change changeFlags
	Names  []string
	All    bool
}

func newApparmorDemoteCmd(a *app, runF runFunc[apparmorDemoteOptions]) *cobra.Command {
	if runF == nil {
		runF = runApparmorDemote
	}
	opts := &apparmorDemoteOptions{}
	cmd := &cobra.Command{
		Use:   "demote PROFILE... | --all",
		Short: "Emergency way back: switch enforce-mode profiles to complain",
		Long: `demote switches profiles back to complain mode in their files (--all: every
enforce-mode profile in the profiles directory) and records when, so the next
review counts the days in complain mode from now. Like promote it shows the
diff and changes nothing without --write (--dry-run wins over --write), keeps
a backup, validates with apparmor_parser -QK, reloads where it can and
restores the file on failure.`,
		Example: `  ctsec apparmor demote ctsec-web --write
  ctsec apparmor demote --all --write`,
		// The way back is what someone typing these is looking for.
		SuggestFor: []string{"rollback", "undo", "revert", "complain"},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Dir.add(cmd)
	opts.Change.add(cmd)
	cmd.Flags().BoolVar(&opts.All, "all", false, "demote every enforce-mode profile in the profiles directory")
	return cmd
}

func runApparmorDemote(ctx context.Context, opts *apparmorDemoteOptions, a *app) (*report.Report, error) {
	if opts.All == (len(opts.Names) > 0) {
		return nil, usageError(errors.New("name profiles or give --all, not both or neither"))
	}
	o := opts.Change.options(opts.Dir, a)
	names := opts.Names
	var problems []error
	if opts.All {
		files, probs, err := apparmor.LoadProfileDir(opts.Dir.dir())
		if err != nil {
			return nil, err
		}
		// In an emergency one file ctsec cannot parse must not stop the
		// others from going back to complain: it is named, and the exit
		// status says not everything was done.
		problems = probs
		for _, p := range problems {
			fmt.Fprintf(a.stderr, "ctsec: skipped: %s\n", term.Line(p.Error()))
		}
		for _, pf := range files {
			for _, p := range pf.Profiles {
				if p.Mode() == "enforce" {
					names = append(names, p.Name)
				}
			}
		}
	}
	var r *report.Report
	var err error
	if len(names) == 0 {
		r = nothingToChange("apparmor demote", o, "no profile in enforce mode")
	} else {
		r, err = setMode(ctx, "apparmor demote", names, "complain", o)
	}
	if err == nil && len(problems) > 0 {
		err = failed("%d profile file(s) could not be parsed and were not demoted (first: %v)", len(problems), problems[0])
	}
	return r, err
}

type changeReport struct {
	DryRun  bool                    `json:"dry_run"`
	Results []apparmor.ChangeResult `json:"results"`
}

// nothingToChange is the report of a promote or demote that found no
// profile to change: a line of text, or the usual report with no results.
func nothingToChange(command string, o apparmor.ChangeOptions, msg string) *report.Report {
	r := report.New(command, nil, changeReport{DryRun: !o.Write, Results: []apparmor.ChangeResult{}})
	r.Text = func(w io.Writer, _ report.Options) error {
		_, err := fmt.Fprintln(w, msg)
		return err
	}
	return &r
}

func setMode(ctx context.Context, command string, names []string, mode string, o apparmor.ChangeOptions) (*report.Report, error) {
	results, err := apparmor.SetMode(ctx, names, mode, o)
	if results == nil && err != nil {
		return nil, err
	}
	rule := apparmor.RulePromoteFailed
	if mode == "complain" {
		rule = apparmor.RuleDemoteFailed
	}
	var findings []report.Finding
	for _, res := range results {
		if res.Error != "" {
			findings = append(findings, report.Finding{Rule: rule, Severity: report.High, File: res.File, Message: res.Error,
				Fix: "fix the profile file; it was restored from backup " + res.BackupID})
		}
	}
	r := report.New(command, findings, changeReport{DryRun: !o.Write, Results: results})
	r.Text = func(w io.Writer, opt report.Options) error { return writeChanges(w, results, o.Write, opt) }
	return &r, failedErr(err)
}

func writeChanges(w io.Writer, results []apparmor.ChangeResult, write bool, o report.Options) error {
	line := func(format string, args ...any) {
		io.WriteString(w, term.Fit(fmt.Sprintf(format, args...), o.LineWidth()))
	}
	for _, r := range results {
		if r.Diff == "" {
			line("%s: already %s, nothing to change\n", r.File, r.Mode)
			continue
		}
		io.WriteString(w, r.Diff) // the file's content: as it is
		switch {
		case r.RolledBack:
			line("%s: NOT changed: %s (backup %s restored)\n", r.File, term.Line(r.Error), r.BackupID)
		case !write:
			line("%s: dry run, nothing changed (%d rule(s) to add); re-run with --write to apply\n", r.File, r.RulesAdded)
		default:
			line("%s: now %s, %d rule(s) added, validated with apparmor_parser, backup %s\n", r.File, r.Mode, r.RulesAdded, r.BackupID)
			line("%s: reload %s\n", r.File, term.Line(r.Reload))
		}
	}
	return nil
}
