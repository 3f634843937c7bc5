package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/spf13/cobra"
)

// The command names compose records its backups under; rollback restores
// only those, never another job's change.
const (
	composeChange   = "compose harden"
	composeRollback = "compose rollback"
)

func isComposeChange(command string) bool {
	return command == composeChange || command == composeRollback
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

func runComposeRollback(_ context.Context, opts *composeRollbackOptions, a *app) (*report.Report, error) {
	store := a.store(opts.StateDir)
	if opts.ID == "" {
		return listComposeChanges(store)
	}
	m, err := store.Load(opts.ID)
	if err != nil {
		return nil, usageError(err)
	}
	if !isComposeChange(m.Command) {
		return nil, usageError(fmt.Errorf("backup %s was made by %q, not compose: restore it with that command", m.ID, m.Command))
	}
	// The files may have been edited since: keep what is there now, so the
	// rollback can be rolled back too.
	now, err := store.NewChange(composeRollback)
	if err != nil {
		return nil, err
	}
	for _, f := range m.Files {
		if err := now.Save(f.Path); err != nil {
			return nil, err
		}
	}
	if _, err := store.Restore(m.ID); err != nil {
		return nil, fmt.Errorf("rolling back %s: %w", m.ID, err)
	}
	data := composeRollbackData{RolledBack: m.ID, Backup: now.ID()}
	for _, f := range m.Files {
		if f.Existed {
			data.Restored = append(data.Restored, f.Path)
		} else {
			data.Removed = append(data.Removed, f.Path)
		}
	}
	undo := nextCommand(a.cmd, "compose rollback", now.ID())
	r := report.New("compose rollback", nil, data)
	r.Text = func(w io.Writer, o report.Options) error {
		for _, p := range data.Restored {
			fmt.Fprintf(w, "restored %s\n", term.Line(p))
		}
		for _, p := range data.Removed {
			fmt.Fprintf(w, "removed %s\n", term.Line(p))
		}
		_, err := io.WriteString(w, term.Fit(fmt.Sprintf("the state before this rollback is backup %s; undo with: %s\n", now.ID(), undo), o.LineWidth()))
		return err
	}
	return &r, nil
}

func listComposeChanges(store *safefile.Store) (*report.Report, error) {
	all, err := store.List()
	if err != nil {
		return nil, err
	}
	// Ids sort by second only; the recorded time orders changes made
	// within one second.
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	data := composeRollbackData{Changes: []composeChangeRow{}}
	for _, m := range all {
		if !isComposeChange(m.Command) {
			continue
		}
		row := composeChangeRow{ID: m.ID, Time: m.Time.UTC(), Command: m.Command, Files: []string{}}
		for _, f := range m.Files {
			row.Files = append(row.Files, f.Path)
		}
		data.Changes = append(data.Changes, row)
	}
	r := report.New("compose rollback", nil, data)
	r.Text = func(w io.Writer, o report.Options) error {
		if len(data.Changes) == 0 {
			_, err := fmt.Fprintln(w, "no compose changes recorded in "+store.Dir)
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
