package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/ctsec/ctsec/internal/testenv"
)

// goldenClock dates everything the goldens show (a generated profile's
// complain-since header): a fixed day, not the day the tests run.
var goldenClock = clock.Fixed(time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC))

// goldenCase is one command whose output in each of its formats is
// compared with testdata/golden/NAME.FORMAT.
type goldenCase struct {
	name    string
	args    []string
	formats []report.Format
	clock   clock.Clock
	// setup prepares a case's inputs and returns arguments to add.
	setup func(t *testing.T, tmp string) []string
	// diff: text output holds unified diffs or profiles, which are content
	// and printed as they are; only ctsec's own lines must fit the width.
	diff bool
	code int // the exit status every format must give
	// noGolden: the output depends on this host (tool versions); only the
	// schema, the width and the rules are checked.
	noGolden bool
	// kernelBound: the output names what this kernel lacks (the baseline's
	// kernel.yama.ptrace_scope is written commented out without Yama); the
	// goldens are of a kernel without Yama and are compared only on one.
	kernelBound bool
	needs       []string // tools the case runs
}

var (
	allFormats    = report.Formats
	resultFormats = report.Results
)

const in = "testdata/golden/in/"

func goldenCases() []goldenCase {
	seccompTarget := []string{"--arch", "amd64", "--kernel", "6.1"}
	return []goldenCase{
		{name: "version", args: []string{"version"}, formats: resultFormats, noGolden: true},
		{name: "doctor", args: []string{"doctor", "--host", "unix:///nonexistent.sock", "--fail-on", "none"}, formats: allFormats, noGolden: true},
		{name: "seccomp-validate", args: append([]string{"seccomp", "validate", "--runc", "1.1.5", in + "web.seccomp.json"}, seccompTarget...), formats: allFormats, code: 1},
		{name: "seccomp-lint", args: append([]string{"seccomp", "lint", in + "web.seccomp.json"}, seccompTarget...), formats: allFormats, code: 1},
		{name: "seccomp-diff", args: []string{"seccomp", "diff", "default", "strict"}, formats: resultFormats},
		{name: "seccomp-compile", args: []string{"seccomp", "compile", "--arch", "amd64", "--runc", "1.1.5", "runtime"}, formats: resultFormats},
		{name: "seccomp-show", args: []string{"seccomp", "show"}, formats: resultFormats},
		{name: "apparmor-validate", args: []string{"apparmor", "validate", in + "broken.apparmor"}, formats: allFormats, code: 1, needs: []string{"apparmor_parser"}},
		{name: "apparmor-gen", args: []string{"apparmor", "gen", "web", "--base", "strict"}, formats: resultFormats, diff: true, needs: []string{"apparmor_parser"}},
		{name: "apparmor-template", args: []string{"apparmor", "template", "strict", "--name", "ctsec-web"}, formats: resultFormats, diff: true},
		{name: "apparmor-review", args: reviewArgs, clock: reviewWeek, formats: allFormats, needs: []string{"apparmor_parser"}},
		{name: "apparmor-status", args: []string{"apparmor", "status", "--no-docker", "--fail-on", "low"}, formats: allFormats, code: 1,
			setup: func(t *testing.T, tmp string) []string {
				writeFile(t, filepath.Join(tmp, "sys/module/apparmor/parameters/enabled"), "Y\n")
				writeFile(t, filepath.Join(tmp, "sys/kernel/security/apparmor/profiles"), "docker-default (enforce)\nctsec-web (complain)\n")
				b, _ := os.ReadFile("../../apparmor/testdata/review/profiles/ctsec-web")
				writeFile(t, filepath.Join(tmp, "etc/apparmor.d/containers/ctsec-web"), string(b))
				writeFile(t, filepath.Join(tmp, "etc/apparmor.d/containers/ctsec-api"), "profile ctsec-api {\n  /x r,\n}\n")
				return []string{"--root", tmp}
			}},
		{name: "apparmor-demote", args: []string{"apparmor", "demote", "--all"}, formats: resultFormats, diff: true, needs: []string{"apparmor_parser"},
			setup: func(t *testing.T, tmp string) []string {
				b, _ := os.ReadFile("../../apparmor/testdata/review/profiles/ctsec-enforced")
				writeFile(t, filepath.Join(tmp, "etc/apparmor.d/containers/ctsec-enforced"), string(b))
				return []string{"--root", tmp, "--state-dir", filepath.Join(tmp, "state")}
			}},
		{name: "profile-gen", args: []string{"profile", "gen", "web", "--base", "strict"}, formats: resultFormats, needs: []string{"apparmor_parser"},
			setup: func(t *testing.T, tmp string) []string {
				return []string{"--dir", filepath.Join(tmp, "profiles"), "--state-dir", filepath.Join(tmp, "state")}
			}},
		{name: "compose-audit", args: []string{"compose", "audit", "../../compose/testdata/harden/features.yml"}, formats: allFormats, code: 1},
		{name: "compose-harden", args: []string{"compose", "harden", "--level", "strict", "../../compose/testdata/harden/features.yml"}, formats: resultFormats, diff: true},
		{name: "compose-kb", args: []string{"compose", "kb", "memcached:1.6"}, formats: resultFormats},
		{name: "compose-learn", args: []string{"compose", "learn", "--plan", "../../compose/trial/testdata/images.yml"}, formats: resultFormats},
		{name: "compose-rollback", args: []string{"compose", "rollback"}, formats: resultFormats,
			setup: func(t *testing.T, tmp string) []string { return []string{"--state-dir", filepath.Join(tmp, "state")} }},
		{name: "portainer-templates", args: []string{"portainer", "templates", in + "templates.json"}, formats: allFormats, code: 1},
		{name: "bench-list", args: []string{"bench", "--list"}, formats: resultFormats},
		{name: "host-plan", args: []string{"host", "plan", "sysctl"}, formats: resultFormats, diff: true, code: 1, kernelBound: true,
			setup: func(t *testing.T, tmp string) []string { return goldenHost(t, tmp) }},
		{name: "host-audit", args: []string{"host", "audit", "sysctl", "--fail-on", "none"}, formats: allFormats,
			setup: func(t *testing.T, tmp string) []string { return goldenHost(t, tmp) }},
		{name: "host-history", args: []string{"host", "history"}, formats: resultFormats,
			setup: func(t *testing.T, tmp string) []string { return []string{"--state-dir", filepath.Join(tmp, "state")} }},
		{name: "host-init", args: []string{"host", "init", "-"}, formats: resultFormats, diff: true},
	}
}

