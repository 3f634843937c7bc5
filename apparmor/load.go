package apparmor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/rootfs"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/textdiff"
)

// LoadOptions control Load.
type LoadOptions struct {
	Root     string // host root; "/" loads into the running kernel
	Mode     string // "", "complain" or "enforce": rewrite the profiles' flags
	StateDir string // where backups of replaced files go
	Write    bool   // false: plan only, change nothing
	NoLoad   bool   // install the files only (e.g. into a mounted image)
	Checker  Checker
	Runner   execx.Runner
	Clock    clock.Clock // dates the complain-since marker and the backup; nil = system clock
}

// LoadAction is what Load does (or would do) with one file.
type LoadAction struct {
	Source  string   `json:"source"`
	Target  string   `json:"target"`
	Names   []string `json:"profiles"`
	Mode    string   `json:"mode"`
	Changed bool     `json:"changed"`
	Diff    string   `json:"diff,omitempty"`
	Loaded  bool     `json:"loaded"`
}

// LoadResult is the plan or its outcome.
type LoadResult struct {
	Actions  []LoadAction `json:"actions"`
	Written  bool         `json:"written"`
	BackupID string       `json:"backup,omitempty"`
	Note     string       `json:"note,omitempty"`
}

// ValidationError says a file failed validation; nothing was changed.
type ValidationError struct {
	File     string
	Findings []report.Finding
}

func (e *ValidationError) Error() string {
	f := e.Findings[0]
	return fmt.Sprintf("%s: %s (%s); nothing was changed", f.Where(), f.Message, f.Rule)
}

