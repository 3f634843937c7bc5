package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/rootfs"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/systemd"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/ctsec/ctsec/schedule"
	"github.com/spf13/cobra"
)

func newScheduleCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Daily and weekly audits as systemd timers, with kept reports and what changed",
		Long: `schedule installs systemd timers and services for ctsec's audits:

  bench            daily  03:00  CIS Docker Benchmark
  host-audit       daily  03:15  the host modules against the policy
  status           daily  03:30  the checkpoint across every layer
  apparmor-review  weekly Mon 04:00  complain-mode logs → rules, verdicts

Each timer is Persistent (a run missed while the host was down happens at
boot) and randomly delayed (--random-delay); each service is hardened as far
as its job allows (read-only system, private /tmp, no new privileges, only
the capabilities and address families it needs; the unit says why). Every
run keeps its report under --state-dir/reports/JOB, rotated (--keep), with
what changed since the previous run: new and fixed findings.`,
		Example: `  ctsec schedule install
  ctsec schedule install --at bench='*-*-* 02:00' --random-delay 1h --write
  ctsec schedule list
  ctsec schedule run status
  ctsec schedule remove --write`,
	}
	cmd.AddCommand(newScheduleInstallCmd(a, nil), newScheduleRemoveCmd(a, nil), newScheduleListCmd(a, nil), newScheduleRunCmd(a, nil))
	return cmd
}

type scheduleInstallOptions struct {
	Jobs        []string
	Root        string
	StateDir    string
	Self        string
	At          []string
	RandomDelay time.Duration
	Keep        int
	Policy      string
	Write       bool
}

type scheduleData struct {
	Plan    *schedule.Plan   `json:"plan"`
	Written bool             `json:"written"`
	Result  *schedule.Result `json:"result,omitempty"`
}

func selectJobs(names []string) ([]schedule.Job, error) {
	if len(names) == 0 {
		return schedule.Jobs, nil
	}
	var out []schedule.Job
	for _, n := range names {
		j, err := schedule.Find(n)
		if err != nil {
			return nil, usageError(err)
		}
		out = append(out, j)
	}
	return out, nil
}

func jobCompletion(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return schedule.Names(), cobra.ShellCompDirectiveNoFileComp
}

func newScheduleInstallCmd(a *app, runF runFunc[scheduleInstallOptions]) *cobra.Command {
	if runF == nil {
		runF = runScheduleInstall
	}
	opts := &scheduleInstallOptions{}
	cmd := &cobra.Command{
		Use:   "install [JOB...]",
		Short: "Write the timers and services (diff first; --write to install and enable)",
		Long: `install writes ctsec-JOB.service and ctsec-JOB.timer into /etc/systemd/system
under --root for each job (default all: bench, host-audit, status,
apparmor-review). It shows them as a diff first; with --write they are
checked with systemd-analyze verify (any warning refuses them), recorded in
the journal, written, and the timers enabled — started on the running
system, linked only under another root. 'ctsec rollback ID' undoes it.

--at JOB=CALENDAR sets a job's time (systemd's OnCalendar, checked with
systemd-analyze calendar); --random-delay spreads runs (RandomizedDelaySec).`,
		Example: `  ctsec schedule install
  ctsec schedule install status bench --at status='*-*-* 06:00' --write`,
		ValidArgsFunction: jobCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Jobs = args
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Root, "root", "/", "host root to install into (a mounted image or a test tree)")
	fl.StringVar(&opts.StateDir, "state-dir", safefile.DefaultStateDir, "where the services keep their reports (and the journal)")
	fl.StringVar(&opts.Self, "self", "", "the ctsec binary the services run (default: this executable)")
	fl.StringArrayVar(&opts.At, "at", nil, "JOB=CALENDAR: when a job runs (systemd OnCalendar, e.g. bench='*-*-* 02:00'); repeatable")
	fl.DurationVar(&opts.RandomDelay, "random-delay", 30*time.Minute, "random delay added to each run (RandomizedDelaySec)")
	fl.IntVar(&opts.Keep, "keep", 30, "reports kept per job")
	fl.StringVar(&opts.Policy, "policy", "", "host policy for host-audit and status (absolute path)")
	fl.BoolVar(&opts.Write, "write", false, "install (without it: show the units)")
	return cmd
}