// goldenHost is a host tree and a sysctl policy of keys every kernel has,
// so the plan and audit do not depend on the kernel the tests run on.
func goldenHost(t *testing.T, tmp string) []string {
	root := filepath.Join(tmp, "host")
	for p, c := range map[string]string{
		"etc/sysctl.d/99-sysctl.conf":            "",
		"etc/sysctl.conf":                        "#kernel.printk = 3 4 1 3\nkernel.kptr_restrict = 1\n",
		"usr/lib/sysctl.d/99-protect-links.conf": "fs.protected_symlinks = 1\nfs.protected_hardlinks = 1\n",
	} {
		writeFile(t, filepath.Join(root, p), c)
	}
	policy := writeFile(t, filepath.Join(tmp, "policy.yaml"), "version: 1\nsysctl:\n  settings:\n"+
		"    fs.protected_symlinks: \"1\"\n    kernel.kptr_restrict: \"2\"\n    net.ipv4.conf.all.send_redirects: \"0\"\n")
	return []string{"--root", root, "--policy", policy}
}

func kernelHasYama() bool {
	_, err := os.Stat("/proc/sys/kernel/yama")
	return err == nil
}

// goldenTmp is a temporary directory whose name always has the same
// length, so text wrapped to the width breaks at the same places however
// the name comes out (it is then shown as $TMP).
func goldenTmp(t *testing.T) string {
	var b [4]byte
	rand.Read(b[:])
	dir := "/tmp/ctsec-golden-" + hex.EncodeToString(b[:])
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// runCapture runs the CLI and also returns the report it rendered.
func runCapture(t *testing.T, clk clock.Clock, env map[string]string, args ...string) (string, string, int, *report.Report) {
	t.Helper()
	var out, errOut bytes.Buffer
	var got *report.Report
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, clock: clock.Or(clk),
		lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		rendered:  func(r report.Report) { got = &r }}
	code := runApp(context.Background(), a, args)
	return out.String(), errOut.String(), code, got
}

