package apparmor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/rootfs"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/textdiff"
)

// DefaultProfilesDir is where ctsec keeps container profiles (relative to
// the host root): loaded from files, they survive AppArmor reloads.
const DefaultProfilesDir = "etc/apparmor.d/containers"

// InRoot is dir with every symlink resolved inside root when dir lies under
// root (as the default ROOT/etc/apparmor.d/containers does), so no link in
// the root's tree (an absolute one, or ../../..) leads reads or writes out
// of it; a dir elsewhere (an explicit --profiles-dir) is used as given.
func InRoot(root, dir string) (string, error) {
	r := rootfs.New(root)
	if r.IsHost() {
		return dir, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(r.Dir(), abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return dir, nil
	}
	real, err := r.Resolve("/" + rel)
	if rootfs.IsNotExist(err) {
		return abs, nil // nothing there yet: nothing to read, created inside the root when written
	}
	return real, err
}

// ProfileFile is one file of a profiles directory.
type ProfileFile struct {
	Path     string
	Data     []byte
	ModTime  time.Time
	Profiles []*Profile
}

// LoadProfileDir parses the profile files directly in dir (subdirectories
// such as abstractions/ and local/ hold fragments, not profiles). Files that
// do not parse are returned as errors next to the ones that did.
func LoadProfileDir(dir string) ([]ProfileFile, []error, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading profiles directory: %w", err)
	}
	var files []ProfileFile
	var problems []error
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") ||
			strings.Contains(name, ".dpkg-") || strings.HasSuffix(name, ".rpmnew") || name == "README" {
			continue
		}
		pf, err := LoadProfileFile(filepath.Join(dir, name))
		if err != nil {
			problems = append(problems, err)
			continue
		}
		files = append(files, pf)
	}
	return files, problems, nil
}

// LoadProfileFile reads and parses one profile file.
func LoadProfileFile(path string) (ProfileFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return ProfileFile{}, fmt.Errorf("reading profile: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ProfileFile{}, fmt.Errorf("reading profile: %w", err)
	}
	if st.Size() > MaxProfileSize {
		return ProfileFile{}, fmt.Errorf("%s: larger than %d bytes", path, MaxProfileSize)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return ProfileFile{}, fmt.Errorf("reading profile %s: %w", path, err)
	}
	ps, err := Parse(path, bytes.NewReader(data))
	if err != nil {
		return ProfileFile{}, err
	}
	return ProfileFile{Path: path, Data: data, ModTime: st.ModTime(), Profiles: ps}, nil
}

// Infos describes the file's profiles for a review. How long a profile has
// been in complain mode comes from ctsec's marker comment, or else from the
// file's modification time (the last time anything changed it).
func (pf ProfileFile) Infos() []ProfileInfo {
	since := pf.ModTime
	if len(pf.Profiles) > 0 {
		if t, ok := complainSinceHeader(pf.Profiles[0]); ok {
			since = t
		}
	}
	var out []ProfileInfo
	var walk func(prefix string, p *Profile)
	walk = func(prefix string, p *Profile) {
		name := prefix + p.Name
		out = append(out, ProfileInfo{Name: name, File: pf.Path, Profile: p, ComplainSince: since})
		for _, r := range p.Rules {
			if c, ok := r.(Child); ok && c.Profile != nil {
				// the kernel names hats and children parent//child
				walk(name+"//", c.Profile)
			}
		}
	}
	for _, p := range pf.Profiles {
		walk("", p)
	}
	return out
}

// ChangeOptions shape promote and demote.
type ChangeOptions struct {
	Root     string // host root; reload happens only when it is "/"
	Dir      string // profiles directory (a path on this machine, already under Root)
	StateDir string // backups (safefile.Store)
	Write    bool   // false: show the diff, change nothing
	// Rules are added to the named profiles before the mode changes
	// (promote --add-rules).
	Rules   map[string][]Rule
	Checker Checker
	Runner  execx.Runner
	Clock   clock.Clock // dates learnt rules, complain-since headers and backups; nil = system clock
}

