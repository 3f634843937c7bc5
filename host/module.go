package host

import (
	"context"
	"encoding/json"
	"io/fs"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/textdiff"
)

// Module is one area of the host (ssh, firewall, sysctl, fail2ban, updates).
// The engine drives every module the same way: Plan (with lockout guards),
// Capture the live state, write the edits, Verify with the real tool,
// Activate; on failure or rollback, restore the files and Revert.
type Module interface {
	Name() string
	// Audit reports the effective state and where each value comes from.
	Audit(ctx context.Context, env *Env, pol *Policy) ([]report.Finding, error)
	// Plan computes the file edits and commands that bring the host to pol,
	// and the lockout guards that refuse it.
	Plan(ctx context.Context, env *Env, pol *Policy) (*ModulePlan, error)
	// Verify checks the written files with the real tool; an error rolls back.
	Verify(ctx context.Context, env *Env, plan *ModulePlan) error
	// Capture records live state that files alone cannot restore (running
	// sysctl values, whether the firewall was active), before any change.
	Capture(ctx context.Context, env *Env, plan *ModulePlan) (json.RawMessage, error)
	// Activate makes the running system use the written files (reload sshd,
	// sysctl -p, ufw reload). It only acts on the live root.
	Activate(ctx context.Context, env *Env, plan *ModulePlan) error
	// Revert makes the running system use the restored files again.
	Revert(ctx context.Context, env *Env, state json.RawMessage) error
}

// ModulePlan is what one module would do.
type ModulePlan struct {
	Module string `json:"module"`
	Edits  []Edit `json:"edits"`
	// Commands are what apply runs after writing, in order, for people to
	// read (verification, then activation).
	Commands []string `json:"commands"`
	// Refusals are lockout guards that stop apply unless --force.
	Refusals []Refusal `json:"refusals,omitempty"`
	Notes    []string  `json:"notes,omitempty"`
	// Data carries module-private facts from planning to verification
	// (e.g. the values sshd -T must show afterwards).
	Data any `json:"-"`
}

// Edit replaces one file (host path) with New, or removes it when Remove.
type Edit struct {
	Path   string      `json:"path"`
	Old    []byte      `json:"-"`
	New    []byte      `json:"-"`
	Exists bool        `json:"exists"`
	Remove bool        `json:"remove,omitempty"`
	Mode   fs.FileMode `json:"mode"`
	Diff   string      `json:"diff"`
}

// Refusal is a lockout guard that said no.
type Refusal struct {
	Guard  string `json:"guard"`
	Reason string `json:"reason"`
}

// Changed reports whether the plan changes anything.
func (p *ModulePlan) Changed() bool { return len(p.Edits) > 0 }

// NewEdit makes an edit from the current and desired content of a host
// path, or nil when they are equal (so a second apply changes nothing).
func NewEdit(env *Env, path string, desired []byte, mode fs.FileMode) (*Edit, error) {
	old, err := env.ReadFile(path)
	exists := err == nil
	if err != nil && !IsNotExist(err) {
		return nil, err
	}
	if exists && string(old) == string(desired) {
		return nil, nil
	}
	return &Edit{Path: path, Old: old, New: desired, Exists: exists, Mode: mode,
		Diff: textdiff.Unified(diffName(path, exists), path, old, desired)}, nil
}

func diffName(path string, exists bool) string {
	if !exists {
		return "/dev/null"
	}
	return path
}