var safeFileName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`) })

// Load installs profile files into ROOT/etc/apparmor.d/containers/ and loads
// them with `apparmor_parser -r -W` (which also refreshes the cache, so they
// return after an AppArmor reload). Every file is validated first; a
// replaced file is backed up under StateDir; when the kernel refuses a
// profile, the files and the kernel are put back as they were.
//
// Without Write it only plans: the target, the mode and a diff per file.
// With Write on "/", a kernel without AppArmor fails with ErrNoAppArmor
// before anything changes (unless NoLoad). For a Root other than "/" the
// files are installed and checked with apparmor_parser -QK but never
// loaded, whatever that root's kernel: the running kernel is not its.
func Load(ctx context.Context, files []string, o LoadOptions) (LoadResult, error) {
	if o.Root == "" {
		o.Root = "/"
	}
	switch o.Mode {
	case "", "complain", "enforce":
	default:
		return LoadResult{}, fmt.Errorf("mode %q: want complain or enforce", o.Mode)
	}
	// Only this host's kernel is ever loaded into, so only there does a
	// kernel without AppArmor stop the job; a plan never needs one.
	hostLoad := !o.NoLoad && filepath.Clean(o.Root) == "/"
	var noAppArmor error
	if hostLoad {
		if sup := DetectSupport(ctx, o.Root); !sup.KernelEnabled || !sup.SecurityFS {
			noAppArmor = fmt.Errorf("%w under %s (%s is not Y or securityfs is not mounted); nothing was changed (--no-load installs the files only)",
				ErrNoAppArmor, o.Root, filepath.Join(o.Root, "sys/module/apparmor/parameters/enabled"))
			if o.Write {
				return LoadResult{}, noAppArmor
			}
		}
	}
	dir, err := InRoot(o.Root, filepath.Join(o.Root, ProfileDir))
	if err != nil {
		return LoadResult{}, err
	}
	now := clock.Or(o.Clock).Now()
	var res LoadResult
	contents := map[string][]byte{}
	for _, f := range files {
		act, content, err := planOne(ctx, f, dir, now, o)
		if err != nil {
			return LoadResult{}, err
		}
		for _, prev := range res.Actions {
			if prev.Target == act.Target {
				return LoadResult{}, fmt.Errorf("%s and %s would both be installed as %s", prev.Source, act.Source, act.Target)
			}
		}
		res.Actions = append(res.Actions, act)
		contents[act.Target] = content
	}
	if !o.Write {
		switch {
		case noAppArmor != nil:
			res.Note = "dry run: nothing was changed; --write would refuse: this kernel has no AppArmor (--no-load installs the files only)"
		case !hostLoad:
			res.Note = "dry run: nothing was changed (add --write to install and verify; a root other than / is never loaded)"
		default:
			res.Note = "dry run: nothing was changed (add --write to install and load)"
		}
		return res, nil
	}
	if _, err := rootfs.New(o.Root).MkdirAll(ProfileDir, 0o755); err != nil {
		return res, fmt.Errorf("creating %s: %w", ProfileDir, err)
	}
	// A directory missing at planning resolves only now that it exists.
	real, err := InRoot(o.Root, dir)
	if err != nil {
		return res, err
	}
	if real != dir {
		moved := map[string][]byte{}
		for i, a := range res.Actions {
			res.Actions[i].Target = filepath.Join(real, filepath.Base(a.Target))
			moved[res.Actions[i].Target] = contents[a.Target]
		}
		contents = moved
	}
	store := safefile.Store{Dir: o.StateDir, Clock: o.Clock}
	change, err := store.NewChange("apparmor load")
	if err != nil {
		return res, err
	}
	res.BackupID = change.ID()
	existed := map[string]bool{}
	for _, a := range res.Actions {
		_, err := os.Stat(a.Target)
		existed[a.Target] = err == nil
		if err := change.Save(a.Target); err != nil {
			return res, err
		}
	}
	for _, a := range res.Actions {
		if !a.Changed {
			continue
		}
		if err := safefile.WriteFile(a.Target, contents[a.Target], 0o644); err != nil {
			_, _ = store.Restore(change.ID())
			return res, fmt.Errorf("installing %s: %w (restored)", a.Target, err)
		}
	}
	res.Written = true
	if o.NoLoad {
		res.Note = "installed; not loaded (--no-load)"
		return res, change.Finish()
	}
	if filepath.Clean(o.Root) != "/" {
		for i, a := range res.Actions {
			probs, err := o.Checker.Check(ctx, contents[a.Target])
			if err == nil && len(probs) > 0 {
				err = fmt.Errorf("%s", probs[0])
			}
			if err != nil {
				_, _ = store.Restore(change.ID())
				return res, fmt.Errorf("%w: verifying %s: %w (restored)", ErrValidation, a.Target, err)
			}
			res.Actions[i].Loaded = false
		}
		res.Note = fmt.Sprintf("installed under %s and verified with apparmor_parser -QK; not loaded (the running kernel is not that root's)", o.Root)
		return res, change.Finish()
	}
	for i, a := range res.Actions {
		if err := kernelLoad(ctx, o.Runner, "-r", a.Target); err != nil {
			// The failing file is put back too: apparmor_parser loads a
			// file's profiles one by one, so the kernel may hold some of it.
			rollbackLoad(ctx, o.Runner, &store, change.ID(), res.Actions[:i+1], existed)
			return res, fmt.Errorf("%w: loading %s: %w; files and kernel restored (backup %s)", ErrValidation, a.Target, err, change.ID())
		}
		res.Actions[i].Loaded = true
		for _, n := range a.Names {
			change.AddLive(safefile.Live{Kind: "apparmor", Target: n, Action: "loaded (" + a.Mode + ")"})
		}
	}
	return res, change.Finish()
}

// planOne validates a source file, applies the mode and compares it with
// what is installed.
func planOne(ctx context.Context, src, dir string, now time.Time, o LoadOptions) (LoadAction, []byte, error) {
	data, err := ReadFile(src)
	if err != nil {
		return LoadAction{}, nil, err
	}
	findings, err := Validate(ctx, src, data, ValidateOptions{Checker: o.Checker})
	if err != nil {
		return LoadAction{}, nil, err
	}
	var bad []report.Finding
	for _, f := range findings {
		if f.Severity >= report.High {
			bad = append(bad, f)
		}
	}
	if len(bad) > 0 {
		return LoadAction{}, nil, &ValidationError{File: src, Findings: bad}
	}
	p, err := ParseProfile(src, data)
	if err != nil {
		return LoadAction{}, nil, err
	}
	content := data
	if o.Mode != "" && p.Mode() != o.Mode {
		if err := p.SetMode(o.Mode); err != nil {
			return LoadAction{}, nil, err
		}
		if content, err = p.Bytes(); err != nil {
			return LoadAction{}, nil, fmt.Errorf("rewriting %s for %s mode: %w", src, o.Mode, err)
		}
	}
	base := p.Name
	if !safeFileName().MatchString(base) {
		base = strings.TrimSuffix(filepath.Base(src), ".apparmor")
		if !safeFileName().MatchString(base) {
			return LoadAction{}, nil, fmt.Errorf("%s: neither profile name %q nor the file name is a safe file name", src, p.Name)
		}
	}
	act := LoadAction{Source: src, Target: filepath.Join(dir, base), Names: []string{p.Name}, Mode: p.Mode()}
	old, err := os.ReadFile(act.Target)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return act, nil, fmt.Errorf("reading installed %s: %w", act.Target, err)
	}
	content = complainSinceForInstall(content, old, act.Mode, now)
	act.Changed = err != nil || !bytes.Equal(old, content)
	oldName := act.Target
	if err != nil {
		oldName = "/dev/null" // as diff -N shows a file that is not there yet
	}
	act.Diff = textdiff.Unified(oldName, act.Target, old, content)
	return act, content, nil
}

// complainSinceForInstall dates the complain-since marker of a profile being
// installed: an installed profile already in complain mode keeps its date,
// one that enters complain mode now (new, or coming from enforce) gets now —
// not the date gen wrote, which would count days before it was loaded — and
// an enforcing profile carries none.
func complainSinceForInstall(content, installed []byte, mode string, now time.Time) []byte {
	if mode != "complain" {
		return WithComplainSince(content, time.Time{})
	}
	if since, ok := ComplainSince(installed); ok && inComplain(installed) {
		return WithComplainSince(content, since)
	}
	return WithComplainSince(content, now)
}

// ReadFile reads a profile file, refusing files larger than MaxProfileSize.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading profile: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxProfileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading profile %s: %w", path, err)
	}
	if len(data) > MaxProfileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxProfileSize)
	}
	return data, nil
}

// kernelLoad runs apparmor_parser -r -W (replace, write cache) or -R (remove).
func kernelLoad(ctx context.Context, r execx.Runner, op, file string) error {
	args := []string{op, file}
	if op == "-r" {
		args = []string{"-r", "-W", file}
	}
	res, err := r.Run(ctx, "apparmor_parser", args...)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("apparmor_parser %s: %s", strings.Join(args, " "), execx.FirstLine(res.Stderr))
	}
	return nil
}

// rollbackLoad undoes the profiles loaded before a failure: new ones are
// removed from the kernel, replaced ones are reloaded from their backups.
func rollbackLoad(ctx context.Context, r execx.Runner, store *safefile.Store, id string, done []LoadAction, existed map[string]bool) {
	for _, a := range done {
		if !existed[a.Target] {
			_ = kernelLoad(ctx, r, "-R", a.Target)
		}
	}
	_, _ = store.Restore(id)
	for _, a := range done {
		if existed[a.Target] {
			_ = kernelLoad(ctx, r, "-r", a.Target)
		}
	}
}
