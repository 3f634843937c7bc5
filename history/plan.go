package history

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ctsec/ctsec/internal/safefile"
)

// Plan is what a rollback would do, shown before anything is done.
type Plan struct {
	// Target is the change id, or "since TIME".
	Target string    `json:"target"`
	Since  time.Time `json:"since,omitzero"`
	// Changes are the changes undone, newest first.
	Changes []PlannedChange `json:"changes"`
	// Files are put back as they were before the oldest of Changes that
	// touched them.
	Files []PlannedFile `json:"files"`
	// Live is what is done to the running system, in order.
	Live     []string `json:"live"`
	Warnings []string `json:"warnings,omitempty"`

	entries []Entry
	work    *liveWork
}

// Actions on a planned change.
const (
	ActRollBack     = "roll back"     // files put back, then the running system made to use them
	ActHostRollback = "host rollback" // the host engine's own: files and each module's live state
	ActFilesOnly    = "files only"    // already undone: its files are put back with the others, nothing else
)

// PlannedChange is one change a rollback undoes.
type PlannedChange struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Command string    `json:"command"`
	Status  string    `json:"status"`
	Action  string    `json:"action"`
}

// File actions.
const (
	FileRestore = "restore" // content, mode and owner as they were
	FileRemove  = "remove"  // the change created it
	FileKeep    = "keep"    // already as it was
)

// PlannedFile is one file a rollback puts back.
type PlannedFile struct {
	Path string `json:"path"`
	// Root is the host root the path is under, "" for this machine.
	Root   string `json:"root,omitempty"`
	Action string `json:"action"`
	// From is the change whose backup holds the state put back.
	From string `json:"from"`
	// EditedSince: the file is not as the last change left it; the
	// rollback overwrites an edit made since (the file as it is now is
	// kept in the rollback's own change, so it is not lost).
	EditedSince bool `json:"edited_since,omitempty"`

	rec safefile.FileRecord
}

// Name is the file as people know it: under its root when there is one.
func (f PlannedFile) Name() string {
	if f.Root == "" {
		return f.Path
	}
	return strings.TrimRight(f.Root, "/") + f.Path
}

func fileKey(r safefile.FileRecord) string { return r.Root + "\x00" + r.Path }

// PlanOne plans undoing the one change id.
func PlanOne(entries []Entry, id string) (*Plan, error) {
	e, err := Find(entries, id)
	if err != nil {
		return nil, err
	}
	switch {
	case !e.InEffect():
		by := ""
		if e.RolledBack != nil && e.RolledBack.By != "" {
			by = fmt.Sprintf(" by %s; undo that rollback (ctsec rollback %s) to bring it back", e.RolledBack.By, e.RolledBack.By)
		}
		return nil, fmt.Errorf("change %s (%s) is already rolled back%s", id, e.Command, by)
	case e.Kind == "host-rollback":
		return nil, fmt.Errorf("change %s is a host rollback: it is undone by applying again (ctsec host apply %s)", id, hostModules(e))
	case e.Kind == "host" && e.Status == StatusReinstated:
		return nil, fmt.Errorf("change %s was rolled back and its files put back since: ctsec host apply again, then roll that back", id)
	}
	p := &Plan{Target: id, entries: entries}
	act := ActRollBack
	if e.Kind == "host" {
		act = ActHostRollback
	}
	p.Changes = []PlannedChange{{ID: e.ID, Time: e.Time, Command: e.Command, Status: e.Status, Action: act}}
	for _, r := range e.Files {
		p.Files = append(p.Files, planFile(r, e.ID, r.After))
	}
	p.work = planLive(p, []Entry{e})
	return p, nil
}

