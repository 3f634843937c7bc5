package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/spf13/cobra"
)

type hostConfirmOptions struct {
	Host  hostOpts
	ID    string
	Force bool
}

func newHostConfirmCmd(a *app, runF runFunc[hostConfirmOptions]) *cobra.Command {
	if runF == nil {
		runF = runHostConfirm
	}
	opts := &hostConfirmOptions{}
	cmd := &cobra.Command{
		Use:   "confirm [ID]",
		Short: "Keep an apply made with --confirm-within and disarm its rollback",
		Long: `Confirm keeps the newest apply waiting for confirmation (or ID) and stops
its armed rollback. Run it from a NEW SSH login: that proves the host still
lets you in. Confirming from the session that applied is refused unless
--force.`,
		Example: `  ssh admin@host sudo ctsec host confirm`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = firstArg(args)
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Host.addFlags(a, cmd, false, true)
	cmd.Flags().BoolVar(&opts.Force, "force", false, "confirm even from the session that applied")
	return cmd
}

func runHostConfirm(ctx context.Context, opts *hostConfirmOptions, _ *app) (*report.Report, error) {
	e, err := opts.Host.engine(nil)
	if err != nil {
		return nil, err
	}
	j, err := e.Confirm(ctx, opts.ID, opts.Force)
	if err != nil {
		return nil, failedErr(err)
	}
	r := report.New("host confirm", nil, j)
	r.Text = func(w io.Writer, _ report.Options) error {
		_, err := fmt.Fprintf(w, "confirmed %s; its rollback is disarmed\n", j.ID)
		return err
	}
	return &r, nil
}

type hostRollbackOptions struct {
	Host          hostOpts
	ID            string
	IfUnconfirmed bool
	Wait          time.Duration
}

type hostRollbackData struct {
	ID         string `json:"id"`
	RolledBack bool   `json:"rolled_back"`
	Reason     string `json:"reason,omitempty"`
}

func newHostRollbackCmd(a *app, runF runFunc[hostRollbackOptions]) *cobra.Command {
	if runF == nil {
		runF = runHostRollback
	}
	opts := &hostRollbackOptions{}
	cmd := &cobra.Command{
		Use:   "rollback [ID]",
		Short: "Restore the files and live state of an earlier apply (default: the newest)",
		Long: `Rollback restores every file an apply changed, byte for byte with its mode
and owner (files it created are removed), then makes the running system use
them again (reload sshd, previous sysctl values, ufw, fail2ban). Without ID
it undoes the newest apply that is not rolled back yet; see 'ctsec host
history'.`,
		Example: `  ctsec host rollback
  ctsec host rollback 20260101T020000Z-a1b2c3`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = firstArg(args)
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Host.addFlags(a, cmd, false, true)
	cmd.Flags().BoolVar(&opts.IfUnconfirmed, "if-unconfirmed", false, "only roll back if the change was not confirmed (what the armed timer runs)")
	cmd.Flags().DurationVar(&opts.Wait, "wait", 0, "with --if-unconfirmed: sleep this long first")
	cmd.Flags().MarkHidden("if-unconfirmed")
	cmd.Flags().MarkHidden("wait")
	return cmd
}

func runHostRollback(ctx context.Context, opts *hostRollbackOptions, _ *app) (*report.Report, error) {
	e, err := opts.Host.engine(nil)
	if err != nil {
		return nil, err
	}
	var data hostRollbackData
	if opts.IfUnconfirmed {
		if opts.ID == "" {
			return nil, usageError(fmt.Errorf("--if-unconfirmed needs an ID"))
		}
		done, err := e.RollbackIfUnconfirmed(ctx, opts.ID, opts.Wait)
		if err != nil {
			return nil, err
		}
		data = hostRollbackData{ID: opts.ID, RolledBack: done, Reason: "not confirmed in time"}
		if !done {
			data.Reason = "confirmed; nothing rolled back"
		}
	} else {
		id, err := e.Rollback(ctx, opts.ID)
		if err != nil {
			return nil, err
		}
		data = hostRollbackData{ID: id, RolledBack: true}
	}
	r := report.New("host rollback", nil, data)
	r.Text = func(w io.Writer, _ report.Options) error {
		var err error
		switch {
		case data.RolledBack && data.Reason != "":
			_, err = fmt.Fprintf(w, "rolled back %s: %s\n", data.ID, data.Reason)
		case data.RolledBack:
			_, err = fmt.Fprintf(w, "rolled back %s\n", data.ID)
		default:
			_, err = fmt.Fprintf(w, "%s was confirmed; nothing rolled back\n", data.ID)
		}
		return err
	}
	return &r, nil
}

type hostHistoryOptions struct {
	Host hostOpts
}

// hostHistoryData is every recorded apply, oldest first.
type hostHistoryData struct {
	Changes []host.Journal `json:"changes"`
}

func newHostHistoryCmd(a *app, runF runFunc[hostHistoryOptions]) *cobra.Command {
	if runF == nil {
		runF = runHostHistory
	}
	opts := &hostHistoryOptions{}
	cmd := &cobra.Command{
		Use:     "history",
		Short:   "List host applies, their status and how to undo them",
		Example: `  ctsec host history --format json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Host.addFlags(a, cmd, false, true)
	return cmd
}

func runHostHistory(_ context.Context, opts *hostHistoryOptions, a *app) (*report.Report, error) {
	e, err := opts.Host.engine(nil)
	if err != nil {
		return nil, err
	}
	js, err := e.History()
	if err != nil {
		return nil, err
	}
	data := hostHistoryData{Changes: js}
	if data.Changes == nil {
		data.Changes = []host.Journal{}
	}
	undo := a.nextCommand("host rollback", "ID")
	r := report.New("host history", nil, data)
	r.Text = func(w io.Writer, o report.Options) error {
		if len(js) == 0 {
			_, err := fmt.Fprintln(w, "no host changes recorded in "+term.Line(opts.Host.stateDir))
			return err
		}
		t := term.NewTable(w, o.LineWidth())
		t.Header("ID", "TIME", "MODULES", "ROOT", "STATUS")
		for _, j := range js {
			status := j.Status
			if j.Reason != "" {
				status += " (" + j.Reason + ")"
			}
			t.Row(j.ID, j.Time.Format(time.RFC3339), strings.Join(j.Modules, ","), j.Root, status)
		}
		if err := t.Flush(); err != nil {
			return err
		}
		_, err := io.WriteString(w, term.Fit("undo one with: "+undo+"\n", o.LineWidth()))
		return err
	}
	return &r, nil
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
