package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/testenv"
)

// ctsec runs the CLI in-process on the tests' clock and returns stdout,
// stderr and the exit code.
func ctsec(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return ctsecAt(t, testenv.Clock(t), args...)
}

// ctsecAt is ctsec on a given clock, for tests whose inputs are dated data
// (logs of a past week): the clock is pinned to the data, not to the day.
func ctsecAt(t *testing.T, clk clock.Clock, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), clk, args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), code
}

// flat joins wrapped text back into one line per paragraph's words, for
// tests that look for a phrase in output fitted to the width.
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestRootContract(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"version", []string{"version"}, 0, "ctsec ", ""},
		{"version json", []string{"version", "--format", "json"}, 0, `"go_version"`, ""},
		{"version libseccomp", []string{"version"}, 0, "libseccomp 2.", ""},
		{"format a command does not write", []string{"version", "--format", "sarif"}, 2, "", "ctsec version writes text or json"},
		{"doctor sarif", []string{"doctor", "--format", "sarif", "--fail-on", "none", "--host", "unix:///nonexistent.sock"}, 0, `"doctor/docker-engine"`, ""},
		{"bad format", []string{"--format", "yaml", "version"}, 2, "", "unknown format \"yaml\""},
		{"bad fail-on", []string{"--fail-on", "severe", "version"}, 2, "", "--fail-on"},
		{"bad color", []string{"--color", "rainbow", "version"}, 2, "", "--color"},
		{"unknown flag", []string{"version", "--nope"}, 2, "", "ctsec: version: unknown flag --nope"},
		{"mistyped flag", []string{"host", "plan", "--polcy", "x.yaml"}, 2, "", "did you mean --policy?"},
		{"old flag elsewhere", []string{"host", "plan", "--write"}, 2, "", "unknown flag --write"},
		{"unknown command", []string{"frobnicate"}, 2, "", "unknown command"},
		{"completion", []string{"completion", "bash"}, 0, "bash completion", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := ctsec(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit = %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout lacks %q: %q", tt.wantOut, out)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr lacks %q: %q", tt.wantErr, errOut)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("error is not one line: %q", errOut)
			}
		})
	}
}

func TestDoctorJSON(t *testing.T) {
	out, errOut, code := ctsec(t, "doctor", "--format", "json", "--host", "unix:///nonexistent.sock")
	if code != 1 {
		t.Errorf("exit = %d (an unreachable engine is a missing capability), stderr %q", code, errOut)
	}
	var rep struct {
		Command  string
		Findings []struct{ Rule string }
		Data     doctorResult
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Command != "doctor" {
		t.Fatalf("doctor JSON: %v\n%s", err, out)
	}
	res := rep.Data
	found := false
	for _, f := range rep.Findings {
		found = found || f.Rule == "doctor/docker-engine"
	}
	if !found {
		t.Errorf("no doctor/docker-engine finding for the unreachable engine: %+v", rep.Findings)
	}
	names := map[string]doctorCheck{}
	for _, c := range res.Checks {
		names[c.Name] = c
	}
	for _, want := range []string{"kernel seccomp", "libseccomp", "apparmor_parser", "kernel AppArmor", "Docker engine", "runc", "python3-systemd"} {
		if _, ok := names[want]; !ok {
			t.Errorf("doctor has no %q check: %v", want, res.Checks)
		}
	}
	if names["Docker engine"].OK {
		t.Error("unreachable engine reported OK")
	}
	if names["libseccomp"].OK && (res.Seccomp == nil || res.Seccomp.Library == "") {
		t.Error("libseccomp OK but no version reported")
	}
}

// --fail-on none is never reached: doctor exits 0 whatever is missing.
func TestDoctorFailOnNone(t *testing.T) {
	_, errOut, code := ctsec(t, "doctor", "--fail-on", "none", "--host", "unix:///nonexistent.sock")
	if code != 0 {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// A mistyped subcommand is exit 2 with the closest name, never the group's
// help and exit 0.
func TestUnknownSubcommands(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"host", "aply"}, `did you mean "ctsec host apply"?`},
		{[]string{"host", "aply", "--root", "/x", "ssh"}, `did you mean "ctsec host apply"?`},
		{[]string{"compose", "hardn", "x.yml"}, `did you mean "ctsec compose harden"?`},
		{[]string{"seccomp", "valdate", "p.json"}, `did you mean "ctsec seccomp validate"?`},
		{[]string{"frobnicate"}, `unknown command "frobnicate" for "ctsec"`},
	}
	for _, tt := range tests {
		out, errOut, code := ctsec(t, tt.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, code, out, errOut, tt.want)
		}
		if strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%v: error is not one line: %q", tt.args, errOut)
		}
	}
	// The group alone still shows its help.
	out, _, code := ctsec(t, "host")
	if code != 0 || !strings.Contains(out, "Available Commands:") {
		t.Errorf("ctsec host: exit %d\n%s", code, out)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain/path-1.yaml": "plain/path-1.yaml",
		"with space":        "'with space'",
		"it's":              `'it'\''s'`,
		"$(rm -rf /)":       "'$(rm -rf /)'",
		"":                  "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
