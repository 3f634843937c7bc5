//go:build !lean

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ctsec/ctsec/compose"
	"github.com/ctsec/ctsec/compose/trial"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// factFlags say where harden and learn find what a file needs besides the
// file: the variables ${VAR} resolves through, the facts file, the engine.
type factFlags struct {
	EnvFiles []string
	Facts    string
	Images   bool
	Host     string
	Context  string
	Duration time.Duration
	KB       string
}

func (ff *factFlags) registerEnv(f *pflag.FlagSet) {
	f.StringArrayVar(&ff.EnvFiles, "env-file", nil, "`FILE` of variables for ${VAR}, instead of the .env beside the compose file (repeatable; the environment wins, as with docker compose)")
}

func (ff *factFlags) registerKB(f *pflag.FlagSet) { registerKB(f, &ff.KB) }

func (ff *factFlags) registerEngine(f *pflag.FlagSet) {
	f.StringVarP(&ff.Host, "host", "H", "", "Docker engine to use (default: DOCKER_HOST, the current context, or the local socket)")
	f.StringVar(&ff.Context, "context", "", "docker `CONTEXT` to use")
	f.DurationVar(&ff.Duration, "duration", 20*time.Second, "how long a trial runs a service without a healthcheck, and how long one with a healthcheck has to become healthy")
}

