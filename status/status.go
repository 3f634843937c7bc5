// Package status is the checkpoint across every layer of a Docker host: one
// pass/fail item each, with its evidence, for kernel settings, AppArmor,
// seccomp, the containers' hardening, fail2ban, SSH, the firewall, the
// integrity tools, audit rules, the CIS benchmark and pending security
// updates. It judges nothing itself that a domain package already judges:
// the facts are the host modules' audits, AppArmor's status, the bench
// snapshot and its results and seccomp's validation, gathered once
// (facts.go), then each item reads them (items.go). An item that cannot be
// judged here (no AppArmor in the kernel, no Docker engine, a root that is
// not the running system) is skipped with the reason.
package status

import (
	"context"
	"time"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/report"
)

// Options say what to look at.
type Options struct {
	// Root is the host root ("/" is the running system).
	Root string
	// Policy is the host policy the host items are held to.
	Policy *host.Policy
	// Modules are the host modules to audit (host/modules.All).
	Modules []host.Module
	// Docker is the engine of this host; nil with DockerErr saying why
	// there is none.
	Docker    *engine.Client
	DockerErr string
	Runner    execx.Runner
	Clock     clock.Clock
	// Progress, when set, is told what is being looked at.
	Progress func(step string)
}

// Item is one checkpoint test.
type Item struct {
	Rule     string          `json:"rule"`
	Title    string          `json:"title"`
	Status   report.Status   `json:"status"`
	Severity report.Severity `json:"severity"`
	// Summary is the one-line verdict with its main evidence.
	Summary string `json:"summary"`
	// Evidence is what the verdict rests on, one line each.
	Evidence []string `json:"evidence,omitempty"`
	// Failures are what makes the item fail: one finding each.
	Failures []Failure `json:"failures,omitempty"`
	Fix      string    `json:"fix,omitempty"`
}

// Failure is one thing wrong, as a finding will say it.
type Failure struct {
	Target  string `json:"target"`
	Message string `json:"message"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
}

// Result is the checkpoint.
type Result struct {
	Root  string       `json:"root"`
	Taken time.Time    `json:"taken"`
	Items []Item       `json:"items"`
	Score report.Score `json:"score"`
	// Notes are problems met while gathering facts that did not stop the
	// checkpoint (an audit that failed is an item that says so).
	Notes []string `json:"notes,omitempty"`
}

// Check gathers the facts once and evaluates every item.
func Check(ctx context.Context, o Options) (*Result, error) {
	if o.Root == "" {
		o.Root = "/"
	}
	f := gather(ctx, o)
	res := &Result{Root: o.Root, Taken: clock.Or(o.Clock).Now().UTC(), Notes: f.notes}
	for _, it := range items {
		item := it.eval(f)
		rule, _ := Rules.Lookup(it.rule)
		item.Rule, item.Title = rule.ID, rule.Title
		if item.Severity == 0 {
			item.Severity = rule.Severity
		}
		if item.Status == report.Fail && item.Fix == "" {
			item.Fix = rule.Help
		}
		res.Items = append(res.Items, item)
	}
	res.Score = report.ScoreOf(res.Checks())
	return res, nil
}

// Checks are the items as report checks.
func (r *Result) Checks() []report.Check {
	out := make([]report.Check, len(r.Items))
	for i, it := range r.Items {
		out[i] = report.Check{Rule: it.Rule, Title: it.Title, Status: it.Status, Reason: it.Summary}
	}
	return out
}

// Findings are one per failure of a failed item.
func (r *Result) Findings() []report.Finding {
	var out []report.Finding
	for _, it := range r.Items {
		if it.Status != report.Fail {
			continue
		}
		for _, fl := range it.Failures {
			out = append(out, report.Finding{Rule: it.Rule, Severity: it.Severity, Target: fl.Target,
				Message: fl.Message, File: fl.File, Line: fl.Line, Fix: it.Fix})
		}
		if len(it.Failures) == 0 {
			out = append(out, report.Finding{Rule: it.Rule, Severity: it.Severity, Message: it.Summary, Fix: it.Fix})
		}
	}
	return out
}
