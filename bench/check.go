package bench

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/ctsec/ctsec/internal/report"
)

// Status is a check's outcome.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	// Manual: the benchmark asks for a human judgement; the result lists
	// what ctsec saw to judge from. Never counted as passed.
	Manual Status = "manual"
	// Skip: the check does not apply here (no swarm, no AppArmor, file
	// absent) or what it needs was not collected (remote engine).
	Skip Status = "skip"
)

// Check is one CIS recommendation.
type Check struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Section string `json:"section"`
	Level   int    `json:"level"`
	// Automated: ctsec decides pass or fail. Otherwise the check is
	// manual: reported with evidence, never passed.
	Automated   bool            `json:"automated"`
	Severity    report.Severity `json:"severity"`
	Remediation string          `json:"remediation"`
	// Differs says where ctsec deliberately departs from
	// docker-bench-security's logic, and why (docs/bench.md).
	Differs string `json:"-"`

	eval func(*Snapshot) Outcome
}

// Outcome is what a check's evaluation returns.
type Outcome struct {
	Status Status
	Detail string // one line: why it passed, failed, was skipped
	Items  []Item // the offending (or, for manual checks, relevant) objects
}

// Item is one object a check points at.
type Item struct {
	Target string `json:"target"`
	Detail string `json:"detail"`
	// Severity overrides the check's when set (a read-only sensitive mount
	// is less severe than a writable one).
	Severity *report.Severity `json:"severity,omitempty"`
}

// Result is a check with its outcome.
type Result struct {
	Check
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
	Items  []Item `json:"items,omitempty"`
}

// Score is the tally over the automated checks that were decided.
type Score struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Manual  int `json:"manual"`
	Skipped int `json:"skipped"`
	// Percent is passed / (passed + failed), 0–100.
	Percent int `json:"percent"`
}

func pass(detail string, args ...any) Outcome {
	return Outcome{Status: Pass, Detail: fmt.Sprintf(detail, args...)}
}
func skip(detail string, args ...any) Outcome {
	return Outcome{Status: Skip, Detail: fmt.Sprintf(detail, args...)}
}
func fail(detail string, items ...Item) Outcome {
	return Outcome{Status: Fail, Detail: detail, Items: items}
}
func manual(detail string, items ...Item) Outcome {
	return Outcome{Status: Manual, Detail: detail, Items: items}
}

// failIf fails with items, or passes with okDetail when there are none.
func failIf(items []Item, failDetail, okDetail string) Outcome {
	if len(items) > 0 {
		return fail(failDetail, items...)
	}
	return pass("%s", okDetail)
}

// Checks returns the table of every check, in benchmark order.
func Checks() []Check {
	var all []Check
	all = append(all, hostChecks()...)
	all = append(all, daemonChecks()...)
	all = append(all, fileChecks()...)
	all = append(all, imageChecks()...)
	all = append(all, runtimeChecks()...)
	all = append(all, opsChecks()...)
	all = append(all, swarmChecks()...)
	sort.SliceStable(all, func(i, j int) bool { return lessID(all[i].ID, all[j].ID) })
	return all
}

// lessID orders "5.10" after "5.9".
func lessID(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, _ := strconv.Atoi(pa[i])
		nb, _ := strconv.Atoi(pb[i])
		if na != nb {
			return na < nb
		}
	}
	return len(pa) < len(pb)
}

// Selection picks checks and containers.
type Selection struct {
	// Checks and Exclude are check ids or sections: "5" is every 5.x,
	// "1.1" every 1.1.x, "5.1" only 5.1 (not 5.10).
	Checks  []string
	Exclude []string
	// Level 1 keeps only level-1 checks; 0 or 2 keeps all.
	Level int
	// IncludeContainers / ExcludeContainers are shell patterns matched
	// against a container's name, its ID (or ID prefix) and its image.
	IncludeContainers []string
	ExcludeContainers []string
}

// Validate reports unknown check ids and malformed patterns.
func (sel Selection) Validate() error {
	all := Checks()
	for _, id := range append(append([]string{}, sel.Checks...), sel.Exclude...) {
		if strings.TrimSpace(id) == "" {
			return fmt.Errorf("an empty check id (ids look like 5.4, sections like 2 or 1.1)")
		}
		found := false
		for _, c := range all {
			if matchID(c.ID, id) {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("no check %q (ids look like 5.4, sections like 2 or 1.1)", id)
		}
	}
	for _, p := range append(append([]string{}, sel.IncludeContainers...), sel.ExcludeContainers...) {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("container pattern %q: %w", p, err)
		}
	}
	if sel.Level < 0 || sel.Level > 2 {
		return fmt.Errorf("level %d: want 1 or 2", sel.Level)
	}
	return nil
}

