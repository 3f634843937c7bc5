package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/rootfs"
	"github.com/ctsec/ctsec/internal/safefile"
)

// Engine plans and applies module changes on one host.
type Engine struct {
	Env      *Env
	StateDir string
	Modules  []Module
	// Self is the argv prefix that runs ctsec, for the armed rollback
	// (default: this executable).
	Self []string
	// Hook, when set, is called at named points of apply ("backed-up",
	// "wrote /etc/…", "verified"); tests use it to inject faults.
	Hook func(point string)
	// Log receives one line per step, for people watching an apply.
	Log io.Writer
	// Clock dates change ids, journal entries and confirm deadlines; nil is
	// the system clock.
	Clock clock.Clock
}

// Plan is the plan of every selected module.
type Plan struct {
	Modules []*ModulePlan `json:"modules"`
}

// Changed reports whether any module would change anything.
func (p *Plan) Changed() bool {
	for _, m := range p.Modules {
		if m.Changed() {
			return true
		}
	}
	return false
}

// Refusals lists every lockout guard that said no.
func (p *Plan) Refusals() []Refusal {
	var out []Refusal
	for _, m := range p.Modules {
		out = append(out, m.Refusals...)
	}
	return out
}

// Diff is the unified diff of every edit, in plan order.
func (p *Plan) Diff() string {
	var b strings.Builder
	for _, m := range p.Modules {
		for _, e := range m.Edits {
			b.WriteString(e.Diff)
		}
	}
	return b.String()
}

func (e *Engine) store() *safefile.Store { return &safefile.Store{Dir: e.StateDir, Clock: e.Clock} }

func (e *Engine) now() time.Time { return clock.Or(e.Clock).Now().UTC() }

func (e *Engine) logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, format+"\n", args...)
	}
}

func (e *Engine) hook(point string) {
	if e.Hook != nil {
		e.Hook(point)
	}
}

func (e *Engine) module(name string) Module {
	for _, m := range e.Modules {
		if m.Name() == name {
			return m
		}
	}
	return nil
}

// Plan asks every module the policy configures for its plan.
func (e *Engine) Plan(ctx context.Context, pol *Policy) (*Plan, error) {
	if e.Env.Clock == nil {
		e.Env.Clock = e.Clock
	}
	p := &Plan{}
	for _, m := range e.Modules {
		if !pol.Manages(m.Name()) {
			p.Modules = append(p.Modules, &ModulePlan{Module: m.Name(), Notes: []string{notManaged(m.Name())}})
			continue
		}
		mp, err := m.Plan(ctx, e.Env, pol)
		if err != nil {
			return nil, fmt.Errorf("planning %s: %w", m.Name(), err)
		}
		mp.Module = m.Name()
		for _, ed := range mp.Edits {
			mp.Notes = append(mp.Notes, ed.Warnings...)
		}
		p.Modules = append(p.Modules, mp)
	}
	return p, nil
}

// Audit asks every module the policy configures for its findings; a module
// the policy leaves out is reported once, as info, so its absence is visible.
func (e *Engine) Audit(ctx context.Context, pol *Policy) ([]report.Finding, error) {
	var out []report.Finding
	for _, m := range e.Modules {
		if !pol.Manages(m.Name()) {
			out = append(out, report.Finding{Rule: "host/" + m.Name() + "-unmanaged", Severity: report.Info,
				Target: m.Name(), Message: notManaged(m.Name())})
			continue
		}
		fs, err := m.Audit(ctx, e.Env, pol)
		if err != nil {
			return nil, fmt.Errorf("auditing %s: %w", m.Name(), err)
		}
		out = append(out, fs...)
	}
	return out, nil
}

func notManaged(module string) string {
	return "the policy sets " + module + " to null: ctsec leaves " + module + " alone"
}

// ApplyOptions changes how apply behaves.
type ApplyOptions struct {
	// Force applies despite lockout guards.
	Force bool
	// ConfirmWithin arms an automatic rollback that runs unless Confirm is
	// called within this time.
	ConfirmWithin time.Duration
}

// ApplyResult says what apply did.
type ApplyResult struct {
	ID       string    `json:"id,omitempty"`
	Changed  bool      `json:"changed"`
	Modules  []string  `json:"modules,omitempty"`
	Deadline time.Time `json:"confirm_by,omitzero"`
	Armed    string    `json:"armed,omitempty"`
}

// RefusedError is apply stopped by lockout guards.
type RefusedError struct{ Refusals []Refusal }

func (e *RefusedError) Error() string {
	parts := make([]string, len(e.Refusals))
	for i, r := range e.Refusals {
		parts[i] = r.Guard + ": " + r.Reason
	}
	return "refusing to apply (use --force to override): " + strings.Join(parts, "; ")
}

// RolledBackError is an apply that failed verification or activation and
// was undone.
type RolledBackError struct {
	ID     string
	Module string
	Err    error
}

