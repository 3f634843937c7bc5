package history

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/modules"
	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/testenv"
)

type fixture struct {
	t     *testing.T
	dir   string
	clk   clock.Clock
	store *safefile.Store
	j     Journal
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	clk := clock.NewStep(testenv.Now(t), time.Second)
	st := &safefile.Store{Dir: filepath.Join(dir, "state"), Clock: clk}
	e := &host.Engine{Env: host.NewEnv(filepath.Join(dir, "host")), StateDir: st.Dir, Modules: modules.All(), Clock: clk}
	return &fixture{t: t, dir: dir, clk: clk, store: st, j: Journal{Store: st, Host: e}}
}

func (f *fixture) path(p string) string { return filepath.Join(f.dir, p) }

// change records one command that replaces (or, with nil, removes) files.
func (f *fixture) change(command string, files map[string][]byte) string {
	f.t.Helper()
	c, err := f.store.NewChange(command)
	if err != nil {
		f.t.Fatal(err)
	}
	for p, data := range files {
		if data == nil {
			if err := c.Save(f.path(p)); err != nil {
				f.t.Fatal(err)
			}
			os.Remove(f.path(p))
			continue
		}
		os.MkdirAll(filepath.Dir(f.path(p)), 0o755)
		if err := c.Replace(f.path(p), data, 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := c.Finish(); err != nil {
		f.t.Fatal(err)
	}
	return c.ID()
}

func (f *fixture) entries() []Entry {
	f.t.Helper()
	es, err := f.j.List()
	if err != nil {
		f.t.Fatal(err)
	}
	return es
}

func (f *fixture) status(id string) string {
	f.t.Helper()
	e, err := Find(f.entries(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return e.Status
}

// snapshot is every file under dir but the state directory: content,
// mode and owner.
func snapshot(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			if d != nil && d.IsDir() && d.Name() == "state" {
				return filepath.SkipDir
			}
			return err
		}
		b, _ := os.ReadFile(p)
		st, _ := os.Lstat(p)
		sys := st.Sys().(*syscall.Stat_t)
		sum := sha256.Sum256(b)
		out[strings.TrimPrefix(p, dir)] = hex.EncodeToString(sum[:]) + " " + st.Mode().String() + " " + string(rune('0'+sys.Uid%10))
		return nil
	})
	return out
}

func TestRollbackOneAndItsUndo(t *testing.T) {
	f := newFixture(t)
	os.WriteFile(f.path("compose.yaml"), []byte("v1\n"), 0o640)
	id := f.change("compose harden", map[string][]byte{"compose.yaml": []byte("v2\n"), "new.json": []byte("{}\n")})
	plan, err := PlanOne(f.entries(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Files) != 2 || plan.Changes[0].Action != ActRollBack {
		t.Fatalf("plan: %+v", plan)
	}
	for _, pf := range plan.Files {
		want := map[string]string{"compose.yaml": FileRestore, "new.json": FileRemove}[filepath.Base(pf.Path)]
		if pf.Action != want || pf.EditedSince {
			t.Errorf("%s: %s (edited %v), want %s", pf.Path, pf.Action, pf.EditedSince, want)
		}
	}
	res, err := f.j.Apply(context.Background(), plan, Options{Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(f.path("compose.yaml")); string(b) != "v1\n" {
		t.Fatalf("restored %q", b)
	}
	if st, _ := os.Stat(f.path("compose.yaml")); st.Mode().Perm() != 0o640 {
		t.Errorf("restored mode %v", st.Mode())
	}
	if _, err := os.Stat(f.path("new.json")); !os.IsNotExist(err) {
		t.Errorf("created file kept: %v", err)
	}
	if f.status(id) != StatusRolledBack || f.status(res.Rollback) != StatusApplied {
		t.Fatalf("statuses %s, %s", f.status(id), f.status(res.Rollback))
	}
	if _, err := PlanOne(f.entries(), id); err == nil || !strings.Contains(err.Error(), "already rolled back by "+res.Rollback) {
		t.Fatalf("second rollback of %s: %v", id, err)
	}
	// Undoing the rollback puts the change back, byte for byte.
	plan, err = PlanOne(f.entries(), res.Rollback)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.j.Apply(context.Background(), plan, Options{Clock: f.clk}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(f.path("compose.yaml")); string(b) != "v2\n" {
		t.Fatalf("after undoing the rollback: %q", b)
	}
	if b, _ := os.ReadFile(f.path("new.json")); string(b) != "{}\n" {
		t.Fatalf("created file not back: %q", b)
	}
	if f.status(id) != StatusReinstated || f.status(res.Rollback) != StatusRolledBack {
		t.Fatalf("statuses after undoing the rollback: %s, %s", f.status(id), f.status(res.Rollback))
	}
	// A reinstated change can be rolled back again.
	if _, err := PlanOne(f.entries(), id); err != nil {
		t.Fatalf("rolling back a reinstated change: %v", err)
	}
}

// The emergency path: every file any change since a point touched is as
// it was then, byte for byte (content, mode), however the changes overlap,
// whatever was edited by hand since; a second run changes nothing.
func TestRollbackSinceRestoresEveryByte(t *testing.T) {
	f := newFixture(t)
	os.WriteFile(f.path("a.conf"), []byte("a0\n"), 0o600)
	os.WriteFile(f.path("b.conf"), []byte("b0\n"), 0o644)
	os.WriteFile(f.path("doomed"), []byte("d0\n"), 0o644)
	f.change("compose harden", map[string][]byte{"a.conf": []byte("a-before-window\n")})
	os.MkdirAll(f.path("sub"), 0o755)
	before := snapshot(t, f.dir)

	first := f.change("compose harden", map[string][]byte{"a.conf": []byte("a1\n"), "c.new": []byte("c1\n")})
	f.change("profile gen web", map[string][]byte{"a.conf": []byte("a2\n"), "b.conf": []byte("b1\n"), "doomed": nil})
	r := f.change("apparmor gen", map[string][]byte{"sub/d.new": []byte("d\n"), "b.conf": []byte("b2\n")})
	os.Chmod(f.path("b.conf"), 0o666)
	os.WriteFile(f.path("a.conf"), []byte("hand edit\n"), 0o600)
	_ = r

	since, err := ParseSince(first, f.entries(), f.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	plan, err := PlanSince(f.entries(), since)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 3 || plan.Changes[0].Command != "apparmor gen" || plan.Changes[2].ID != first {
		t.Fatalf("changes not newest first: %+v", plan.Changes)
	}
	edited := map[string]bool{}
	for _, pf := range plan.Files {
		edited[filepath.Base(pf.Path)] = pf.EditedSince
		if filepath.Base(pf.Path) == "a.conf" && pf.From != first {
			t.Errorf("a.conf restored from %s, want the oldest change of the window %s", pf.From, first)
		}
	}
	if !edited["a.conf"] || edited["b.conf"] || edited["c.new"] {
		t.Errorf("edited since: %v (only a.conf was edited after its last change; b.conf's mode only)", edited)
	}
	res, err := f.j.Apply(context.Background(), plan, Options{Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	after := snapshot(t, f.dir)
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s: %s after the rollback, want %s", p, after[p], v)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s is left over", p)
		}
	}
	// The hand edit is not lost: the rollback's own change has it.
	m, _ := f.store.Load(res.Rollback)
	var kept bool
	for _, r := range m.Files {
		if filepath.Base(r.Path) == "a.conf" && r.SHA256 == sha("hand edit\n") {
			kept = true
		}
	}
	if !kept {
		t.Error("the file as it was before the rollback is not in the rollback's change")
	}
	for _, c := range plan.Changes {
		if f.status(c.ID) != StatusRolledBack {
			t.Errorf("%s is %s after the emergency rollback", c.ID, f.status(c.ID))
		}
	}
	// Again: nothing to do, nothing changes.
	plan, err = PlanSince(f.entries(), since)
	if err != nil {
		t.Fatal(err)
	}
	for _, pf := range plan.Files {
		if pf.Action != FileKeep {
			t.Errorf("second plan: %s %s", pf.Action, pf.Path)
		}
	}
	if _, err := f.j.Apply(context.Background(), plan, Options{Clock: f.clk}); err != nil {
		t.Fatal(err)
	}
	if again := snapshot(t, f.dir); len(again) != len(before) {
		t.Errorf("second run changed the tree: %v", again)
	}
}

// A host apply inside the window is undone by the host engine, which
// records a rollback of its own; the files come back byte for byte.
func TestRollbackSinceWithHostApply(t *testing.T) {
	testenv.Tool(t, "sysctl")
	f := newFixture(t)
	root := f.path("host")
	for p, c := range map[string]string{"etc/sysctl.d/99-sysctl.conf": "", "etc/sysctl.conf": "#x\n", "usr/lib/sysctl.d/99-protect-links.conf": "fs.protected_symlinks = 1\n"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(c), 0o644)
	}
	before := snapshot(t, f.dir)
	start := f.clk.Now()
	pol, err := host.BaselinePolicy()
	if err != nil {
		t.Fatal(err)
	}
	e := *f.j.Host
	mods, _ := modules.Select([]string{"sysctl"})
	e.Modules = mods
	plan, err := e.Plan(context.Background(), pol)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := e.Apply(context.Background(), plan, host.ApplyOptions{Force: true})
	if err != nil || !applied.Changed {
		t.Fatalf("host apply: %+v %v", applied, err)
	}
	f.change("compose harden", map[string][]byte{"compose.yaml": []byte("x\n")})

	rp, err := PlanSince(f.entries(), start)
	if err != nil {
		t.Fatal(err)
	}
	if rp.Changes[1].ID != applied.ID || rp.Changes[1].Action != ActHostRollback {
		t.Fatalf("host apply planned as %+v", rp.Changes)
	}
	if _, err := f.j.Apply(context.Background(), rp, Options{Clock: f.clk}); err != nil {
		t.Fatal(err)
	}
	after := snapshot(t, f.dir)
	if len(after) != len(before) {
		t.Errorf("files: %v, want %v", after, before)
	}
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s differs after the rollback", p)
		}
	}
	es := f.entries()
	he, _ := Find(es, applied.ID)
	if he.Status != StatusRolledBack || he.HostStatus != host.StatusRolledBack {
		t.Errorf("host apply is %s / %s", he.Status, he.HostStatus)
	}
	var hostRollback bool
	for _, e := range es {
		if e.Kind == "host-rollback" && e.Undoes == applied.ID {
			hostRollback = true
			if _, err := PlanOne(es, e.ID); err == nil || !strings.Contains(err.Error(), "ctsec host apply sysctl") {
				t.Errorf("undoing a host rollback: %v", err)
			}
		}
	}
	if !hostRollback {
		t.Error("the host engine recorded no rollback change")
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	entries := []Entry{{Manifest: safefile.Manifest{ID: "20300601T100000Z-abcdef", Time: now.Add(-2 * time.Hour)}}}
	for in, want := range map[string]time.Time{
		"20300601T100000Z-abcdef": now.Add(-2 * time.Hour),
		"2030-05-31T18:00:00Z":    time.Date(2030, 5, 31, 18, 0, 0, 0, time.UTC),
		"2030-05-31T18:00":        time.Date(2030, 5, 31, 18, 0, 0, 0, time.UTC),
		"2030-05-31":              time.Date(2030, 5, 31, 0, 0, 0, 0, time.UTC),
		"90m":                     now.Add(-90 * time.Minute),
	} {
		got, err := ParseSince(in, entries, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-2h", "2030-13-01", "../x"} {
		if _, err := ParseSince(bad, entries, now); err == nil {
			t.Errorf("ParseSince(%q) accepted", bad)
		}
	}
}

func TestStatusChains(t *testing.T) {
	m := func(id, by string) safefile.Manifest {
		x := safefile.Manifest{ID: id}
		if by != "" {
			x.RolledBack = &safefile.RolledBack{By: by}
		}
		return x
	}
	byID := map[string]safefile.Manifest{}
	for _, x := range []safefile.Manifest{m("a", "r1"), m("r1", "r2"), m("r2", ""), m("b", "gone"), m("c", "c"), m("x", "")} {
		byID[x.ID] = x
	}
	for id, want := range map[string]string{"a": StatusReinstated, "r1": StatusRolledBack, "r2": StatusApplied,
		"b": StatusRolledBack, "x": StatusApplied} {
		if got := status(byID[id], byID); got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
	status(byID["c"], byID) // a change marked by itself (a forged journal) ends
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
