package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestTopCmdsNamed: the names runApp chooses a branch by are the names the
// built commands answer to (a renamed command or a new alias would
// otherwise fall back to the whole tree, or worse, pick the wrong branch).
func TestTopCmdsNamed(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range topCmds() {
		built := c.build(&app{})
		if built.Name() != c.name || len(built.Aliases) > 0 {
			t.Errorf("topCmds lists %q; the command is named %q, aliases %v", c.name, built.Name(), built.Aliases)
		}
		if seen[c.name] {
			t.Errorf("%q listed twice", c.name)
		}
		seen[c.name] = true
	}
}

// TestPartialTree: for every command line, the tree runApp builds finds
// the same command as the whole tree, with the same arguments left and the
// same error, and holds only that command's branch when it found one.
func TestPartialTree(t *testing.T) {
	var lines [][]string
	full := newRootCmd(&app{})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		lines = append(lines, path, append(slices.Clone(path), "--help"), append(slices.Clone(path), "bogus"),
			append([]string{"-f", "json"}, path...), append([]string{"--fail-on=low", "--color", "never"}, path...))
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(full)
	lines = append(lines,
		[]string{"help", "seccomp"}, []string{"__complete", "seccomp", ""}, []string{"completion", "bash"},
		[]string{"--format", "bench"}, []string{"--bogus", "seccomp", "validate"}, []string{"--", "seccomp"},
		[]string{"seccomp", "--", "validate"}, []string{"sec"}, []string{"-h"}, []string{"rollback", "--since", "x"})
	for _, args := range lines {
		want, wantRest, wantErr := full.Find(args)
		root := newRootCmdFor(&app{}, args)
		got, gotRest, gotErr := root.Find(args)
		if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
			t.Errorf("%q: error %v, want %v", args, gotErr, wantErr)
			continue
		}
		if wantErr != nil {
			continue
		}
		if got.CommandPath() != want.CommandPath() || !slices.Equal(gotRest, wantRest) {
			t.Errorf("%q: found %q %q, want %q %q", args, got.CommandPath(), gotRest, want.CommandPath(), wantRest)
		}
		if tops := len(root.Commands()); want != full && tops != 1 {
			t.Errorf("%q: %d commands under the root, want the one branch", args, tops)
		}
	}
}

// TestNextCommandOtherBranch: a next command in another branch than the
// one running still repeats the carried flags it takes, though runApp
// built only the running branch.
func TestNextCommandOtherBranch(t *testing.T) {
	args := []string{"bench", "--root", "/srv/r"}
	a := &app{}
	root := newRootCmdFor(a, args)
	if len(root.Commands()) != 1 {
		t.Fatalf("root holds %d commands, want bench's branch only", len(root.Commands()))
	}
	cmd, rest, err := root.Find(args)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatal(err)
	}
	a.cmd = cmd
	if got, want := a.nextCommand("host apply ssh"), "ctsec host apply ssh --root /srv/r"; got != want {
		t.Errorf("nextCommand = %q, want %q", got, want)
	}
	if got, want := a.carryFlags("run ctsec host plan to see"), "run ctsec host plan --root /srv/r to see"; got != want {
		t.Errorf("carryFlags = %q, want %q", got, want)
	}
}