func (e *RolledBackError) Error() string {
	return fmt.Sprintf("%s: %v; every file was restored (change %s rolled back)", e.Module, e.Err, e.ID)
}

func (e *RolledBackError) Unwrap() error { return e.Err }

// Apply backs up every file the plan touches, arms the confirmation
// rollback if asked, writes the files atomically, verifies them with the
// real tools and activates them; any failure restores every file and the
// live state.
func (e *Engine) Apply(ctx context.Context, plan *Plan, opts ApplyOptions) (*ApplyResult, error) {
	if !plan.Changed() {
		return &ApplyResult{}, nil
	}
	if r := plan.Refusals(); len(r) > 0 && !opts.Force {
		return nil, &RefusedError{Refusals: r}
	}
	var mods []*ModulePlan
	var names []string
	for _, mp := range plan.Modules {
		if mp.Changed() {
			if e.module(mp.Module) == nil {
				return nil, fmt.Errorf("no module %q", mp.Module)
			}
			mods = append(mods, mp)
			names = append(names, mp.Module)
		}
	}
	change, err := e.store().NewChange("host apply " + strings.Join(names, ","))
	if err != nil {
		return nil, err
	}
	j := &Journal{ID: change.ID(), Time: e.now(), Root: e.Env.Root, Modules: names,
		SSHConnection: e.Env.SSHConnection, Status: StatusApplying, Captures: map[string]json.RawMessage{}}
	for _, mp := range mods {
		for _, ed := range mp.Edits {
			if err := change.SaveIn(e.Env.FS(), ed.Path); err != nil {
				return nil, err
			}
			j.CreatedDirs = append(j.CreatedDirs, e.missingDirs(ed.Path, j.CreatedDirs)...)
		}
		st, err := e.module(mp.Module).Capture(ctx, e.Env, mp)
		if err != nil {
			return nil, fmt.Errorf("recording live state of %s: %w", mp.Module, err)
		}
		if st != nil {
			j.Captures[mp.Module] = st
		}
	}
	change.SetNote(strings.Join(names, ","))
	if err := e.saveJournal(j); err != nil {
		return nil, err
	}
	e.hook("backed-up")
	e.logf("backup %s recorded", j.ID)
	res := &ApplyResult{ID: j.ID, Changed: true, Modules: names}
	if opts.ConfirmWithin > 0 {
		// Armed before anything changes, so a change that cuts the operator
		// off is undone even if this process dies with the session.
		if err := e.arm(ctx, j, opts.ConfirmWithin); err != nil {
			return nil, fmt.Errorf("arming the rollback: %w (nothing changed)", err)
		}
		res.Deadline, res.Armed = j.Deadline, j.ArmedBy
		e.logf("rollback armed (%s): confirm with `ctsec host confirm` before %s", j.ArmedBy, j.Deadline.Format(time.RFC3339))
	}
	for _, mp := range mods {
		for _, ed := range mp.Edits {
			if err := e.write(ed); err != nil {
				return nil, e.undo(ctx, j, mp.Module, err)
			}
			e.hook("wrote " + ed.Path)
		}
	}
	for _, mp := range mods {
		e.logf("verifying %s", mp.Module)
		if err := e.module(mp.Module).Verify(ctx, e.Env, mp); err != nil {
			return nil, e.undo(ctx, j, mp.Module, fmt.Errorf("verification failed: %w", err))
		}
	}
	e.hook("verified")
	for _, mp := range mods {
		if err := e.module(mp.Module).Activate(ctx, e.Env, mp); err != nil {
			return nil, e.undo(ctx, j, mp.Module, fmt.Errorf("activation failed: %w", err))
		}
	}
	for _, mp := range mods {
		if e.Env.Live() {
			change.AddLive(safefile.Live{Kind: "host", Target: mp.Module, Action: "activated"})
		}
	}
	if err := change.Finish(); err != nil {
		return res, err
	}
	j.Status = StatusApplied
	if opts.ConfirmWithin > 0 {
		j.Status = StatusPending
	}
	if err := e.updateJournal(j.ID, func(cur *Journal) error {
		if cur.Status == StatusRolledBack {
			return fmt.Errorf("the armed rollback already ran (deadline passed during apply)")
		}
		cur.Status = j.Status
		return nil
	}); err != nil {
		return res, err
	}
	return res, nil
}

// missingDirs lists the directories that writing host path p would create,
// deepest first, leaving out those already in known.
func (e *Engine) missingDirs(p string, known []string) []string {
	var out []string
	for d := filepath.Dir(p); d != "/" && d != "."; d = filepath.Dir(d) {
		if e.Env.Exists(d) {
			break
		}
		if !slices.Contains(known, d) {
			out = append(out, d)
		}
	}
	return out
}