var extension = map[report.Format]string{report.Text: "txt", report.JSON: "json", report.SARIF: "sarif",
	report.JUnit: "junit.xml", report.Markdown: "md"}

// normalize hides what changes from run to run: the temporary directory.
func normalize(s, tmp string) string { return strings.ReplaceAll(s, tmp, "$TMP") }

// TestGoldens runs each command in each format it writes and compares the
// output with its golden file; the JSON is validated against the schema of
// the command (docs/schema), every rule it names is in a rule table, and
// text fits 100 columns. go test ./cmd/ctsec -run TestGoldens -update
// rewrites goldens and schemas.
func TestGoldens(t *testing.T) {
	schemas := map[string]map[string]any{}
	known := map[string]bool{}
	for _, area := range catalogue() {
		for _, r := range area.Rules {
			known[r.ID] = true
		}
	}
	for _, gc := range goldenCases() {
		t.Run(gc.name, func(t *testing.T) {
			for _, tool := range gc.needs {
				testenv.Tool(t, tool)
			}
			tmp := goldenTmp(t)
			args := append([]string{}, gc.args...)
			if gc.setup != nil {
				args = append(args, gc.setup(t, tmp)...)
			}
			clk := gc.clock
			if clk == nil {
				clk = goldenClock
			}
			for _, f := range gc.formats {
				out, errOut, code, rep := runCapture(t, clk, nil, append(args, "--format", string(f))...)
				if code != gc.code {
					t.Fatalf("--format %s: exit %d, want %d; stderr %q\n%s", f, code, gc.code, errOut, out)
				}
				if rep == nil {
					t.Fatalf("--format %s rendered no report", f)
				}
				for _, fd := range rep.Findings {
					if !known[fd.Rule] {
						t.Errorf("finding rule %s is in no rule table", fd.Rule)
					}
				}
				switch f {
				case report.JSON:
					var dt reflect.Type
					if rep.Data != nil {
						dt = reflect.TypeOf(rep.Data)
					}
					s := reportSchema(rep.Command, dt)
					if prev, ok := schemas[rep.Command]; ok && !reflect.DeepEqual(prev, s) {
						t.Errorf("command %s reports two data types", rep.Command)
					}
					schemas[rep.Command] = s
					path := filepath.Join("../../docs/schema", schemaFile(rep.Command))
					if testenv.Updating() {
						b, _ := json.MarshalIndent(s, "", "  ")
						testenv.Golden(t, path, append(b, '\n'))
					}
					testenv.MatchesSchema(t, path, []byte(out))
				case report.SARIF:
					testenv.MatchesSchema(t, "../../internal/report/testdata/sarif-schema-2.1.0.json", []byte(out))
				case report.Text:
					checkWidth(t, gc.name, out, 100, gc.diff)
				}
				switch {
				case gc.noGolden:
				case gc.kernelBound && kernelHasYama():
					t.Logf("%s: not compared with its golden on a kernel with Yama", gc.name)
				default:
					testenv.Golden(t, filepath.Join("testdata/golden", gc.name+"."+extension[f]), []byte(normalize(out, tmp)))
				}
			}
		})
	}
	// Every committed schema belongs to a command that still reports it.
	files, _ := filepath.Glob("../../docs/schema/*.json")
	for _, f := range files {
		found := false
		for cmd := range schemas {
			found = found || filepath.Base(f) == schemaFile(cmd)
		}
		if !found && !testenv.Updating() {
			t.Errorf("%s: no golden case reports this command any more", f)
		}
	}
}

