//go:build !lean

package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ctsec/ctsec/history"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/spf13/cobra"
)

// composeChange is the command compose records its changes under; compose
// rollback undoes only those (and rollbacks of them), never another job's
// change.
const composeChange = "compose harden"

// isComposeChange says whether an entry is compose's: a harden, or a
// rollback (through compose rollback or ctsec rollback) of one.
func isComposeChange(e history.Entry, byID map[string]history.Entry) bool {
	for range len(byID) + 1 {
		switch {
		case e.Command == composeChange:
			return true
		case e.Command == "compose rollback":
			return true // recorded by earlier versions
		case e.Undoes == "":
			return false
		}
		next, ok := byID[e.Undoes]
		if !ok {
			return false
		}
		e = next
	}
	return false
}

type composeRollbackOptions struct {
	ID       string // empty: list the changes
	StateDir string
}

// composeChangeRow is one backup in the listing.
type composeChangeRow struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Command string    `json:"command"`
	Files   []string  `json:"files"`
}

// composeRollbackData is rollback's result: the listing, or what one
// rollback did.
type composeRollbackData struct {
	Changes    []composeChangeRow `json:"changes,omitempty"`
	RolledBack string             `json:"rolled_back,omitempty"`
	Restored   []string           `json:"restored,omitempty"`
	Removed    []string           `json:"removed,omitempty"`
	// Backup is the change holding the files as they were before this
	// rollback, so it can be rolled back too.
	Backup string `json:"backup,omitempty"`
}

func newComposeRollbackCmd(a *app, runF runFunc[composeRollbackOptions]) *cobra.Command {
	if runF == nil {
		runF = runComposeRollback
	}
	opts := &composeRollbackOptions{}
	cmd := &cobra.Command{
		Use:   "rollback [ID]",
		Short: "List compose harden backups, or put the files of one back",
		Long: `Without ID, list the changes compose harden --write and -o made (id, time, files).
With ID, put every file of that change back exactly as it was (content, mode, owner);
a file the change created (with -o) is removed. The backup is checked against its
recorded checksum before anything is written, and the files as they are now are
backed up first, so a rollback can itself be rolled back.`,
		Example: `  ctsec compose rollback
  ctsec compose rollback 20261125T183636Z-379955
  ctsec compose rollback --format json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = firstArg(args)
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().StringVar(&opts.StateDir, "state-dir", safefile.DefaultStateDir, "where backups are kept")
	return cmd
}

func runComposeRollback(ctx context.Context, opts *composeRollbackOptions, a *app) (*report.Report, error) {
	j := a.journal(opts.StateDir)
	entries, err := j.List()
	if err != nil {
		return nil, err
	}
	byID := map[string]history.Entry{}
	for _, e := range entries {
		byID[e.ID] = e
	}
	if opts.ID == "" {
		return listComposeChanges(opts.StateDir, entries, byID)
	}
	e, err := history.Find(entries, opts.ID)
	if err != nil {
		return nil, usageError(err)
	}
	if !isComposeChange(e, byID) {
		return nil, usageError(fmt.Errorf("change %s was made by %q, not compose: undo it with %s", e.ID, e.Command, a.nextCommand("rollback", e.ID)))
	}
	plan, err := history.PlanOne(entries, e.ID)
	if err != nil {
		return nil, failedErr(err)
	}
	res, err := j.Apply(ctx, plan, history.Options{Clock: a.clock})
	if err != nil {
		return nil, fmt.Errorf("rolling back %s: %w", e.ID, err)
	}
	data := composeRollbackData{RolledBack: e.ID, Backup: res.Rollback}
	for _, f := range plan.Files {
		if f.Action == history.FileRemove {
			data.Removed = append(data.Removed, f.Name())
		} else {
			data.Restored = append(data.Restored, f.Name())
		}
	}
	undo := a.nextCommand("compose rollback", res.Rollback)
	r := report.New("compose rollback", nil, data)
	r.Text = func(w io.Writer, o report.Options) error {
		for _, p := range data.Restored {
			fmt.Fprintf(w, "restored %s\n", term.Line(p))
		}
		for _, p := range data.Removed {
			fmt.Fprintf(w, "removed %s\n", term.Line(p))
		}
		_, err := io.WriteString(w, term.Fit(fmt.Sprintf("the state before this rollback is backup %s; undo with: %s\n", res.Rollback, undo), o.LineWidth()))
		return err
	}
	return &r, nil
}

func listComposeChanges(stateDir string, entries []history.Entry, byID map[string]history.Entry) (*report.Report, error) {
	data := composeRollbackData{Changes: []composeChangeRow{}}
	for _, e := range entries {
		if !isComposeChange(e, byID) {
			continue
		}
		row := composeChangeRow{ID: e.ID, Time: e.Time.UTC(), Command: e.Command, Files: []string{}}
		for _, f := range e.Files {
			row.Files = append(row.Files, f.Path)
		}
		data.Changes = append(data.Changes, row)
	}
	r := report.New("compose rollback", nil, data)
	r.Text = func(w io.Writer, o report.Options) error {
		if len(data.Changes) == 0 {
			_, err := fmt.Fprintln(w, "no compose changes recorded in "+term.Line(stateDir))
			return err
		}
		t := term.NewTable(w, o.LineWidth())
		t.Header("ID", "TIME", "COMMAND", "FILES")
		for _, c := range data.Changes {
			for i, f := range c.Files {
				if i == 0 {
					t.Row(c.ID, c.Time.Format("2006-01-02 15:04:05Z"), c.Command, f)
				} else {
					t.Row("", "", "", f)
				}
			}
		}
		return t.Flush()
	}
	return &r, nil
}
