package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// Rollback by id of the file-changing commands this machine can run end to
// end (host apply, compose harden, tls, schedule and the AppArmor load on
// the lab guest have their own tests): profile gen --force, apparmor load
// and apparmor promote under a root. Each change is undone byte for byte,
// newest first, and then the emergency rollback of a redo restores the
// whole tree.
func TestRollbackByIDProfilesAndAppArmor(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	dir, root, state := t.TempDir(), t.TempDir(), t.TempDir()
	profiles := filepath.Join(dir, "profiles")
	if _, errOut, code := ctsec(t, "profile", "gen", "web", "--dir", profiles, "--state-dir", state); code != 0 {
		t.Fatalf("gen: %d %q", code, errOut)
	}
	snap := func() map[string]string {
		out := map[string]string{}
		for _, d := range []string{dir, root} {
			filepath.Walk(d, func(p string, info os.FileInfo, err error) error {
				if err == nil && info.Mode().IsRegular() {
					b, _ := os.ReadFile(p)
					out[p] = info.Mode().String() + string(b)
				}
				return nil
			})
		}
		return out
	}
	start := snap()
	steps := [][]string{
		{"profile", "gen", "web", "--dir", profiles, "--deny", "chmod", "--force", "--state-dir", state},
		{"apparmor", "load", filepath.Join(profiles, "web.apparmor"), "--root", root, "--write", "--state-dir", state},
		{"apparmor", "promote", "ctsec-web", "--root", root, "--write", "--state-dir", state},
	}
	var states []map[string]string
	for _, s := range steps {
		states = append(states, snap())
		if out, errOut, code := ctsec(t, s...); code != 0 {
			t.Fatalf("%v: exit %d %q\n%s", s, code, errOut, out)
		}
	}
	out, _, _ := ctsec(t, "history", "--state-dir", state, "--format", "json")
	var h struct {
		Data struct {
			Changes []struct{ ID, Command string }
		}
	}
	json.Unmarshal([]byte(out), &h)
	if len(h.Data.Changes) != len(steps) {
		t.Fatalf("history: %s", out)
	}
	for i := len(steps) - 1; i >= 0; i-- {
		c := h.Data.Changes[i]
		if _, errOut, code := ctsec(t, "rollback", c.ID, "--state-dir", state, "--yes"); code != 0 {
			t.Fatalf("rollback %s (%s): %d %q", c.ID, c.Command, code, errOut)
		}
		if got := snap(); !same(got, states[i]) {
			t.Errorf("after rolling back %s the files are not as before it", c.Command)
		}
	}
	// Redo everything, then undo it all at once from the first change.
	for _, s := range steps {
		ctsec(t, s...)
	}
	out, _, _ = ctsec(t, "history", "--state-dir", state, "--format", "json")
	json.Unmarshal([]byte(out), &h)
	first := h.Data.Changes[len(h.Data.Changes)-len(steps)].ID
	if _, errOut, code := ctsec(t, "rollback", "--since", first, "--state-dir", state, "--yes"); code != 0 {
		t.Fatalf("rollback --since: %d %q", code, errOut)
	}
	if got := snap(); !same(got, start) {
		t.Error("the emergency rollback did not restore every file byte for byte")
	}
}

func same(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
