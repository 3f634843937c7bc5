// Package history is ctsec's one journal of changes and the way back from
// them. Every command that changes something (host apply, apparmor
// load/promote/demote, compose harden --write, profile gen --force, tls
// deploy, schedule install) records one entry — a safefile.Manifest: id,
// time, command, every file with its checksum before and after, the live
// state touched — in the state directory's store. The package reads them as
// a pipeline:
//
//	entries (List)   what was changed, and whether it is still in effect
//	plan    (Plan*)  what undoing one change, or every change since a
//	                 point in time, would put back and do to the running system
//	apply   (Apply)  files put back byte for byte (the files as they are
//	                 now kept first, in a rollback change of its own), then the
//	                 running system made to use them
//	verify           each restored file checked against the checksum the
//	                 plan expects
package history

import (
	"fmt"
	"strings"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/safefile"
)

// Status of an entry.
const (
	StatusApplied    = "applied"     // in effect
	StatusRolledBack = "rolled-back" // undone
	StatusReinstated = "reinstated"  // undone, then that rollback undone in turn
)

// Entry is one change as history shows it.
type Entry struct {
	safefile.Manifest
	// Kind is the job that made it: host, apparmor, profile, compose,
	// tls, schedule, portainer, rollback.
	Kind   string `json:"kind"`
	Status string `json:"status"`
	// HostStatus is the host engine's own status of a host apply
	// (applying, applied, pending, confirmed, rolled-back).
	HostStatus string `json:"host_status,omitempty"`
}

// InEffect reports whether the entry's change is still in place.
func (e Entry) InEffect() bool { return e.Status != StatusRolledBack }

// KindOf names the job a command belongs to.
func KindOf(command string) string {
	f := strings.Fields(command)
	switch {
	case len(f) == 0:
		return "unknown"
	case f[0] == "host" && len(f) > 1 && f[1] == "rollback":
		return "host-rollback"
	case f[0] == "host":
		return "host"
	case f[0] == "compose" && len(f) > 1 && f[1] == "rollback":
		return "rollback"
	}
	return f[0]
}

// Journal reads the one journal under a state directory.
type Journal struct {
	Store *safefile.Store
	// Host is the host engine whose applies are in the journal (its own
	// records add their confirmation status); nil leaves them without.
	Host *host.Engine
}

// List returns every entry, oldest first.
func (j Journal) List() ([]Entry, error) {
	ms, err := j.Store.List()
	if err != nil {
		return nil, err
	}
	hostStatus := map[string]string{}
	if j.Host != nil {
		js, err := j.Host.History()
		if err != nil {
			return nil, err
		}
		for _, h := range js {
			hostStatus[h.ID] = h.Status
		}
	}
	byID := map[string]safefile.Manifest{}
	for _, m := range ms {
		byID[m.ID] = m
	}
	out := make([]Entry, len(ms))
	for i, m := range ms {
		e := Entry{Manifest: m, Kind: KindOf(m.Command), HostStatus: hostStatus[m.ID]}
		e.Status = status(m, byID)
		if e.Kind == "host" && e.HostStatus == host.StatusRolledBack && e.Status != StatusReinstated {
			e.Status = StatusRolledBack
		}
		out[i] = e
	}
	return out, nil
}

// status is whether m is in effect: a change is undone when a rollback
// marked it and that rollback is not undone in turn (and so on).
func status(m safefile.Manifest, byID map[string]safefile.Manifest) string {
	if m.RolledBack == nil {
		return StatusApplied
	}
	undone := true
	for range len(byID) {
		by, ok := byID[m.RolledBack.By]
		if !ok || by.RolledBack == nil {
			break
		}
		undone = !undone
		m = by
	}
	if undone {
		return StatusRolledBack
	}
	return StatusReinstated
}

// Find returns the entry with id.
func Find(entries []Entry, id string) (Entry, error) {
	for _, e := range entries {
		if e.ID == id {
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("no change %q in the journal (ctsec history lists them)", id)
}