func runScheduleInstall(ctx context.Context, opts *scheduleInstallOptions, a *app) (*report.Report, error) {
	jobs, err := selectJobs(opts.Jobs)
	if err != nil {
		return nil, err
	}
	self := opts.Self
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	state, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, usageError(err)
	}
	if opts.Keep < 1 {
		return nil, usageError(fmt.Errorf("--keep %d: keep at least one report", opts.Keep))
	}
	if opts.Policy != "" && !filepath.IsAbs(opts.Policy) {
		return nil, usageError(fmt.Errorf("--policy %s: a service needs an absolute path", opts.Policy))
	}
	var r execx.Runner
	calendars := map[string]string{}
	for _, at := range opts.At {
		job, cal, ok := strings.Cut(at, "=")
		if !ok {
			return nil, usageError(fmt.Errorf("--at %q: want JOB=CALENDAR", at))
		}
		if _, err := schedule.Find(job); err != nil {
			return nil, usageError(fmt.Errorf("--at: %w", err))
		}
		if err := schedule.CheckCalendar(ctx, r, cal); err != nil {
			return nil, usageError(fmt.Errorf("--at %s: %w", job, err))
		}
		calendars[job] = cal
	}
	s := schedule.Settings{Self: self, StateDir: state, RandomDelay: opts.RandomDelay, Keep: opts.Keep, Policy: opts.Policy}
	plan, err := schedule.PlanInstall(opts.Root, jobs, s, calendars)
	if err != nil {
		return nil, usageError(err)
	}
	return applySchedule(ctx, a, plan, opts.Write, opts.StateDir, "schedule install")
}

func applySchedule(ctx context.Context, a *app, plan *schedule.Plan, write bool, stateDir, command string) (*report.Report, error) {
	data := scheduleData{Plan: plan}
	var applyErr error
	if write {
		o := schedule.ApplyOptions{Store: a.store(stateDir), Command: command}
		if a.progress() {
			o.Log = a.stderr
		}
		data.Result, applyErr = schedule.Apply(ctx, plan, o)
		data.Written = applyErr == nil && data.Result.Change != ""
	}
	r := report.New(command, nil, data)
	undo := ""
	if data.Result != nil && data.Result.Change != "" {
		undo = a.nextCommand("rollback", data.Result.Change, "--yes")
	}
	r.Text = func(w io.Writer, o report.Options) error {
		for _, f := range plan.Files {
			io.WriteString(w, f.Diff)
		}
		var msg string
		switch {
		case !plan.Changed():
			msg = "nothing to change: the units are as they should be\n"
		case !write:
			msg = "dry run: nothing was changed (add --write)\n"
		case data.Written:
			msg = fmt.Sprintf("%s; change %s; undo with: %s\n", strings.Join(data.Result.Live, ", "), data.Result.Change, undo)
		}
		_, err := io.WriteString(w, fitLines(msg, o.LineWidth()))
		return err
	}
	if applyErr != nil {
		return &r, failedErr(applyErr)
	}
	return &r, nil
}

type scheduleRemoveOptions struct {
	Jobs     []string
	Root     string
	StateDir string
	Write    bool
}