var diffLine = regexp.MustCompile(`^([-+ ]|@@ |--- |\+\+\+ )`)

// checkWidth fails for a line wider than width; with diff, lines of a
// unified diff or a printed profile (content, not ctsec's text) are let
// through.
func checkWidth(t *testing.T, name, out string, width int, diff bool) {
	t.Helper()
	for i, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if term.Len(l) <= width || diff && (diffLine.MatchString(l) || !strings.HasPrefix(l, "ctsec") && isContent(l)) {
			continue
		}
		t.Errorf("%s: line %d is %d columns wide: %q", name, i+1, term.Len(l), l)
	}
}

// isContent reports lines of a printed profile or policy: indented, or
// comment and rule syntax ctsec does not wrap.
func isContent(l string) bool {
	return strings.HasPrefix(l, "#") || strings.HasPrefix(l, "  ") || strings.HasSuffix(l, ",") || strings.HasSuffix(l, "{")
}

// TestHelpAndTextFit walks every command's --help at 100 columns: nothing
// may be wider.
func TestHelpAndTextFit(t *testing.T) {
	var walk func(path []string)
	seen := 0
	walk = func(path []string) {
		out, errOut, code, _ := runCapture(t, goldenClock, map[string]string{"COLUMNS": "100"}, append(path, "--help")...)
		if code != 0 {
			t.Errorf("%v --help: exit %d %q", path, code, errOut)
			return
		}
		seen++
		checkWidth(t, strings.Join(path, " ")+" --help", out, 100, false)
		cmd, _, err := newRootCmd(&app{}).Find(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				walk(append(append([]string{}, path...), sub.Name()))
			}
		}
	}
	walk(nil)
	if seen < 35 {
		t.Errorf("walked %d commands", seen)
	}
}

// TestEveryCommandHasAGolden keeps the golden cases complete: a new
// command needs a case (or a reason it cannot have one here).
func TestEveryCommandHasAGolden(t *testing.T) {
	covered := map[string]bool{}
	for _, gc := range goldenCases() {
		covered[gc.args[0]] = true
		if len(gc.args) > 1 {
			covered[gc.args[0]+" "+gc.args[1]] = true
		}
	}
	// Commands whose output needs what a unit test cannot give: a running
	// command, a container engine, a Portainer, the live host; their
	// integration tests check them (and their JSON is the same envelope).
	elsewhere := map[string]string{
		"seccomp exec":          "runs a command; seccomp_test.go",
		"profile record":        "records a running command; profile_record_test.go",
		"apparmor load":         "plan paths vary; apparmor_test.go",
		"apparmor promote":      "needs a week of logs; apparmor_review_test.go",
		"portainer stacks":      "needs the fake Portainer; portainer_test.go",
		"portainer pull":        "needs the fake Portainer; portainer_test.go",
		"portainer audit":       "needs the fake Portainer; portainer_test.go",
		"portainer harden":      "needs the fake Portainer; portainer_test.go",
		"portainer push":        "needs the fake Portainer; portainer_test.go",
		"bench":                 "needs an engine; bench's own goldens in bench/testdata",
		"host apply":            "changes a host; host_test.go",
		"host confirm":          "needs an apply; host_test.go",
		"host rollback":         "needs an apply; host_test.go",
		"completion bash":       "cobra's",
		"completion zsh":        "cobra's",
		"completion fish":       "cobra's",
		"completion powershell": "cobra's",
	}
	root := newRootCmd(&app{})
	root.InitDefaultCompletionCmd()
	var missing []string
	for _, c := range root.Commands() {
		if !c.IsAvailableCommand() {
			continue
		}
		subs := c.Commands()
		if len(subs) == 0 {
			if !covered[c.Name()] && elsewhere[c.Name()] == "" {
				missing = append(missing, c.Name())
			}
			continue
		}
		for _, s := range subs {
			p := c.Name() + " " + s.Name()
			if s.IsAvailableCommand() && !covered[p] && elsewhere[p] == "" {
				missing = append(missing, p)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("commands without a golden case: %s", strings.Join(missing, ", "))
	}
}