// ChangeResult is what happened to one profile file.
type ChangeResult struct {
	Profiles   []string `json:"profiles"`
	File       string   `json:"file"`
	Mode       string   `json:"mode"` // the mode asked for
	RulesAdded int      `json:"rules_added"`
	Diff       string   `json:"diff"`
	Written    bool     `json:"written"`
	Validated  bool     `json:"validated"`
	Reload     string   `json:"reload,omitempty"`
	BackupID   string   `json:"backup,omitempty"`
	RolledBack bool     `json:"rolled_back,omitempty"`
	Error      string   `json:"error,omitempty"`
	Warning    string   `json:"warning,omitempty"` // the change is done, but its record in the history is not
}

// ErrValidation marks a change apparmor_parser or the kernel refused; the
// previous file (and loaded policy) was restored.
var ErrValidation = errors.New("validation failed")

// SetMode switches the named profiles to mode ("enforce" for promote,
// "complain" for demote) in their files, adding opts.Rules first. For each
// file it shows the diff; with Write it backs the file up, writes it
// atomically, validates it with apparmor_parser -QK and reloads it where
// the kernel has AppArmor. A failed validation or reload restores the file
// (and the loaded profile) from the backup. Results come back per file,
// also when one failed; the error is the first failure.
func SetMode(ctx context.Context, names []string, mode string, o ChangeOptions) ([]ChangeResult, error) {
	if mode != "enforce" && mode != "complain" {
		return nil, fmt.Errorf("mode %q: want enforce or complain", mode)
	}
	dir, err := InRoot(o.Root, o.Dir)
	if err != nil {
		return nil, err
	}
	o.Dir = dir
	files, problems, err := LoadProfileDir(o.Dir)
	if err != nil {
		return nil, err
	}
	byFile := map[string][]string{}
	var order []string
	for _, n := range names {
		pf, ok := findProfile(files, n)
		if !ok {
			for _, p := range problems {
				// a file that did not parse may be the one holding n
				if strings.Contains(p.Error(), n) {
					return nil, p
				}
			}
			return nil, fmt.Errorf("profile %q: no file under %s defines it", n, o.Dir)
		}
		if _, seen := byFile[pf.Path]; !seen {
			order = append(order, pf.Path)
		}
		if !slices.Contains(byFile[pf.Path], n) {
			byFile[pf.Path] = append(byFile[pf.Path], n)
		}
	}
	var results []ChangeResult
	var firstErr error
	for _, path := range order {
		pf, _ := findFile(files, path)
		res, err := changeFile(ctx, pf, byFile[path], mode, o)
		results = append(results, res)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return results, firstErr
}

func findProfile(files []ProfileFile, name string) (ProfileFile, bool) {
	for _, f := range files {
		for _, p := range f.Profiles {
			if p.Name == name {
				return f, true
			}
		}
	}
	return ProfileFile{}, false
}

func findFile(files []ProfileFile, path string) (ProfileFile, bool) {
	for _, f := range files {
		if f.Path == path {
			return f, true
		}
	}
	return ProfileFile{}, false
}

func changeFile(ctx context.Context, pf ProfileFile, names []string, mode string, o ChangeOptions) (ChangeResult, error) {
	res := ChangeResult{Profiles: names, File: pf.Path, Mode: mode}
	now := clock.Or(o.Clock).Now()
	learnt := "learnt from complain-mode logs by ctsec apparmor promote, " + now.UTC().Format("2006-01-02")
	added := map[*Profile][]Rule{}
	var changed []*Profile
	for _, p := range pf.Profiles {
		if !slices.Contains(names, p.Name) {
			continue
		}
		changed = append(changed, p)
		if rules := o.Rules[p.Name]; len(rules) > 0 {
			var fresh []Rule
			for _, r := range rules {
				if !Covered(p, r) {
					fresh = append(fresh, r)
				}
			}
			if len(fresh) > 0 {
				p.Rules = append(p.Rules, Blank{}, Comment{Text: learnt})
				start := len(p.Rules)
				res.RulesAdded += p.Add(fresh...)
				added[p] = p.Rules[start:]
			}
		}
		if err := p.SetMode(mode); err != nil {
			return res, err
		}
	}
	newText, err := editFile(pf, changed, added, learnt)
	if err != nil {
		// no positions to edit at, or the edit did not give the profiles
		// the model holds: render the whole file from the model instead
		setComplainMarker(pf.Profiles[0], mode, now)
		if newText, err = renderFile(pf.Profiles); err != nil {
			return res, fmt.Errorf("rendering %s: %w", pf.Path, err)
		}
	} else {
		since := time.Time{}
		if mode == "complain" {
			since = now
			if t, ok := ComplainSince(pf.Data); ok {
				since = t // keep the original start
			}
		}
		newText = WithComplainSince(newText, since)
	}
	res.Diff = textdiff.Unified(pf.Path, pf.Path, pf.Data, newText)
	if res.Diff == "" || !o.Write {
		return res, nil
	}
	store := safefile.Store{Dir: o.StateDir, Clock: o.Clock}
	change, err := store.NewChange("apparmor " + map[string]string{"enforce": "promote", "complain": "demote"}[mode])
	if err != nil {
		return res, err
	}
	res.BackupID = change.ID()
	change.SetNote(strings.Join(names, " ") + " → " + mode)
	if err := change.Save(pf.Path); err != nil {
		return res, err
	}
	st, err := os.Stat(pf.Path)
	if err != nil {
		return res, err
	}
	if err := safefile.WriteFile(pf.Path, newText, st.Mode().Perm()); err != nil {
		return res, fmt.Errorf("writing %s: %w", pf.Path, err)
	}
	res.Written = true
	checker := o.Checker
	if checker.BaseDir == "" {
		checker.BaseDir = filepath.Dir(o.Dir)
		if _, err := os.Stat(filepath.Join(checker.BaseDir, "tunables")); err != nil {
			checker.BaseDir = ""
		}
	}
	problems, err := checker.Check(ctx, newText)
	if err == nil && len(problems) > 0 {
		err = fmt.Errorf("%w: apparmor_parser: %s", ErrValidation, problems[0].Error())
	}
	if err != nil {
		return rollback(&res, store, err)
	}
	res.Validated = true
	msg, err := reload(ctx, o, pf.Path)
	res.Reload = msg
	if err != nil {
		res2, err2 := rollback(&res, store, err)
		// Put the previous policy back in the kernel too.
		if msg2, rerr := reload(ctx, o, pf.Path); rerr != nil {
			res2.Reload += "; reloading the restored file failed too: " + msg2
		}
		return res2, err2
	}
	for _, n := range names {
		if msg == "reloaded" {
			change.AddLive(safefile.Live{Kind: "apparmor", Target: n, Action: "reloaded in " + mode + " mode"})
		}
	}
	if err := change.Finish(); err != nil {
		res.Warning = err.Error()
	}
	// The review shows when a profile went to enforce and came back.
	h := History{Dir: HistoryDir(o.StateDir)}
	command := map[string]string{"enforce": "apparmor promote", "complain": "apparmor demote"}[mode]
	for _, n := range names {
		if err := h.RecordMode(ModeRecord{At: now, Profile: n, Mode: mode, File: pf.Path, Command: command}); err != nil {
			res.Warning = err.Error()
		}
	}
	return res, nil
}

func rollback(res *ChangeResult, store safefile.Store, cause error) (ChangeResult, error) {
	if _, err := store.Restore(res.BackupID); err != nil {
		res.Error = cause.Error() + "; restoring the backup failed: " + err.Error()
		return *res, fmt.Errorf("%w; restoring backup %s failed: %v", cause, res.BackupID, err)
	}
	res.RolledBack = true
	res.Written = false
	res.Error = cause.Error()
	return *res, fmt.Errorf("%s: %w; the previous file was restored", res.File, cause)
}

// reload loads the file into the kernel when that is this host's kernel and
// it has AppArmor; otherwise it says why it did not.
func reload(ctx context.Context, o ChangeOptions, path string) (string, error) {
	root := o.Root
	if root == "" {
		root = "/"
	}
	if filepath.Clean(root) != "/" {
		return "skipped: --root " + root + " is not this host, load the profile on the target with apparmor_parser -r", nil
	}
	if s := DetectSupport(ctx, root); !s.KernelEnabled || !s.SecurityFS {
		return "skipped: AppArmor is not enabled in this kernel (no /sys/kernel/security/apparmor); the file is changed and validated, it takes effect when AppArmor loads it", nil
	}
	res, err := o.Runner.Run(ctx, "apparmor_parser", "-r", "-T", "-W", path)
	if err != nil {
		return "failed: " + err.Error(), err
	}
	if res.ExitCode != 0 {
		msg := execx.FirstLine(res.Stderr)
		return "failed: " + msg, fmt.Errorf("apparmor_parser -r %s: %s", path, msg)
	}
	return "reloaded", nil
}

// editFile writes the changed profiles' new headers (their mode) and added
// rules into the file's own text, keeping every other byte, so the diff a
// reviewer approves shows only the change — not a reformatting of a
// hand-written profile. The result is parsed again and must hold exactly the
// profiles, modes and rules of the model; otherwise it is an error and the
// caller renders the whole file.
func editFile(pf ProfileFile, changed []*Profile, added map[*Profile][]Rule, comment string) ([]byte, error) {
	type edit struct {
		at, end int
		text    string
	}
	var edits []edit
	data := pf.Data
	for _, p := range changed {
		if !p.span.ok || p.span.closeBrace > len(data) {
			return nil, fmt.Errorf("profile %q: no source positions", p.Name)
		}
		edits = append(edits, edit{p.span.headerStart, p.span.headerEnd, p.headerLine()})
		rules := added[p]
		if len(rules) == 0 {
			continue
		}
		var b strings.Builder
		b.WriteString("\n  " + Comment{Text: comment}.String() + "\n")
		for _, r := range rules {
			if err := r.Validate(); err != nil {
				return nil, err
			}
			b.WriteString("  " + r.String() + "\n")
		}
		// before the line of the closing brace when it stands alone there,
		// else right before the brace on a line of its own
		at := bytes.LastIndexByte(data[:p.span.closeBrace], '\n') + 1
		text := b.String()
		if at <= p.span.headerEnd || len(bytes.TrimSpace(data[at:p.span.closeBrace])) > 0 {
			at, text = p.span.closeBrace, text+"\n"
		}
		edits = append(edits, edit{at, at, text})
	}
	slices.SortFunc(edits, func(a, b edit) int { return b.at - a.at })
	out := slices.Clone(data)
	for _, e := range edits {
		out = slices.Concat(out[:e.at], []byte(e.text), out[e.end:])
	}
	got, err := Parse(pf.Path, bytes.NewReader(out))
	if err != nil {
		return nil, err
	}
	if len(got) != len(pf.Profiles) {
		return nil, fmt.Errorf("edited text holds %d profiles, want %d", len(got), len(pf.Profiles))
	}
	for i, want := range pf.Profiles {
		if got[i].Name != want.Name || got[i].Mode() != want.Mode() || !maps.Equal(got[i].RuleSet(), want.RuleSet()) {
			return nil, fmt.Errorf("edited profile %q differs from the model", want.Name)
		}
	}
	return out, nil
}

// renderFile renders every profile of a file, the preamble with the first.
func renderFile(ps []*Profile) ([]byte, error) {
	var out []byte
	for i, p := range ps {
		b, err := p.Bytes()
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, '\n')
		}
		out = append(out, b...)
	}
	return out, nil
}

// ReadyProfiles lists the profiles the review found ready.
func (rv *Review) ReadyProfiles() []string {
	var out []string
	for _, p := range rv.Profiles {
		if p.Verdict == VerdictReady && p.File != "" && p.Mode == "complain" {
			out = append(out, p.Profile)
		}
	}
	return out
}

// ProposedRules returns the review's proposals per profile.
func (rv *Review) ProposedRules() map[string][]Rule {
	out := map[string][]Rule{}
	for _, p := range rv.Profiles {
		for _, r := range p.Proposed {
			out[p.Profile] = append(out[p.Profile], r.Rule)
		}
	}
	return out
}