func newScheduleRemoveCmd(a *app, runF runFunc[scheduleRemoveOptions]) *cobra.Command {
	if runF == nil {
		runF = runScheduleRemove
	}
	opts := &scheduleRemoveOptions{}
	cmd := &cobra.Command{
		Use:               "remove [JOB...]",
		Short:             "Disable and remove the timers and services (diff first; --write to do it)",
		ValidArgsFunction: jobCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Jobs = args
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().StringVar(&opts.Root, "root", "/", "host root (a mounted image or a test tree)")
	cmd.Flags().StringVar(&opts.StateDir, "state-dir", safefile.DefaultStateDir, "where the journal is kept (the reports stay)")
	cmd.Flags().BoolVar(&opts.Write, "write", false, "remove (without it: show what would go)")
	return cmd
}

func runScheduleRemove(ctx context.Context, opts *scheduleRemoveOptions, a *app) (*report.Report, error) {
	jobs, err := selectJobs(opts.Jobs)
	if err != nil {
		return nil, err
	}
	plan, err := schedule.PlanRemove(opts.Root, jobs)
	if err != nil {
		return nil, err
	}
	return applySchedule(ctx, a, plan, opts.Write, opts.StateDir, "schedule remove")
}

type scheduleListOptions struct {
	Root     string
	StateDir string
}

// scheduleJobRow is one job in the listing.
type scheduleJobRow struct {
	Job       string    `json:"job"`
	Every     string    `json:"every"`
	Installed bool      `json:"installed"`
	Enabled   bool      `json:"enabled"`
	Calendar  string    `json:"calendar,omitempty"`
	Next      string    `json:"next,omitempty"` // systemd's next elapse, on the running system
	LastRun   time.Time `json:"last_run,omitzero"`
	LastExit  int       `json:"last_exit"`
	Findings  int       `json:"findings"`
	New       int       `json:"new"`
	Fixed     int       `json:"fixed"`
	Reports   int       `json:"reports"`
	Report    string    `json:"report,omitempty"`
}

type scheduleListData struct {
	Jobs []scheduleJobRow `json:"jobs"`
}

func newScheduleListCmd(a *app, runF runFunc[scheduleListOptions]) *cobra.Command {
	if runF == nil {
		runF = runScheduleList
	}
	opts := &scheduleListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Each job: installed, enabled, when it runs next, its last report and what changed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().StringVar(&opts.Root, "root", "/", "host root (a mounted image or a test tree)")
	cmd.Flags().StringVar(&opts.StateDir, "state-dir", safefile.DefaultStateDir, "where the reports are kept")
	return cmd
}

func runScheduleList(ctx context.Context, opts *scheduleListOptions, a *app) (*report.Report, error) {
	root := rootfs.New(opts.Root)
	reports := schedule.Reports{Dir: opts.StateDir, Clock: a.clock}
	data := scheduleListData{Jobs: []scheduleJobRow{}}
	var r execx.Runner
	for _, j := range schedule.Jobs {
		row := scheduleJobRow{Job: j.Name, Every: j.Every}
		timer := schedule.UnitDir + "/" + j.Unit("timer")
		if b, err := root.ReadFile(timer, 1<<20); err == nil {
			row.Installed = true
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "OnCalendar="); ok {
					row.Calendar = v
				}
			}
		}
		row.Enabled = root.Exists(schedule.UnitDir + "/timers.target.wants/" + j.Unit("timer"))
		if systemd.Live(opts.Root) && row.Installed {
			if res, err := r.Run(ctx, "systemctl", "show", j.Unit("timer"), "--property=NextElapseUSecRealtime", "--value"); err == nil {
				row.Next = strings.TrimSpace(string(res.Stdout))
			}
		}
		files, err := reports.List(j.Name)
		if err != nil {
			return nil, err
		}
		row.Reports = len(files)
		if len(files) > 0 {
			rec, err := reports.Load(files[len(files)-1])
			if err != nil {
				return nil, err
			}
			row.LastRun, row.LastExit, row.Findings = rec.Time, rec.Exit, rec.Summary.Total
			row.New, row.Fixed, row.Report = len(rec.Diff.New), len(rec.Diff.Fixed), rec.File
		}
		data.Jobs = append(data.Jobs, row)
	}
	rep := report.New("schedule list", nil, data)
	rep.Text = func(w io.Writer, o report.Options) error {
		t := term.NewTable(w, o.LineWidth())
		t.Header("JOB", "TIMER", "WHEN", "LAST RUN", "LAST REPORT")
		for _, row := range data.Jobs {
			timer := "not installed"
			switch {
			case row.Enabled:
				timer = "enabled"
			case row.Installed:
				timer = "installed, disabled"
			}
			when := row.Calendar
			if row.Next != "" {
				when += " (next " + row.Next + ")"
			}
			last, rep := "never", "-"
			if !row.LastRun.IsZero() {
				last = row.LastRun.Format("2006-01-02 15:04Z")
				rep = fmt.Sprintf("%d findings, %d new, %d fixed (exit %d)", row.Findings, row.New, row.Fixed, row.LastExit)
			}
			t.Row(row.Job, timer, orDash(when), last, rep)
		}
		return t.Flush()
	}
	return &rep, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type scheduleRunOptions struct {
	Job      string
	StateDir string
	Keep     int
	Policy   string
}

type scheduleRunData struct {
	Job     string           `json:"job"`
	Exit    int              `json:"exit"`
	Report  string           `json:"report"`
	Summary report.Summary   `json:"summary"`
	Diff    schedule.Diff    `json:"diff"`
	Error   string           `json:"error,omitempty"`
	Record  *schedule.Record `json:"-"`
}