// environ is the process environment, which ${VAR} reads as docker compose
// does; a test's app has none.
func (a *app) environ() []string {
	if a.lookupEnv == nil {
		return nil
	}
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if v, ok := a.lookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// load reads a compose file with the variables its values resolve through.
func (ff *factFlags) load(a *app, file string) (*compose.Document, error) {
	d, err := compose.LoadFile(file)
	if err != nil {
		return nil, err
	}
	env, err := compose.LoadEnv(file, ff.EnvFiles, a.environ())
	if err != nil {
		return nil, err
	}
	d.SetEnv(env)
	return d, nil
}

func (ff *factFlags) connect() (*client.Client, error) {
	if ff.Host != "" && ff.Context != "" {
		return nil, usageError(errors.New("--host and --context exclude each other"))
	}
	return trial.Connect(engine.Target{Host: ff.Host, Context: ff.Context})
}

// facts reads the facts harden uses: the facts file (FILE.facts.json
// beside the compose file unless --facts names another, or none), and with
// --images what the engine's images say.
func (ff *factFlags) facts(ctx context.Context, d *compose.Document) (*compose.Facts, string, error) {
	path := ff.Facts
	switch path {
	case "none":
		path = ""
	case "":
		path = compose.FactsFile(d.Name)
	}
	var f *compose.Facts
	if path != "" {
		var err error
		if f, err = compose.ReadFacts(path); err != nil {
			return nil, "", err
		}
		if f == nil && ff.Facts != "" {
			return nil, "", usageError(fmt.Errorf("--facts %s: no such file (ctsec compose learn writes it)", path))
		}
		if f == nil {
			path = ""
		}
	}
	if !ff.Images {
		return f, path, nil
	}
	if f == nil {
		f = &compose.Facts{Version: compose.FactsVersion, Services: map[string]compose.ServiceFacts{}}
	}
	c, err := ff.connect()
	if err != nil {
		return nil, "", err
	}
	defer c.Close()
	for _, s := range d.Services() {
		sf := f.Services[s.Name]
		ref, ok := d.ServiceImage(s.Name)
		if sf.Image != nil || !ok {
			continue
		}
		im, err := trial.Inspect(ctx, c, ref)
		if err != nil {
			continue // not on the engine: the knowledge base decides
		}
		sf.Image = &im.Facts
		f.Services[s.Name] = sf
	}
	return f, path, nil
}

type composeLearnOptions struct {
	File     string
	Services []string
	Output   string
	Plan     bool
	Facts    factFlags
}

// composeLearnData is learn's result: the facts, and where they went.
type composeLearnData struct {
	File   string         `json:"file"`
	Trial  string         `json:"trial,omitempty"`
	Output string         `json:"output,omitempty"`
	Facts  *compose.Facts `json:"facts"`
}

func newComposeLearnCmd(a *app, runF runFunc[composeLearnOptions]) *cobra.Command {
	if runF == nil {
		runF = runComposeLearn
	}
	opts := &composeLearnOptions{}
	cmd := &cobra.Command{
		Use:   "learn FILE",
		Short: "Run the services as a trial and record what each needs",
		Long: `learn runs the services of FILE on the engine as a throwaway trial beside the
running stack and records what each needs, for compose harden to use:

  - the paths it writes (docker diff), for a read-only root with tmpfs there;
  - its peak memory and pids (the container's cgroup, or the engine's stats);
  - the capabilities it cannot do without after cap_drop: [ALL] — starting from
    those harden would give it, adding back Docker's defaults when those are not
    enough, then dropping each one it stays healthy without;
  - whether no-new-privileges breaks it;
  - what its image says: user, volumes, heap settings, files carrying
    capabilities, setuid executables, files shipped under /tmp and /run.

Healthy means its healthcheck passes, or without one that it runs --duration
without a restart and its published ports accept connections (on the
container's address). The trial never touches the stack's own project,
containers or volumes: it runs under a unique name on its own network, with
fresh volumes for named volumes and host directories, host files read-only,
no engine socket and no published ports, says what it will start before it
starts it, and removes all of it afterwards. A service whose image is not on
the engine, or that does not run even as written, is reported with why, and
nothing is learnt about it. Seccomp recording needs Docker 23 or later.

The facts go to FILE.facts.json (or -o), one reviewable file with the
evidence of each fact; compose harden reads it from there.`,
		Example: `  ctsec compose learn compose.yaml
  ctsec compose learn compose.yaml --service web --service worker --duration 30s
  ctsec compose learn compose.yaml --plan
  ctsec compose harden --level strict compose.yaml   # uses compose.yaml.facts.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&opts.Services, "service", nil, "learn only this `SERVICE` (repeatable)")
	f.StringVarP(&opts.Output, "output", "o", "", "write the facts to `FILE` instead of FILE.facts.json")
	f.BoolVar(&opts.Plan, "plan", false, "say what the trial would start, and start nothing")
	opts.Facts.registerEnv(f)
	opts.Facts.registerEngine(f)
	opts.Facts.registerKB(f)
	return cmd
}

func runComposeLearn(ctx context.Context, opts *composeLearnOptions, a *app) (*report.Report, error) {
	if opts.Facts.Duration < time.Second {
		return nil, usageError(fmt.Errorf("--duration %s: want at least 1s", opts.Facts.Duration))
	}
	d, err := opts.Facts.load(a, opts.File)
	if err != nil {
		return nil, err
	}
	project, err := trial.LoadProject(ctx, d.Name, d.Src, d.Env())
	if err != nil {
		return nil, err
	}
	for _, s := range opts.Services {
		if _, ok := project.Services[s]; !ok {
			return nil, usageError(fmt.Errorf("--service %s: no such service in %s", s, d.Name))
		}
	}
	out := opts.Output
	if out == "" {
		out = compose.FactsFile(d.Name)
	}
	data := composeLearnData{File: d.Name}
	if opts.Plan {
		names := opts.Services
		if len(names) == 0 {
			names = serviceNames(d)
		}
		r := report.New("compose learn", nil, data)
		r.Text = func(w io.Writer, o report.Options) error {
			say := func(s string) {
				for i, l := range term.Wrap(s, o.LineWidth()-4) {
					if i > 0 {
						l = "    " + l
					}
					fmt.Fprintln(w, l)
				}
			}
			say(fmt.Sprintf("ctsec compose learn would run each service, one at a time, as written and then with capabilities dropped one by one and no-new-privileges (up to %s a run), on a network of its own with fresh volumes and no host ports:", opts.Facts.Duration))
			for _, n := range names {
				fmt.Fprintf(w, "  %s: %s\n", term.Line(n), term.Line(project.Services[n].Image))
			}
			say("and write the facts to " + term.Line(out) + ". Nothing was started.")
			return nil
		}
		return &r, nil
	}
	kb, err := loadKB(opts.Facts.KB)
	if err != nil {
		return nil, err
	}
	c, err := opts.Facts.connect()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	release := a.critical()
	defer release()
	facts, err := trial.Learn(ctx, c, d, project, trial.LearnOptions{
		Options:  trial.Options{Duration: opts.Facts.Duration, Progress: a.stderr},
		Services: opts.Services, Clock: a.clock, KB: kb,
	})
	if err != nil {
		return nil, err
	}
	b, err := facts.Marshal()
	if err != nil {
		return nil, err
	}
	if err := safefile.WriteFile(out, b, 0o644); err != nil {
		return nil, fmt.Errorf("writing facts: %w", err)
	}
	data.Output, data.Facts = out, facts
	var findings []report.Finding
	for _, n := range sortedServices(facts) {
		if f := facts.Services[n].Failure; f != nil {
			line, col := d.Locate("services", n)
			msg := "service " + n + ": not learnt: " + f.Reason
			if len(f.Logs) > 0 {
				msg += " (last log line: " + f.Logs[len(f.Logs)-1] + ")"
			}
			findings = append(findings, report.Finding{Rule: compose.RuleNotHardened, Severity: report.Medium, File: d.Name, Line: line, Column: col,
				Target: "service " + n, Path: "services." + n, Message: msg,
				Fix: "make the service run as written on this engine (pull its image, set its variables), then learn again"})
		}
	}
	r := report.New("compose learn", findings, data)
	r.Rules = compose.Rules
	r.Text = func(w io.Writer, o report.Options) error {
		t := term.NewTable(w, o.LineWidth())
		t.Header("SERVICE", "CAPABILITIES", "NO-NEW-PRIVILEGES", "WRITES", "PEAK MEMORY", "PIDS")
		for _, n := range sortedServices(facts) {
			sf := facts.Services[n]
			if sf.Learnt == nil {
				t.Row(n, "not learnt: "+sf.Failure.Reason, "", "", "", "")
				continue
			}
			l := sf.Learnt
			caps := strings.Join(l.Caps, ",")
			if caps == "" {
				caps = "none"
			}
			t.Row(n, caps, l.NoNewPrivileges, fmt.Sprint(len(l.Writes)), compose.FormatBytes(l.MemoryPeak), fmt.Sprint(l.PidsPeak))
		}
		if err := t.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "facts with their evidence: %s; next: %s\n", term.Line(out), a.nextCommand("compose harden", d.Name))
		return nil
	}
	return &r, nil
}

func serviceNames(d *compose.Document) []string {
	var out []string
	for _, s := range d.Services() {
		out = append(out, s.Name)
	}
	return out
}

func sortedServices(f *compose.Facts) []string {
	out := make([]string, 0, len(f.Services))
	for n := range f.Services {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// verifyHarden hardens d and proves it on the engine (trial.Verify).
func verifyHarden(ctx context.Context, a *app, d *compose.Document, o compose.Options, ff factFlags) (*compose.Result, []trial.Outcome, error) {
	c, err := ff.connect()
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	release := a.critical()
	defer release()
	return trial.Verify(ctx, c, d, o, trial.Options{Duration: ff.Duration, Progress: a.stderr})
}

// writeVerified says on stderr how each hardened service ran.
func writeVerified(w io.Writer, outs []trial.Outcome, o report.Options) {
	for _, out := range outs {
		var line string
		switch {
		case out.Failure != nil:
			line = fmt.Sprintf("ctsec: verify: %s: does not run hardened or as written (%s); left as it was", out.Service, out.Failure.Reason)
		case len(out.BackedOff) > 0:
			var parts []string
			for _, b := range out.BackedOff {
				why := b.Failure.Reason
				if len(b.Failure.Logs) > 0 {
					why += ": " + b.Failure.Logs[len(b.Failure.Logs)-1]
				}
				parts = append(parts, strings.Join(trimPrefix(b.Rules), "+")+" backed off ("+why+")")
			}
			line = fmt.Sprintf("ctsec: verify: %s: %s; then healthy: %s", out.Service, strings.Join(parts, "; "), out.Healthy)
		default:
			line = fmt.Sprintf("ctsec: verify: %s: healthy hardened: %s", out.Service, out.Healthy)
		}
		for i, l := range term.Wrap(term.Line(line), o.LineWidth()-4) {
			if i > 0 {
				l = "    " + l
			}
			fmt.Fprintln(w, l)
		}
	}
}