// removeCreatedDirs removes the directories an apply created, deepest
// first; one that holds anything now (a file put there since) stays.
func removeCreatedDirs(env *Env, dirs []string) {
	sorted := slices.Clone(dirs)
	slices.SortFunc(sorted, func(a, b string) int { return len(b) - len(a) })
	for _, d := range sorted {
		env.FS().RemoveDir(d) // fails, harmlessly, when not empty
	}
}

// write makes one edit through the root (no symlink can lead it outside):
// the file belongs to the writer afterwards and nobody else can write it,
// whoever owned it before (the plan says so when that changes anything).
func (e *Engine) write(ed Edit) error {
	fsys := e.Env.FS()
	if ed.Remove {
		if err := fsys.Remove(ed.Path); err != nil {
			return fmt.Errorf("removing %s: %w", ed.Path, err)
		}
		return nil
	}
	if _, err := fsys.MkdirAll(filepath.Dir(ed.Path), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", ed.Path, err)
	}
	mode := ed.Mode
	if mode == 0 {
		mode = 0o644
	}
	own := rootfs.Reset
	if ed.Exists {
		own = rootfs.Owner(os.Geteuid(), ed.GID)
	}
	if err := fsys.WriteFile(ed.Path, ed.New, mode, own); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	return nil
}

// undo restores everything after a failed step and returns the error that
// explains it.
func (e *Engine) undo(ctx context.Context, j *Journal, module string, cause error) error {
	e.logf("%s failed, rolling back: %v", module, cause)
	if err := e.rollback(ctx, j.ID, "automatic: "+cause.Error()); err != nil {
		return fmt.Errorf("%s: %v; ROLLBACK ALSO FAILED: %v (restore with `ctsec host rollback %s`)", module, cause, err, j.ID)
	}
	return &RolledBackError{ID: j.ID, Module: module, Err: cause}
}

// Rollback restores the files of apply id and reverts the live state.
// An empty id means the newest apply that is not rolled back yet.
func (e *Engine) Rollback(ctx context.Context, id string) (string, error) {
	if id == "" {
		js, err := e.History()
		if err != nil {
			return "", err
		}
		for i := len(js) - 1; i >= 0; i-- {
			if js[i].Status != StatusRolledBack {
				id = js[i].ID
				break
			}
		}
		if id == "" {
			return "", errors.New("nothing to roll back: no host apply recorded in " + e.StateDir)
		}
	}
	return id, e.rollback(ctx, id, "requested")
}

func (e *Engine) rollback(ctx context.Context, id, reason string) error {
	unlock, err := e.lock()
	if err != nil {
		return err
	}
	defer unlock()
	j, err := e.loadJournal(id)
	if err != nil {
		return err
	}
	if j.Status == StatusRolledBack {
		return fmt.Errorf("change %s was already rolled back at %s", id, j.RolledBackAt.Format(time.RFC3339))
	}
	// The rollback is a change of its own in the journal: the files as they
	// are now are kept first, so nothing edited since the apply is lost and
	// an emergency rollback to an earlier time still finds every state.
	m, err := e.store().Load(id)
	if err != nil {
		return err
	}
	rc, err := e.store().NewChange("host rollback " + id)
	if err != nil {
		return err
	}
	rc.SetUndoes(id)
	rc.SetNote(strings.Join(j.Modules, ","))
	for _, f := range m.Files {
		if err := rc.SaveIn(rootfs.New(f.Root), f.Path); err != nil {
			return fmt.Errorf("keeping the files of %s before rolling back: %w", id, err)
		}
	}
	if _, err := e.store().Restore(id); err != nil {
		return fmt.Errorf("restoring files of %s: %w", id, err)
	}
	env := *e.Env
	env.Root = j.Root
	removeCreatedDirs(&env, j.CreatedDirs)
	var errs []error
	for i := len(j.Modules) - 1; i >= 0; i-- {
		m := e.module(j.Modules[i])
		if m == nil {
			errs = append(errs, fmt.Errorf("no module %q to revert", j.Modules[i]))
			continue
		}
		if err := m.Revert(ctx, &env, j.Captures[m.Name()]); err != nil {
			errs = append(errs, fmt.Errorf("reverting %s: %w", m.Name(), err))
			continue
		}
		if env.Live() {
			rc.AddLive(safefile.Live{Kind: "host", Target: m.Name(), Action: "reverted"})
		}
	}
	e.disarm(ctx, j)
	j.Status, j.RolledBackAt, j.Reason = StatusRolledBack, e.now(), reason
	if err := e.saveJournal(j); err != nil {
		errs = append(errs, err)
	}
	if err := rc.Finish(); err != nil {
		errs = append(errs, err)
	}
	if err := e.store().MarkRolledBack(id, safefile.RolledBack{Time: j.RolledBackAt, By: rc.ID(), Reason: reason}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
