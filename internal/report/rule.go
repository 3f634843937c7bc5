package report

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Rule describes one kind of finding. Every package that audits keeps a
// table of its rules; SARIF's rule metadata, --help, JUnit's test cases and
// docs/rules.md are all made from those tables.
//
// Rule ids are "area/rule": the area is the package or command family
// (seccomp, apparmor, compose, portainer, bench, host, doctor), the rule a
// lower-case kebab-case name; a CIS recommendation keeps its number
// (bench/cis-5.5). See docs/rules.md.
type Rule struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"` // the default; a finding may be more or less severe
	// Title is one line: what the finding says is wrong.
	Title string `json:"title"`
	// Description says why it matters (SARIF fullDescription).
	Description string `json:"description,omitempty"`
	// Help says what to do about it.
	Help string `json:"help,omitempty"`
}

// ruleID is the one rule-id scheme.
var ruleID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9]*/[a-z0-9][a-z0-9.-]*$`) })

// ValidRuleID reports whether id follows the area/rule scheme.
func ValidRuleID(id string) bool { return ruleID().MatchString(id) }

// Rules is a rule table.
type Rules []Rule

// Lookup finds a rule by id.
func (rs Rules) Lookup(id string) (Rule, bool) {
	for _, r := range rs {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// Check validates a table: ids in the scheme, unique, titled.
func (rs Rules) Check() error {
	seen := map[string]bool{}
	for _, r := range rs {
		switch {
		case !ValidRuleID(r.ID):
			return fmt.Errorf("rule id %q is not area/kebab-case-name", r.ID)
		case seen[r.ID]:
			return fmt.Errorf("rule %s is listed twice", r.ID)
		case strings.TrimSpace(r.Title) == "":
			return fmt.Errorf("rule %s has no title", r.ID)
		}
		seen[r.ID] = true
	}
	return nil
}

// Anchor is the rule's fragment in docs/rules.md, where HelpURI points.
func (r Rule) Anchor() string {
	return strings.NewReplacer("/", "-", ".", "-").Replace(r.ID)
}

// DocsURL is where the rule documentation lives; SARIF's helpUri is this
// page with the rule's anchor.
const DocsURL = "https://github.com/ctsec/ctsec/blob/main/docs/rules.md"

// HelpURI is the rule's documentation link.
func (r Rule) HelpURI() string { return DocsURL + "#" + r.Anchor() }

// Status is the outcome of one check.
type Status string

const (
	Pass   Status = "pass"
	Fail   Status = "fail"
	Skip   Status = "skip"   // does not apply here; Reason says why
	Manual Status = "manual" // needs a person's judgement; never counted as passed
)

// Check is one check a command ran, with its outcome: JUnit makes one test
// case of each, Markdown one table row.
type Check struct {
	Rule   string `json:"rule"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Score is the tally of checks: the percentage is passed over passed and
// failed, so skipped and manual checks neither help nor hurt.
type Score struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	Manual  int `json:"manual"`
	Percent int `json:"percent"`
}

// ScoreOf tallies checks.
func ScoreOf(cs []Check) Score {
	var s Score
	for _, c := range cs {
		switch c.Status {
		case Pass:
			s.Passed++
		case Fail:
			s.Failed++
		case Manual:
			s.Manual++
		default:
			s.Skipped++
		}
	}
	if n := s.Passed + s.Failed; n > 0 {
		s.Percent = s.Passed * 100 / n
	}
	return s
}

// checks are the report's checks: its own, or one per evaluated rule (failed
// when it has findings), plus a failed one for each finding rule outside
// them, so nothing found is left out.
func (r Report) checks() []Check {
	cs := r.Checks
	if cs == nil {
		failed := map[string]bool{}
		for _, f := range r.Findings {
			failed[f.Rule] = true
		}
		for _, rule := range r.Rules {
			st := Pass
			if failed[rule.ID] {
				st = Fail
			}
			cs = append(cs, Check{Rule: rule.ID, Title: rule.Title, Status: st})
		}
	}
	have := map[string]bool{}
	for _, c := range cs {
		have[c.Rule] = true
	}
	for _, f := range r.Findings {
		if !have[f.Rule] {
			have[f.Rule] = true
			title := f.Rule
			if rule, ok := r.Rules.Lookup(f.Rule); ok {
				title = rule.Title
			}
			cs = append(cs, Check{Rule: f.Rule, Title: title, Status: Fail})
		}
	}
	return cs
}

// byRule groups findings by rule id.
func (r Report) byRule() map[string][]Finding {
	m := map[string][]Finding{}
	for _, f := range r.Findings {
		m[f.Rule] = append(m[f.Rule], f)
	}
	return m
}
