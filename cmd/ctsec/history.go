package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ctsec/ctsec/history"
	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/modules"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/spf13/cobra"
)

// journal is the one journal under a state directory, with the host engine
// that rolls back host applies.
func (a *app) journal(stateDir string) history.Journal {
	e := &host.Engine{Env: host.NewEnv("/"), StateDir: stateDir, Modules: modules.All(), Clock: a.clock}
	return history.Journal{Store: a.store(stateDir), Host: e}
}

type historyOptions struct {
	StateDir string
	Kind     string
}

type historyData struct {
	StateDir string          `json:"state_dir"`
	Changes  []history.Entry `json:"changes"`
}

func newHistoryCmd(a *app, runF runFunc[historyOptions]) *cobra.Command {
	if runF == nil {
		runF = runHistory
	}
	opts := &historyOptions{}
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List every change ctsec made, from every command, and whether it is still in effect",
		Long: `history lists the one journal of changes under --state-dir, oldest first:
every host apply, apparmor load/promote/demote, compose harden --write,
profile gen --force, tls deploy, schedule install or remove, and every
rollback. Each entry has an id, the time, the command, the files it
changed (with checksums before and after) and the live state it touched
(a profile loaded, a module reloaded, a container restarted).

Status: applied (in effect), rolled-back, or reinstated (rolled back, then
that rollback undone). 'ctsec rollback ID' undoes one change;
'ctsec rollback --since ID|TIME' undoes everything since.`,
		Example: `  ctsec history
  ctsec history --kind apparmor
  ctsec history --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().StringVar(&opts.StateDir, "state-dir", safefile.DefaultStateDir, "where the journal and backups are kept")
	cmd.Flags().StringVar(&opts.Kind, "kind", "", "only changes of this job: host, apparmor, profile, compose, tls, schedule, portainer, rollback")
	return cmd
}

func runHistory(_ context.Context, opts *historyOptions, a *app) (*report.Report, error) {
	all, err := a.journal(opts.StateDir).List()
	if err != nil {
		return nil, err
	}
	data := historyData{StateDir: opts.StateDir, Changes: []history.Entry{}}
	for _, e := range all {
		if opts.Kind == "" || e.Kind == opts.Kind || (opts.Kind == "rollback" && strings.HasSuffix(e.Kind, "rollback")) {
			data.Changes = append(data.Changes, e)
		}
	}
	undo := a.nextCommand("rollback", "ID")
	r := report.New("history", nil, data)
	r.Text = func(w io.Writer, o report.Options) error {
		if len(data.Changes) == 0 {
			_, err := fmt.Fprintln(w, "no changes recorded in "+term.Line(opts.StateDir))
			return err
		}
		t := term.NewTable(w, o.LineWidth())
		t.Header("ID (UTC TIME)", "STATUS", "COMMAND", "CHANGED")
		for _, e := range data.Changes {
			t.Row(e.ID, entryStatus(e), e.Command, changedSummary(e))
		}
		if err := t.Flush(); err != nil {
			return err
		}
		_, err := io.WriteString(w, term.Fit("undo one with: "+undo+"; everything since one: "+a.nextCommand("rollback", "--since", "ID")+"\n", o.LineWidth()))
		return err
	}
	return &r, nil
}

func entryStatus(e history.Entry) string {
	s := e.Status
	if e.HostStatus != "" && e.HostStatus != host.StatusRolledBack && e.HostStatus != host.StatusApplied {
		s += " (" + e.HostStatus + ")"
	}
	return s
}

// changedSummary is the files and live state of an entry in a few words.
func changedSummary(e history.Entry) string {
	var parts []string
	for _, f := range e.Files {
		name := f.Path
		if f.Root != "" {
			name = strings.TrimRight(f.Root, "/") + f.Path
		}
		parts = append(parts, name)
	}
	if len(parts) > 3 {
		parts = append(parts[:3], fmt.Sprintf("and %d more files", len(e.Files)-3))
	}
	for _, l := range e.Live {
		parts = append(parts, l.Kind+" "+l.Target+": "+l.Action)
	}
	if e.Undoes != "" {
		parts = append([]string{"undid " + e.Undoes}, parts...)
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

type rollbackOptions struct {
	StateDir string
	ID       string
	Since    string
	Yes      bool
}

// rollbackData is the plan, and what was done when --yes was given.
type rollbackData struct {
	Plan   *history.Plan   `json:"plan"`
	Done   bool            `json:"done"`
	Result *history.Result `json:"result,omitempty"`
}

func newRollbackCmd(a *app, runF runFunc[rollbackOptions]) *cobra.Command {
	if runF == nil {
		runF = runRollback
	}
	opts := &rollbackOptions{}
	cmd := &cobra.Command{
		Use:   "rollback ID | --since ID|TIME",
		Short: "Undo one change, or every change since a point in time (plan first, --yes to act)",
		Long: `rollback undoes changes recorded in the journal (see 'ctsec history').

  rollback ID             undo that one change
  rollback --since X      the emergency path: undo every change made at or
                          after X (a change id, a time such as
                          2026-12-01T18:00:00Z or 2026-12-01, or a duration
                          back from now such as 2h), newest first, so that
                          every file they touched is as it was then, byte
                          for byte

It prints the plan first — every file put back or removed, whether it was
edited since the change (that edit is overwritten, but kept), and what is
done to the running system — and changes nothing without --yes.

With --yes: host applies are undone by the host engine (files and each
module's live state: sysctl values, sshd, ufw, fail2ban); every other file
is put back from its backup after the files as they are now are kept in a
new rollback change (so a rollback can itself be rolled back); then the
running system is made to use them: AppArmor profiles reloaded (or unloaded
when the change created them) when the root is / and the kernel has
AppArmor, containers restarted or reloaded, timers enabled or disabled.
Every file is checked against its backup's checksum afterwards.`,
		Example: `  ctsec rollback 20261202T093000Z-a1b2c3
  ctsec rollback 20261202T093000Z-a1b2c3 --yes
  ctsec rollback --since 2026-12-01T18:00:00Z
  ctsec rollback --since 6h --yes`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = firstArg(args)
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().StringVar(&opts.StateDir, "state-dir", safefile.DefaultStateDir, "where the journal and backups are kept")
	cmd.Flags().StringVar(&opts.Since, "since", "", "undo every change at or after this change id, time or duration back from now")
	cmd.Flags().BoolVar(&opts.Yes, "yes", false, "carry out the plan (without it nothing is changed)")
	return cmd
}

func runRollback(ctx context.Context, opts *rollbackOptions, a *app) (*report.Report, error) {
	switch {
	case opts.ID == "" && opts.Since == "":
		return nil, usageError(fmt.Errorf("name the change to undo (ctsec history lists them) or --since ID|TIME for everything since"))
	case opts.ID != "" && opts.Since != "":
		return nil, usageError(fmt.Errorf("give a change id or --since, not both"))
	}
	j := a.journal(opts.StateDir)
	entries, err := j.List()
	if err != nil {
		return nil, err
	}
	var plan *history.Plan
	if opts.ID != "" {
		plan, err = history.PlanOne(entries, opts.ID)
	} else {
		var since time.Time
		if since, err = history.ParseSince(opts.Since, entries, a.clock.Now()); err != nil {
			return nil, usageError(err)
		}
		plan, err = history.PlanSince(entries, since)
	}
	if err != nil {
		return nil, failedErr(err)
	}
	data := rollbackData{Plan: plan}
	var applyErr error
	if opts.Yes {
		o := history.Options{Clock: a.clock, Docker: func() (*engine.Client, error) { return engine.Connect("") }}
		if a.progress() {
			o.Log = a.stderr
		}
		data.Result, applyErr = j.Apply(ctx, plan, o)
		data.Done = applyErr == nil
	}
	again := rollbackCommand(a, opts)
	r := report.New("rollback", nil, data)
	r.Text = func(w io.Writer, o report.Options) error { return writeRollback(w, o, data, again) }
	if applyErr != nil {
		return &r, failedErr(applyErr)
	}
	return &r, nil
}

// rollbackCommand is the command that carries out the plan shown.
func rollbackCommand(a *app, opts *rollbackOptions) string {
	if opts.ID != "" {
		return a.nextCommand("rollback", opts.ID, "--yes")
	}
	return a.nextCommand("rollback", "--since", opts.Since, "--yes")
}

func writeRollback(w io.Writer, o report.Options, d rollbackData, again string) error {
	width := o.LineWidth()
	p := d.Plan
	var b strings.Builder
	if p.Since.IsZero() {
		fmt.Fprintf(&b, "rollback of change %s:\n", p.Target)
	} else {
		fmt.Fprintf(&b, "rollback of %d changes %s, newest first:\n", len(p.Changes), p.Target)
	}
	io.WriteString(w, term.Fit(b.String(), width))
	t := term.NewTable(w, width)
	t.Indent = "  "
	for _, c := range p.Changes {
		t.Row(c.ID, c.Status, c.Action, c.Command)
	}
	t.Flush()
	fmt.Fprintln(w, "files:")
	t = term.NewTable(w, width)
	t.Indent = "  "
	for _, f := range p.Files {
		note := "as before " + f.From
		if f.EditedSince {
			note += "; EDITED SINCE: that edit is overwritten (kept in the rollback's own change)"
		}
		t.Row(f.Action, f.Name(), note)
	}
	if len(p.Files) == 0 {
		t.Row("none")
	}
	t.Flush()
	if len(p.Live) > 0 {
		fmt.Fprintln(w, "running system:")
		t = term.NewTable(w, width)
		t.Indent = "  "
		for _, l := range p.Live {
			t.Row("-", l)
		}
		t.Flush()
	}
	for _, warn := range p.Warnings {
		io.WriteString(w, term.Fit("warning: "+term.Line(warn)+"\n", width))
	}
	switch {
	case d.Result == nil:
		_, err := io.WriteString(w, term.Fit("dry run: nothing was changed; to do it: "+again+"\n", width))
		return err
	case d.Done:
		fmt.Fprintf(w, "rolled back %s\n", strings.Join(d.Result.RolledBack, ", "))
		for _, l := range d.Result.Live {
			io.WriteString(w, term.Fit("  "+term.Line(l)+"\n", width))
		}
		if d.Result.Rollback != "" {
			_, err := io.WriteString(w, term.Fit("the files as they were before are change "+d.Result.Rollback+"\n", width))
			return err
		}
	}
	return nil
}

// fitLines makes each line of text terminal-safe (term.Line) and fits it
// to the width, keeping the line breaks.
func fitLines(text string, width int) string {
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if body, ok := strings.CutSuffix(l, "\n"); ok {
			lines[i] = term.Line(body) + "\n"
		} else {
			lines[i] = term.Line(l)
		}
	}
	return term.Fit(strings.Join(lines, ""), width)
}
