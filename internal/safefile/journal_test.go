package safefile

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// A finished change records what it left in each file, so a later rollback
// can see an edit made since; live state, the change it undoes and its
// own undoing are kept in the manifest.
func TestJournalRecordsAfterLiveAndRollback(t *testing.T) {
	root := t.TempDir()
	s := testStore(t, filepath.Join(root, "state"))
	p := filepath.Join(root, "a.conf")
	gone := filepath.Join(root, "gone.conf")
	os.WriteFile(p, []byte("before\n"), 0o644)
	os.WriteFile(gone, []byte("x\n"), 0o644)
	c, err := s.NewChange("test apply")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Replace(p, []byte("after\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(gone); err != nil {
		t.Fatal(err)
	}
	os.Remove(gone)
	if err := c.AddLive(Live{Kind: "apparmor", Target: "ctsec-web", Action: "loaded"}); err != nil {
		t.Fatal(err)
	}
	m, _ := s.Load(c.ID())
	if m.Done || m.Files[0].After != "" {
		t.Fatalf("unfinished change is done or has after-checksums: %+v", m)
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	m, err = s.Load(c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !m.Done || m.Files[0].After != sha("after\n") || m.Files[1].After != "" {
		t.Fatalf("finished manifest: done %v, after %q %q", m.Done, m.Files[0].After, m.Files[1].After)
	}
	if len(m.Live) != 1 || m.Live[0].Target != "ctsec-web" {
		t.Fatalf("live state not kept: %+v", m.Live)
	}
	if cur, err := m.Files[0].Current(); err != nil || cur != m.Files[0].After {
		t.Fatalf("Current = %q, %v; want the after-checksum", cur, err)
	}
	os.WriteFile(p, []byte("edited by hand\n"), 0o644)
	if cur, _ := m.Files[0].Current(); cur == m.Files[0].After {
		t.Fatal("an edit since the change is not seen")
	}
	if cur, err := m.Files[1].Current(); err != nil || cur != "" {
		t.Fatalf("Current of a missing file = %q, %v", cur, err)
	}

	r, _ := s.NewChange("rollback " + c.ID())
	if err := r.SetUndoes(c.ID()); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 2, 3, 4, 5, 6, 0, time.FixedZone("x", 3600))
	if err := s.MarkRolledBack(c.ID(), RolledBack{Time: at, By: r.ID(), Reason: "requested"}); err != nil {
		t.Fatal(err)
	}
	m, _ = s.Load(c.ID())
	if m.RolledBack == nil || m.RolledBack.By != r.ID() || !m.RolledBack.Time.Equal(at) || m.RolledBack.Time.Location() != time.UTC {
		t.Fatalf("rolled back = %+v", m.RolledBack)
	}
	if rm, _ := s.Load(r.ID()); rm.Undoes != c.ID() {
		t.Fatalf("rollback change undoes %q", rm.Undoes)
	}
	if err := s.MarkRolledBack("../x", RolledBack{}); err == nil {
		t.Fatal("marking a path as a change succeeded")
	}
}

// The journal lock is exclusive: two holders never overlap.
func TestJournalLockExcludes(t *testing.T) {
	s := testStore(t, filepath.Join(t.TempDir(), "state"))
	var mu sync.Mutex
	inside, most := 0, 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := s.Lock()
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			most = max(most, inside)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			inside--
			mu.Unlock()
			unlock()
		}()
	}
	wg.Wait()
	if most != 1 {
		t.Fatalf("%d holders of the lock at once", most)
	}
	if list, err := s.List(); err != nil || len(list) != 0 {
		t.Fatalf("the lock file shows up as a change: %v %v", list, err)
	}
}
