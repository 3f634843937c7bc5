package host

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	pathpkg "path"
	"syscall"

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
	// ActivateOnly: no file changes, but the running system still needs
	// what Activate does (a database to initialise, a timer to enable).
	ActivateOnly bool `json:"activate_only,omitempty"`
}

// Edit replaces one file (host path) with New, or removes it when Remove.
// The file belongs to the writer (root) afterwards with Mode, and its group
// is kept: a drop-in another user owns or can write lets them change how
// sshd, sysctl or fail2ban run.
type Edit struct {
	Path   string      `json:"path"`
	Old    []byte      `json:"-"`
	New    []byte      `json:"-"`
	Exists bool        `json:"exists"`
	Remove bool        `json:"remove,omitempty"`
	Mode   fs.FileMode `json:"mode"`
	GID    int         `json:"-"`
	Diff   string      `json:"diff"`
	// Warnings say what else apply changes or cannot change about the
	// file (its owner, a writable directory above it); plan shows them.
	Warnings []string `json:"warnings,omitempty"`
}

// Refusal is a lockout guard that said no.
type Refusal struct {
	Guard  string `json:"guard"`
	Reason string `json:"reason"`
}

// Changed reports whether the plan changes anything.
func (p *ModulePlan) Changed() bool { return len(p.Edits) > 0 || p.ActivateOnly }

// NewEdit makes an edit from the current and desired content of a host
// path, or nil when nothing would change (so a second apply changes
// nothing). An existing file keeps its mode without group and other write;
// one that belongs to someone other than root, or that others can write,
// is an edit even with the right content, and says so.
func NewEdit(env *Env, path string, desired []byte, mode fs.FileMode) (*Edit, error) {
	return newEdit(env, path, desired, mode, false)
}

// NewEditMode is NewEdit for a file that must have exactly mode afterwards
// (a hook script ufw-init runs only when it is executable): an existing
// file with another mode is an edit even with the right content, and says
// so.
func NewEditMode(env *Env, path string, desired []byte, mode fs.FileMode) (*Edit, error) {
	return newEdit(env, path, desired, mode, true)
}

func newEdit(env *Env, path string, desired []byte, mode fs.FileMode, exact bool) (*Edit, error) {
	fsys := env.FS()
	old, err := env.ReadFile(path)
	exists := err == nil
	if err != nil && !IsNotExist(err) {
		return nil, err
	}
	if !exists {
		if err := creatable(env, path); err != nil {
			return nil, err
		}
	}
	ed := &Edit{Path: path, Old: old, New: desired, Exists: exists, Mode: mode}
	if exists {
		st, err := fsys.Stat(path)
		if err != nil {
			return nil, err
		}
		ed.Mode = st.Mode().Perm() &^ 0o022
		uid, gid := owner(st)
		ed.GID = gid
		if uid != os.Geteuid() {
			ed.Warnings = append(ed.Warnings, fmt.Sprintf("%s belongs to uid %d, who could change what it configures; apply gives it to uid %d", path, uid, os.Geteuid()))
		}
		if m := st.Mode().Perm(); m&0o022 != 0 && !exact {
			ed.Warnings = append(ed.Warnings, fmt.Sprintf("%s is writable by group or others (mode %04o); apply makes it %04o", path, m, ed.Mode))
		}
		if m := st.Mode().Perm(); exact && m != mode {
			ed.Mode = mode
			ed.Warnings = append(ed.Warnings, fmt.Sprintf("%s has mode %04o; apply makes it %04o", path, m, mode))
		}
		if string(old) == string(desired) && len(ed.Warnings) == 0 {
			return nil, nil
		}
	}
	ed.Warnings = append(ed.Warnings, openDirs(env, path)...)
	ed.Diff = textdiff.Unified(diffName(path, exists), path, old, desired)
	return ed, nil
}

// creatable refuses a new file whose directory is a symlink leading to
// nothing inside the root (a link meant for the machine the root is
// mounted on): writing through it would fail or land where nobody looks.
func creatable(env *Env, p string) error {
	fsys := env.FS()
	for d := pathpkg.Dir(p); d != "/" && d != "."; d = pathpkg.Dir(d) {
		if _, err := fsys.Stat(d); err == nil {
			return nil
		}
		if st, err := fsys.Lstat(d); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(fsys.Join(d))
			return fmt.Errorf("cannot write %s: %s is a symlink to %s, which does not exist inside the root %s (ctsec resolves links inside --root, as a chroot would, and never follows them out)", p, fsys.Join(d), target, env.Root)
		}
	}
	return nil
}

// openDirs warns of directories above p that someone other than root owns
// or can write: they could replace the file ctsec writes.
func openDirs(env *Env, p string) []string {
	var out []string
	for d := pathpkg.Dir(p); ; d = pathpkg.Dir(d) {
		if st, err := env.FS().Stat(d); err == nil {
			uid, _ := owner(st)
			switch {
			case uid != 0 && uid != os.Geteuid():
				out = append(out, fmt.Sprintf("directory %s belongs to uid %d, who could replace %s", d, uid, p))
			case st.Mode().Perm()&0o022 != 0 && st.Mode()&fs.ModeSticky == 0:
				out = append(out, fmt.Sprintf("directory %s is writable by group or others (mode %04o), who could replace %s", d, st.Mode().Perm(), p))
			}
		}
		if d == "/" || d == "." {
			return out
		}
	}
}

func owner(st fs.FileInfo) (uid, gid int) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(sys.Uid), int(sys.Gid)
	}
	return -1, -1
}

func diffName(path string, exists bool) string {
	if !exists {
		return "/dev/null"
	}
	return path
}