// PlanSince plans the emergency rollback: every change made at or after
// since, newest first, so that every file they touched is as it was at
// that time, byte for byte.
func PlanSince(entries []Entry, since time.Time) (*Plan, error) {
	p := &Plan{Target: "since " + since.UTC().Format(time.RFC3339), Since: since.UTC(), entries: entries}
	var window []Entry
	for _, e := range entries {
		if !e.Time.Before(since) {
			window = append(window, e)
		}
	}
	if len(window) == 0 {
		return nil, fmt.Errorf("no change recorded at or after %s: nothing to roll back", since.UTC().Format(time.RFC3339))
	}
	inWindow := map[string]bool{}
	for _, e := range window {
		inWindow[e.ID] = true
	}
	// Each file goes back to the state the oldest change of the window
	// found it in; whether it was edited since is judged against the
	// newest change that wrote it.
	first := map[string]PlannedFile{}
	var order []string
	last := map[string]string{}
	for _, e := range window {
		for _, r := range e.Files {
			k := fileKey(r)
			if _, ok := first[k]; !ok {
				first[k] = planFile(r, e.ID, "")
				order = append(order, k)
			}
			last[k] = r.After
		}
	}
	for _, k := range order {
		f := first[k]
		f.EditedSince = editedSince(f.rec, last[k])
		p.Files = append(p.Files, f)
	}
	for i := len(window) - 1; i >= 0; i-- {
		e := window[i]
		act := ActRollBack
		switch {
		case !e.InEffect():
			act = ActFilesOnly
		case e.Kind == "host" && e.HostStatus == "rolled-back":
			act = ActFilesOnly
		case e.Kind == "host":
			act = ActHostRollback
		case e.Kind == "host-rollback":
			act = ActFilesOnly
			if !inWindow[e.Undoes] {
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s rolled back host change %s, made before %s: its files are put back as that change left them, but the running system keeps the state from before it until `ctsec host apply %s`", e.ID, e.Undoes, p.Since.Format(time.RFC3339), hostModules(e)))
			}
		}
		p.Changes = append(p.Changes, PlannedChange{ID: e.ID, Time: e.Time, Command: e.Command, Status: e.Status, Action: act})
	}
	p.work = planLive(p, window)
	return p, nil
}

// planFile is the plan for record r of change from; after is the checksum
// the newest change touching the file left ("" when unknown).
func planFile(r safefile.FileRecord, from, after string) PlannedFile {
	f := PlannedFile{Path: r.Path, Root: r.Root, From: from, rec: r}
	cur, err := r.Current()
	switch {
	case err != nil:
		f.Action = FileRestore
	case !r.Existed && cur == "":
		f.Action = FileKeep
	case !r.Existed:
		f.Action = FileRemove
	case cur == r.SHA256:
		f.Action = FileKeep // content as it was; mode and owner are put back all the same
	default:
		f.Action = FileRestore
	}
	f.EditedSince = editedSince(r, after)
	return f
}

func editedSince(r safefile.FileRecord, after string) bool {
	if after == "" {
		return false
	}
	cur, err := r.Current()
	return err == nil && cur != after
}

// hostModules are the modules of a host apply or host rollback, for the
// command that applies them again.
func hostModules(e Entry) string {
	var mods []string
	for _, l := range e.Live {
		if l.Kind == "host" && !slices.Contains(mods, l.Target) {
			mods = append(mods, l.Target)
		}
	}
	if len(mods) == 0 {
		if f := strings.Fields(e.Note); len(f) > 0 {
			return strings.ReplaceAll(f[0], ",", " ")
		}
		return "MODULE"
	}
	return strings.Join(mods, " ")
}

// ParseSince reads the start of an emergency rollback: a change id (that
// change and every later one), an RFC 3339 time, a date-time or date in
// the clock's time zone, or a duration back from now ("2h", "3d" is not
// Go: use "72h").
func ParseSince(s string, entries []Entry, now time.Time) (time.Time, error) {
	for _, e := range entries {
		if e.ID == s {
			return e.Time, nil
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			return t, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: not a change id in the journal, an RFC 3339 time (2026-12-01T18:00:00Z), a date (2026-12-01, 2026-12-01T18:00) or a duration back from now (2h)", s)
}