func matchID(id, want string) bool {
	return id == want || strings.HasPrefix(id, want+".")
}

func (sel Selection) wants(c Check) bool {
	if sel.Level == 1 && c.Level != 1 {
		return false
	}
	if len(sel.Checks) > 0 {
		ok := false
		for _, w := range sel.Checks {
			ok = ok || matchID(c.ID, w)
		}
		if !ok {
			return false
		}
	}
	for _, w := range sel.Exclude {
		if matchID(c.ID, w) {
			return false
		}
	}
	return true
}

func (sel Selection) wantsContainer(c Container) bool {
	names := []string{c.DisplayName(), c.ID, shortID(c.ID)}
	if c.Config != nil {
		names = append(names, c.Config.Image)
	}
	match := func(patterns []string) bool {
		for _, p := range patterns {
			for _, n := range names {
				if ok, _ := path.Match(p, n); ok {
					return true
				}
			}
			if len(p) >= 4 && strings.HasPrefix(c.ID, p) {
				return true
			}
		}
		return false
	}
	if len(sel.IncludeContainers) > 0 && !match(sel.IncludeContainers) {
		return false
	}
	return !match(sel.ExcludeContainers)
}

// Run evaluates the selected checks on the snapshot. It is pure: the same
// snapshot and selection always give the same results.
func Run(s *Snapshot, sel Selection) ([]Result, Score) {
	view := *s
	view.Containers = nil
	for _, c := range s.Containers {
		if sel.wantsContainer(c) {
			view.Containers = append(view.Containers, c)
		}
	}
	var results []Result
	var score Score
	for _, c := range Checks() {
		if !sel.wants(c) {
			continue
		}
		o := c.eval(&view)
		if !c.Automated && o.Status != Skip {
			o.Status = Manual
		}
		results = append(results, Result{Check: c, Status: o.Status, Detail: o.Detail, Items: o.Items})
		switch o.Status {
		case Pass:
			score.Passed++
		case Fail:
			score.Failed++
		case Manual:
			score.Manual++
		default:
			score.Skipped++
		}
	}
	if n := score.Passed + score.Failed; n > 0 {
		score.Percent = score.Passed * 100 / n
	}
	return results, score
}

// RuleID is the rule id of a check: bench/cis-<number>, so the CIS
// recommendation stays recognisable.
func RuleID(checkID string) string { return "bench/cis-" + checkID }

// Rules is one rule per check, for SARIF, --help and docs/rules.md.
func Rules() report.Rules {
	cs := Checks()
	out := make(report.Rules, 0, len(cs))
	for _, c := range cs {
		mode := "automated"
		if !c.Automated {
			mode = "manual: reported with what ctsec saw, never passed"
		}
		out = append(out, report.Rule{ID: RuleID(c.ID), Severity: c.Severity, Title: c.Title,
			Description: fmt.Sprintf("%s %s, section %s, level %d, %s.", Benchmark, c.ID, sectionNames[c.Section], c.Level, mode),
			Help:        c.Remediation})
	}
	return out
}

// ReportChecks are the results as the report's checks: passed, failed,
// manual and skipped ones, each with its detail.
func ReportChecks(results []Result) []report.Check {
	out := make([]report.Check, 0, len(results))
	for _, r := range results {
		out = append(out, report.Check{Rule: RuleID(r.ID), Title: r.Title, Status: report.Status(r.Status), Reason: r.Detail})
	}
	return out
}

// Findings turns failed checks into findings, one per offending item. An
// item that is a file (section 3's owners and modes) is the finding's file;
// a container, an image or a setting is its target.
func Findings(results []Result) []report.Finding {
	var out []report.Finding
	for _, r := range results {
		if r.Status != Fail {
			continue
		}
		if len(r.Items) == 0 {
			out = append(out, report.Finding{Rule: RuleID(r.ID), Severity: r.Severity,
				Message: r.Title + ": " + r.Detail, Target: "host", Fix: r.Remediation})
			continue
		}
		for _, it := range r.Items {
			sev := r.Severity
			if it.Severity != nil {
				sev = *it.Severity
			}
			f := report.Finding{Rule: RuleID(r.ID), Severity: sev, Message: r.Title + ": " + it.Detail, Fix: r.Remediation}
			if strings.HasPrefix(it.Target, "/") {
				f.File = it.Target
			} else {
				f.Target = it.Target
			}
			out = append(out, f)
		}
	}
	return out
}

func sevPtr(s report.Severity) *report.Severity { return &s }