func newScheduleRunCmd(a *app, runF runFunc[scheduleRunOptions]) *cobra.Command {
	if runF == nil {
		runF = runScheduleRun
	}
	opts := &scheduleRunOptions{}
	cmd := &cobra.Command{
		Use:   "run JOB",
		Short: "Run a job now and keep its report (what the service runs)",
		Long: `run runs the job's command (bench, host audit, status or apparmor review) with
JSON output, keeps the report under --state-dir/reports/JOB with what
changed since the previous kept run (new and fixed findings), removes the
oldest beyond --keep, and prints the change. It exits 0 when the job ran,
whatever it found, and 2 when it could not run (so systemd marks the
service failed).`,
		Example:           "  ctsec schedule run status\n  journalctl -u ctsec-status.service",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: jobCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Job = args[0]
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().StringVar(&opts.StateDir, "state-dir", safefile.DefaultStateDir, "where the reports are kept")
	cmd.Flags().IntVar(&opts.Keep, "keep", 30, "reports kept per job")
	cmd.Flags().StringVar(&opts.Policy, "policy", "", "host policy for host-audit and status")
	return cmd
}

func runScheduleRun(ctx context.Context, opts *scheduleRunOptions, a *app) (*report.Report, error) {
	job, err := schedule.Find(opts.Job)
	if err != nil {
		return nil, usageError(err)
	}
	args := append([]string{}, job.Args...)
	if opts.Policy != "" && (job.Name == "host-audit" || job.Name == "status") {
		args = append(args, "--policy", opts.Policy)
	}
	if job.Name == "apparmor-review" {
		args = append(args, "--state-dir", opts.StateDir)
	}
	args = append(args, "--format", "json", "--fail-on", "none")
	var out, errOut bytes.Buffer
	sub := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, clock: a.clock, lookupEnv: a.lookupEnv}
	code := runApp(ctx, sub, args)
	rec := &schedule.Record{Job: job.Name, Exit: code}
	var findings []report.Finding
	if out.Len() > 0 {
		if findings, err = schedule.Findings(out.Bytes()); err == nil {
			rec.Report = bytes.TrimSpace(out.Bytes())
			rec.Summary = report.New("", findings, nil).Summary
		}
	}
	if code == exitError || len(rec.Report) == 0 {
		rec.Error = strings.TrimSpace(errOut.String())
		if rec.Error == "" {
			rec.Error = fmt.Sprintf("exit %d and no report", code)
		}
	}
	reports := schedule.Reports{Dir: opts.StateDir, Clock: a.clock}
	if err := reports.Save(rec, findings, opts.Keep); err != nil {
		return nil, err
	}
	data := scheduleRunData{Job: job.Name, Exit: code, Report: rec.File, Summary: rec.Summary, Diff: rec.Diff, Error: rec.Error, Record: rec}
	r := report.New("schedule run", nil, data)
	r.Text = func(w io.Writer, o report.Options) error { return writeScheduleRun(w, o, data) }
	if rec.Error != "" && len(rec.Report) == 0 {
		return &r, &exitErr{code: exitError, err: errors.New(job.Name + " could not run: " + firstLineOf(rec.Error))}
	}
	return &r, nil
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// maxShownChanges bounds the new and fixed findings listed in text; the
// kept report and json have them all.
const maxShownChanges = 20

func writeScheduleRun(w io.Writer, o report.Options, d scheduleRunData) error {
	width := o.LineWidth()
	var b strings.Builder
	since := "first kept run"
	if d.Diff.Previous != "" {
		since = "since " + d.Diff.PreviousTime.Format(time.RFC3339)
	}
	fmt.Fprintf(&b, "%s: %d findings (%d critical, %d high, %d medium); %d new, %d fixed, %d unchanged (%s)\n",
		d.Job, d.Summary.Total, d.Summary.Critical, d.Summary.High, d.Summary.Medium, len(d.Diff.New), len(d.Diff.Fixed), d.Diff.Unchanged, since)
	fmt.Fprintf(&b, "report kept in %s\n", d.Report)
	io.WriteString(w, fitLines(b.String(), width))
	t := term.NewTable(w, width)
	for _, part := range []struct {
		what string
		fs   []report.Finding
	}{{"new", d.Diff.New}, {"fixed", d.Diff.Fixed}} {
		for i, f := range part.fs {
			if i == maxShownChanges {
				t.Row(part.what, "", "", fmt.Sprintf("and %d more (the report has them all)", len(part.fs)-i))
				break
			}
			t.Row(part.what, f.Severity.String(), f.Rule, f.Message)
		}
	}
	return t.Flush()
}
