package host

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ctsec/ctsec/internal/safefile"
)

// Status of a host apply.
const (
	StatusApplying   = "applying"    // interrupted if it stays so
	StatusApplied    = "applied"     // done, no confirmation asked
	StatusPending    = "pending"     // done, rollback armed until confirmed
	StatusConfirmed  = "confirmed"   // confirmed in time
	StatusRolledBack = "rolled-back" // restored (automatically or asked)
)

// Journal is the host engine's record of one apply, next to the safefile
// backup with the same id: which modules, what live state to revert to, and
// the confirmation state.
type Journal struct {
	ID            string                     `json:"id"`
	Time          time.Time                  `json:"time"`
	Root          string                     `json:"root"`
	Modules       []string                   `json:"modules"`
	Status        string                     `json:"status"`
	SSHConnection string                     `json:"ssh_connection,omitempty"`
	Captures      map[string]json.RawMessage `json:"captures,omitempty"`
	Deadline      time.Time                  `json:"confirm_by,omitzero"`
	ArmedBy       string                     `json:"armed_by,omitempty"` // "systemd:UNIT" or "process:PID"
	ConfirmedAt   time.Time                  `json:"confirmed_at,omitzero"`
	RolledBackAt  time.Time                  `json:"rolled_back_at,omitzero"`
	Reason        string                     `json:"reason,omitempty"`
	// CreatedDirs are the directories apply had to create for new files
	// (e.g. apt-daily-upgrade.timer.d), deepest first; rollback removes
	// them again when they are empty, so the root is as it was.
	CreatedDirs []string `json:"created_dirs,omitempty"`
}

func (e *Engine) journalDir() string { return filepath.Join(e.StateDir, "host") }

func (e *Engine) journalPath(id string) (string, error) {
	if id == "" || strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
		return "", fmt.Errorf("invalid change id %q", id)
	}
	return filepath.Join(e.journalDir(), id+".json"), nil
}

func (e *Engine) saveJournal(j *Journal) error {
	if err := safefile.MakeStateDir(e.journalDir()); err != nil {
		return err
	}
	p, err := e.journalPath(j.ID)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	return safefile.WriteFile(p, append(b, '\n'), 0o600)
}

func (e *Engine) loadJournal(id string) (*Journal, error) {
	p, err := e.journalPath(id)
	if err != nil {
		return nil, err
	}
	if err := safefile.CheckStateDir(e.journalDir()); err != nil && !IsNotExist(err) {
		return nil, err
	}
	b, err := safefile.ReadState(p, 16<<20)
	if safefile.IsUntrusted(err) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("no host change %q in %s: %w", id, e.journalDir(), err)
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return &j, nil
}

// updateJournal changes a journal under the state lock.
func (e *Engine) updateJournal(id string, f func(*Journal) error) error {
	unlock, err := e.lock()
	if err != nil {
		return err
	}
	defer unlock()
	j, err := e.loadJournal(id)
	if err != nil {
		return err
	}
	if err := f(j); err != nil {
		return err
	}
	return e.saveJournal(j)
}

// lock serialises confirm and rollback, which race at the deadline.
func (e *Engine) lock() (func(), error) {
	if err := safefile.MakeStateDir(e.journalDir()); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(e.journalDir(), ".lock"), os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// History lists every host apply, oldest first.
func (e *Engine) History() ([]Journal, error) {
	if err := safefile.CheckStateDir(e.journalDir()); IsNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(e.journalDir())
	if err != nil {
		return nil, err
	}
	var out []Journal
	for _, en := range entries {
		name := en.Name()
		if !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		j, err := e.loadJournal(strings.TrimSuffix(name, ".json"))
		if err != nil {
			return nil, err
		}
		out = append(out, *j)
	}
	// Ids carry the time to the second only; the full time orders changes
	// made within one second, so "the newest" is the one made last.
	sort.Slice(out, func(a, b int) bool {
		if !out[a].Time.Equal(out[b].Time) {
			return out[a].Time.Before(out[b].Time)
		}
		return out[a].ID < out[b].ID
	})
	return out, nil
}
