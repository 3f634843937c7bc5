package main

import (
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/ctsec/ctsec/internal/safefile"
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

func newComposeRollbackCmd(a *app) *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "rollback [ID]",
		Short: "List compose harden backups, or put the files of one back",
		Long: `Without ID, list the changes compose harden --write and -o made (id, time, files).
With ID, put every file of that change back exactly as it was (content, mode, owner);
a file the change created (with -o) is removed. The backup is checked against its
recorded checksum before anything is written, and the files as they are now are
backed up first, so a rollback can itself be rolled back.`,
		Example: `  ctsec compose rollback
  ctsec compose rollback 20261125T183636Z-379955`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store := a.store(stateDir)
			if len(args) == 0 {
				return listComposeChanges(a, store)
			}
			m, err := store.Load(args[0])
			if err != nil {
				return usageError(err)
			}
			if !isComposeChange(m.Command) {
				return usageError(fmt.Errorf("backup %s was made by %q, not compose: restore it with that command", m.ID, m.Command))
			}
			// The files may have been edited since: keep what is there now,
			// so the rollback can be rolled back too.
			now, err := store.NewChange(composeRollback)
			if err != nil {
				return err
			}
			for _, f := range m.Files {
				if err := now.Save(f.Path); err != nil {
					return err
				}
			}
			if _, err := store.Restore(m.ID); err != nil {
				return fmt.Errorf("rolling back %s: %w", m.ID, err)
			}
			for _, f := range m.Files {
				verb := "restored"
				if !f.Existed {
					verb = "removed"
				}
				fmt.Fprintf(a.stderr, "ctsec: %s %s\n", verb, f.Path)
			}
			fmt.Fprintf(a.stderr, "ctsec: the state before this rollback is backup %s\n", now.ID())
			return nil
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", safefile.DefaultStateDir, "where backups are kept")
	return cmd
}

func listComposeChanges(a *app, store *safefile.Store) error {
	all, err := store.List()
	if err != nil {
		return err
	}
	// Ids sort by second only; the recorded time orders changes made
	// within one second.
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tTIME\tCOMMAND\tFILES")
	for _, m := range all {
		if !isComposeChange(m.Command) {
			continue
		}
		for i, f := range m.Files {
			id, when, what := m.ID, m.Time.UTC().Format("2006-01-02 15:04:05Z"), m.Command
			if i > 0 {
				id, when, what = "", "", ""
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", id, when, what, f.Path)
		}
	}
	return w.Flush()
}
