package history

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/rootfs"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/systemd"
)

// Options are what a rollback needs beyond the journal.
type Options struct {
	Runner execx.Runner
	// Docker connects to the engine when a change restarted a container;
	// nil means there is none.
	Docker func() (*engine.Client, error)
	// Log gets one line per step, for people watching.
	Log   io.Writer
	Clock clock.Clock
	// Reason is recorded on every change undone ("requested" by default).
	Reason string
}

// Result is what a rollback did.
type Result struct {
	// Rollback is the change that holds the files as they were just before
	// the rollback, so it can itself be undone.
	Rollback string `json:"rollback"`
	// RolledBack are the changes undone, newest first.
	RolledBack []string      `json:"rolled_back"`
	Files      []PlannedFile `json:"files"`
	Live       []string      `json:"live"`
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Apply carries out a plan made by PlanOne or PlanSince on this journal.
// Host applies are undone by the host engine (files and each module's live
// state); every other file is put back from the backup the plan names,
// after the files as they are now are kept in a new rollback change; then
// the running system is made to use them. Each file is checked against its
// recorded checksum afterwards.
func (j Journal) Apply(ctx context.Context, p *Plan, o Options) (*Result, error) {
	if o.Reason == "" {
		o.Reason = "requested"
	}
	unlock, err := j.Store.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another rollback may have run since the plan was made.
	fresh, err := j.List()
	if err != nil {
		return nil, err
	}
	for _, c := range p.Changes {
		e, err := Find(fresh, c.ID)
		if err != nil {
			return nil, err
		}
		if e.Status != c.Status {
			return nil, fmt.Errorf("change %s is %s now, not %s as planned: plan again", c.ID, e.Status, c.Status)
		}
	}
	res := &Result{Files: p.Files, Live: []string{}}
	for _, id := range p.work.hostChanges {
		if j.Host == nil {
			return res, fmt.Errorf("change %s is a host apply and no host engine was given", id)
		}
		o.logf("rolling back host change %s", id)
		if _, err := j.Host.Rollback(ctx, id); err != nil {
			return res, fmt.Errorf("rolling back host change %s: %w", id, err)
		}
		res.RolledBack = append(res.RolledBack, id)
		res.Live = append(res.Live, "host change "+id+" rolled back by the host engine")
	}
	if len(p.Changes) == 1 && p.Changes[0].Action == ActHostRollback {
		// The host engine kept the files as they were in a rollback
		// change of its own and checked nothing else needs doing.
		res.Rollback = hostRollbackOf(j.Store, p.Changes[0].ID)
		return res, verify(p.Files)
	}
	rc, err := j.Store.NewChange("rollback " + p.Target)
	if err != nil {
		return res, err
	}
	res.Rollback = rc.ID()
	if len(p.Changes) == 1 {
		rc.SetUndoes(p.Changes[0].ID)
		rc.SetNote(p.Changes[0].Command)
	} else {
		rc.SetNote(fmt.Sprintf("%d changes since %s", len(p.Changes), p.Since.Format(time.RFC3339)))
	}
	for _, f := range p.Files {
		if err := rc.SaveIn(rootfs.New(f.Root), f.Path); err != nil {
			return res, fmt.Errorf("keeping %s before the rollback: %w (nothing was restored)", f.Name(), err)
		}
	}
	if err := p.work.before(ctx, &o, &res.Live); err != nil {
		return res, fmt.Errorf("%w (no file was restored yet)", err)
	}
	// Each file from the backup of the change that first touched it.
	var from []string
	byFrom := map[string]map[string]bool{}
	for _, f := range p.Files {
		if byFrom[f.From] == nil {
			byFrom[f.From] = map[string]bool{}
			from = append(from, f.From)
		}
		byFrom[f.From][fileKey(f.rec)] = true
	}
	for _, id := range from {
		keep := byFrom[id]
		o.logf("restoring the files of %s", id)
		if _, err := j.Store.RestoreFiles(id, func(r safefile.FileRecord) bool { return keep[fileKey(r)] }); err != nil {
			return res, fmt.Errorf("restoring the files of %s: %w (the files as they were before this rollback are in change %s)", id, err, rc.ID())
		}
	}
	if err := verify(p.Files); err != nil {
		return res, fmt.Errorf("%w (the files as they were before this rollback are in change %s)", err, rc.ID())
	}
	liveErr := p.work.after(ctx, &o, &res.Live)
	for _, l := range p.work.records() {
		rc.AddLive(l)
	}
	if err := rc.Finish(); err != nil {
		return res, err
	}
	now := clock.Or(o.Clock).Now()
	var errs []error
	for _, c := range p.Changes {
		if c.Action == ActHostRollback || c.Status == StatusRolledBack {
			continue
		}
		if err := j.Store.MarkRolledBack(c.ID, safefile.RolledBack{Time: now, By: rc.ID(), Reason: o.Reason}); err != nil {
			errs = append(errs, err)
			continue
		}
		res.RolledBack = append(res.RolledBack, c.ID)
	}
	if liveErr != nil {
		errs = append(errs, liveErr)
	}
	return res, errors.Join(errs...)
}

// hostRollbackOf is the change the host engine recorded when it rolled
// back id.
func hostRollbackOf(s *safefile.Store, id string) string {
	if m, err := s.Load(id); err == nil && m.RolledBack != nil {
		return m.RolledBack.By
	}
	return ""
}

// verify checks that every file is now as the plan put it back: the
// recorded content, or absent.
func verify(files []PlannedFile) error {
	var bad []string
	for _, f := range files {
		cur, err := f.rec.Current()
		want := f.rec.SHA256
		if !f.rec.Existed {
			want = ""
		}
		if err != nil || cur != want {
			bad = append(bad, f.Name())
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("after the rollback %s do not match their backups", strings.Join(bad, ", "))
	}
	return nil
}

// systemctl runs systemctl for units under root (see internal/systemd).
func (o *Options) systemctl(ctx context.Context, root string, args ...string) error {
	return systemd.Systemctl(ctx, o.Runner, root, args...)
}

// container restarts or reloads a container a change touched.
func (o *Options) container(ctx context.Context, c ContainerLive) (string, error) {
	if o.Docker == nil {
		return "", fmt.Errorf("container %s: no Docker engine to restart it with", c.Name)
	}
	cli, err := o.Docker()
	if err != nil {
		return "", fmt.Errorf("container %s: %w", c.Name, err)
	}
	if len(c.Reload) > 0 {
		code, out, err := engine.Exec(ctx, cli, c.ID, c.Reload)
		if err != nil {
			return "", err
		}
		if code != 0 {
			return "", fmt.Errorf("%q in container %s exited %d: %s", strings.Join(c.Reload, " "), c.Name, code, execx.FirstLine(out))
		}
		return fmt.Sprintf("ran %q in container %s", strings.Join(c.Reload, " "), c.Name), nil
	}
	if err := engine.Restart(ctx, cli, c.ID); err != nil {
		return "", err
	}
	return "restarted container " + c.Name, nil
}
