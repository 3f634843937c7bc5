package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/modules"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/ctsec/ctsec/status"
	"github.com/spf13/cobra"
)

type statusOptions struct {
	Root   string
	Policy string
	Host   string
	Output string
}

// maxShownFailures bounds the failures listed under one item in text;
// json and the results file keep them all.
const maxShownFailures = 5

func newStatusCmd(a *app, runF runFunc[statusOptions]) *cobra.Command {
	if runF == nil {
		runF = runStatus
	}
	opts := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "The checkpoint: one pass/fail test per layer of the host, with its evidence",
		Long: `status is the checkpoint across every layer, each item a pass/fail test with
the evidence it rests on:

  sysctl               kernel settings in effect match the host policy
  apparmor-profiles    AppArmor in the kernel, container profiles loaded, modes
  apparmor-containers  every container runs under a profile (CIS 5.2)
  seccomp-profiles     custom seccomp profiles in use pass seccomp validate
  seccomp-unconfined   no container without seccomp (CIS 5.22, 5.5)
  containers-hardened  no added capabilities, no-new-privileges, memory and
                       PIDs limits (CIS 5.4, 5.26, 5.11, 5.29)
  fail2ban             fail2ban runs with the sshd jail
  ssh-key-only         sshd -T: no passwords, no keyboard-interactive, keys on
  firewall             UFW on, default deny, Docker's bypass closed
  integrity            AIDE initialised and recent, rkhunter configured
  audit-rules          Docker's files and binaries audited (CIS 1.1.x)
  bench                the CIS Docker Benchmark score, no failed high check
  updates              no security update pending (apt-get --simulate)

It reuses the host audits, apparmor status, bench and seccomp validate; it
changes nothing. An item that cannot be judged here is SKIP with the
reason (no AppArmor in the kernel, no Docker engine, a --root that is not
the running system). Each failure is a finding (rule status/<item>), so
--fail-on sets the exit code; --output FILE keeps the results in the
chosen format as well.`,
		Example: `  ctsec status
  ctsec status --format json --output /var/lib/ctsec/status.json
  ctsec status --format junit --fail-on medium > status.xml
  ctsec status --root /mnt/image`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().StringVar(&opts.Root, "root", "/", "host root to check (a mounted image or a test tree); live state only when it is /")
	cmd.Flags().StringVar(&opts.Policy, "policy", "", "host policy YAML (default: the built-in baseline)")
	cmd.Flags().StringVarP(&opts.Host, "host", "H", "", "Docker engine (default: DOCKER_HOST or the local socket)")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "also write the results to FILE, in the chosen format (atomically)")
	return withRules(audit(cmd), "status")
}

func runStatus(ctx context.Context, opts *statusOptions, a *app) (*report.Report, error) {
	pol, err := host.LoadPolicy(opts.Policy)
	if err != nil {
		return nil, usageError(err)
	}
	o := status.Options{Root: opts.Root, Policy: pol, Modules: modules.All(), Clock: a.clock}
	if c, err := engine.Connect(opts.Host); err != nil {
		o.DockerErr = err.Error()
	} else {
		defer c.Close()
		if _, err := engine.Describe(ctx, c); err != nil {
			o.DockerErr = err.Error()
		} else {
			o.Docker = c
		}
	}
	if a.progress() {
		o.Progress = func(step string) { fmt.Fprintf(a.stderr, "\r\x1b[K%s…", step) }
	}
	res, err := status.Check(ctx, o)
	if o.Progress != nil {
		fmt.Fprint(a.stderr, "\r\x1b[K")
	}
	if err != nil {
		return nil, err
	}
	r := statusReport(res)
	a.carryFixes(&r)
	if opts.Output != "" {
		var b bytes.Buffer
		ro := a.options()
		ro.Color = false
		if err := report.Render(&b, r, a.format, ro); err != nil {
			return nil, err
		}
		if err := safefile.WriteFile(opts.Output, b.Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("writing the results file: %w", err)
		}
	}
	return &r, nil
}

// statusReport is the checkpoint as a report: failures as findings, items
// as checks.
func statusReport(res *status.Result) report.Report {
	r := report.New("status", res.Findings(), res)
	r.Rules, r.Checks = status.Rules, res.Checks()
	r.Text = func(w io.Writer, o report.Options) error { return writeCheckpoint(w, res, o) }
	return r
}

func writeCheckpoint(w io.Writer, res *status.Result, o report.Options) error {
	width := o.LineWidth()
	fmt.Fprintf(w, "checkpoint of %s at %s\n", term.Line(res.Root), res.Taken.Format("2006-01-02 15:04:05Z"))
	t := term.NewTable(w, width)
	for _, it := range res.Items {
		t.Row(strings.ToUpper(string(it.Status)), strings.TrimPrefix(it.Rule, "status/"), it.Summary)
		if it.Status != report.Fail {
			continue
		}
		for i, fl := range it.Failures {
			if i == maxShownFailures {
				t.Row("", "", fmt.Sprintf("- and %d more (--format json lists them all)", len(it.Failures)-i))
				break
			}
			if fl.Message != it.Summary {
				t.Row("", "", "- "+fl.Message)
			}
		}
		if it.Fix != "" {
			t.Row("", "", "fix: "+it.Fix)
		}
	}
	if err := t.Flush(); err != nil {
		return err
	}
	s := res.Score
	_, err := fmt.Fprintf(w, "%d passed, %d failed, %d skipped (%d%% of the items judged pass)\n", s.Passed, s.Failed, s.Skipped, s.Percent)
	return err
}
