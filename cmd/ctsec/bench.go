package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ctsec/ctsec/bench"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/spf13/cobra"
)

type benchOptions struct {
	host, context, root string
	sel                 bench.Selection
	timeout             time.Duration
	list                bool
	// checkSet: --check was given, even as '' (which is not "every check")
	checkSet bool
}

func newBenchCmd(a *app, runF runFunc[benchOptions]) *cobra.Command {
	if runF == nil {
		runF = runBench
	}
	f := &benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run the CIS Docker Benchmark checks",
		Long: `bench runs the CIS Docker Benchmark v1.6.0 (sections 1–7) against a Docker host.

It takes one snapshot — engine info and version, every container (running or
stopped) inspected concurrently, images with their history, networks, swarm
state, the dockerd command line and daemon.json, owners and modes of the
daemon's files under --root, audit rules — then evaluates every check on it.
Checks that need a human judgement are reported as MANUAL with what ctsec
saw, never as passed; checks that do not apply are SKIP with the reason.
The score is passed / (passed + failed) over the automated checks.

The engine is chosen like the docker CLI does: --context, --host, DOCKER_HOST,
DOCKER_CONTEXT, the current context, the local socket; ssh://user@host goes
through 'ssh … docker system dial-stdio'. Host checks (sections 1–3) read the
local filesystem, so they run only when the engine is a local socket or
--root is given.

Exit code 1 when a failed check reaches --fail-on (default high). Each failed
container, file or setting is one finding (rule bench/cis-<id>) in json, sarif,
junit and markdown output; the json "data" carries every check's result.`,
		Example: `  ctsec bench
  ctsec bench --check 5 --exclude 5.28 --include-containers 'web-*'
  ctsec bench --format sarif --fail-on medium > bench.sarif
  ctsec bench --host ssh://admin@web1 --format json
  ctsec bench --root /mnt/image --check 3
  ctsec bench --list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.checkSet = cmd.Flags().Changed("check")
			return a.finish(runF(cmd.Context(), f, a))
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.host, "host", "H", "", "Docker engine (unix://, tcp://, ssh://user@host); default DOCKER_HOST, the current context, the local socket")
	fl.StringVarP(&f.context, "context", "c", "", "docker CLI context to use (from ~/.docker/contexts)")
	fl.StringVar(&f.root, "root", "", "host root for sections 1–3 (default / when the engine is a local socket; skipped for remote engines)")
	fl.StringSliceVar(&f.sel.Checks, "check", nil, "only these checks or sections (5.4, 2, 1.1); repeatable or comma-separated")
	fl.StringSliceVar(&f.sel.Exclude, "exclude", nil, "skip these checks or sections")
	fl.IntVar(&f.sel.Level, "level", 0, "1 = only CIS level-1 checks (default all)")
	fl.StringSliceVar(&f.sel.IncludeContainers, "include-containers", nil, "only containers whose name, ID or image matches one of these shell patterns")
	fl.StringSliceVar(&f.sel.ExcludeContainers, "exclude-containers", nil, "leave out containers whose name, ID or image matches one of these shell patterns")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up collecting after this long")
	fl.BoolVar(&f.list, "list", false, "list every check (id, level, automated or manual, severity, title) and exit")
	return audit(cmd)
}

func runBench(ctx context.Context, f *benchOptions, a *app) (*report.Report, error) {
	if f.list {
		return listChecks(), nil
	}
	if f.checkSet && len(f.sel.Checks) == 0 {
		return nil, usageError(fmt.Errorf("--check '': name checks or sections (5.4, 2, 1.1); leave --check out to run every check"))
	}
	if err := f.sel.Validate(); err != nil {
		return nil, usageError(fmt.Errorf("--check/--exclude: %w", err))
	}
	if f.host != "" && f.context != "" {
		return nil, usageError(fmt.Errorf("--host and --context exclude each other"))
	}
	target := engine.Target{Host: f.host, Context: f.context}
	c, err := engine.ConnectTarget(target)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	root := f.root
	if root == "" && strings.HasPrefix(c.DaemonHost(), "unix://") {
		root = "/"
	}
	if root != "" {
		if st, err := os.Stat(root); err != nil || !st.IsDir() {
			return nil, usageError(fmt.Errorf("--root %s: not a directory", root))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	opts := bench.Options{Root: root, Clock: a.clock}
	if ep, _ := target.Endpoint(); strings.HasPrefix(ep, "ssh://") {
		opts.EngineName = ep
	}
	if a.progress() {
		opts.Progress = progressLine(a)
	}
	snap, err := bench.Collect(ctx, c, opts)
	if opts.Progress != nil {
		fmt.Fprint(a.stderr, "\r\x1b[K")
	}
	if err != nil {
		return nil, err
	}
	results, score := bench.Run(snap, f.sel)
	data := bench.NewData(snap, results, score)
	r := bench.Report(data)
	r.Text = func(w io.Writer, o report.Options) error { return bench.WriteText(w, data, o) }
	return &r, nil
}

// progressLine redraws one status line on the terminal; throttled so a
// big host does not spend its time printing.
func progressLine(a *app) func(done, total int) {
	var last time.Time
	return func(done, total int) {
		if done != total && time.Since(last) < 50*time.Millisecond { // elapsed: throttling, never a date
			return
		}
		last = time.Now() // elapsed
		fmt.Fprintf(a.stderr, "\r\x1b[Kcollecting: %d/%d containers, images and networks inspected", done, total)
	}
}

// benchListData is bench --list: every check.
type benchListData struct {
	Checks []bench.Check `json:"checks"`
}

func listChecks() *report.Report {
	data := benchListData{Checks: bench.Checks()}
	r := report.New("bench list", nil, data)
	r.Text = func(w io.Writer, o report.Options) error {
		t := term.NewTable(w, o.LineWidth())
		for _, c := range data.Checks {
			mode := "manual"
			if c.Automated {
				mode = "automated"
			}
			t.Row(c.ID, fmt.Sprintf("L%d", c.Level), mode, c.Severity.String(), c.Title)
		}
		return t.Flush()
	}
	return &r
}
