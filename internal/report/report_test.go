package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/term"
	"github.com/ctsec/ctsec/internal/testenv"
)

var sampleRules = Rules{
	{ID: "test/one", Severity: Critical, Title: "the first rule", Description: "why one matters", Help: "drop it"},
	{ID: "test/two", Severity: Low, Title: "the second rule"},
	{ID: "test/three", Severity: Medium, Title: "the third rule"},
	{ID: "test/clean", Severity: High, Title: "a rule nothing breaks"},
}

func sample() Report {
	r := New("test lint", []Finding{
		{Rule: "test/two", Severity: Low, Message: "b", File: "b.json", Line: 3, Column: 1},
		{Rule: "test/one", Severity: Critical, Message: "a | <x>", File: "a dir/a.json", Line: 10, Column: 2, Fix: "drop it"},
		{Rule: "test/three", Severity: Medium, Message: "multi\nline", Target: "container web"},
		{Rule: "test/unlisted", Severity: High, Message: "c.json does not load", File: "/abs/c.json"},
	}, nil)
	r.Rules = sampleRules
	return r
}

func TestSeverityRoundTrip(t *testing.T) {
	for _, name := range []string{"info", "low", "medium", "high", "critical", "none", "HIGH"} {
		s, err := ParseSeverity(name)
		if err != nil {
			t.Fatalf("ParseSeverity(%q): %v", name, err)
		}
		if !strings.EqualFold(s.String(), name) {
			t.Errorf("ParseSeverity(%q).String() = %q", name, s)
		}
	}
	if _, err := ParseSeverity("severe"); err == nil {
		t.Error("ParseSeverity(severe) succeeded")
	}
}

func TestReaches(t *testing.T) {
	r := sample()
	tests := []struct {
		threshold Severity
		want      bool
	}{{Info, true}, {Critical, true}, {None, false}}
	for _, tt := range tests {
		if got := r.Reaches(tt.threshold); got != tt.want {
			t.Errorf("Reaches(%s) = %v, want %v", tt.threshold, got, tt.want)
		}
	}
	if New("x", nil, nil).Reaches(Info) {
		t.Error("empty report reaches info")
	}
}

// Findings read most severe first, then by location, whatever order the
// audit produced them in.
func TestOrderAndSummary(t *testing.T) {
	r := New("x", []Finding{
		{Rule: "a/x", Severity: Info, File: "a", Line: 1},
		{Rule: "a/y", Severity: High, Target: "z"},
		{Rule: "a/z", Severity: High, File: "b", Line: 2},
		{Rule: "a/w", Severity: High, File: "b", Line: 1},
		{Rule: "a/v", Severity: Medium, File: "a", Line: 9},
	}, nil)
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Rule)
	}
	if strings.Join(got, ",") != "a/y,a/w,a/z,a/v,a/x" {
		t.Errorf("order = %v", got)
	}
	if r.Summary.Total != 5 || r.Summary.High != 3 || r.Summary.Medium != 1 || r.Summary.Info != 1 {
		t.Errorf("summary = %+v", r.Summary)
	}
}

func TestJSONStableFields(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, New("x", nil, nil), JSON, Options{}); err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	if err := json.Unmarshal(b.Bytes(), &env); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tool", "command", "findings", "summary", "data"} {
		if _, ok := env[k]; !ok {
			t.Errorf("envelope lacks %q: %s", k, b.String())
		}
	}
	if !strings.Contains(b.String(), `"findings": []`) || !strings.Contains(b.String(), `"data": null`) {
		t.Errorf("empty findings and data not rendered as [] and null: %s", b.String())
	}
	b.Reset()
	if err := Render(&b, sample(), JSON, Options{}); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Findings []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	f := out.Findings[0]
	if f["rule"] != "test/one" || f["severity"] != "critical" || f["file"] != "a dir/a.json" || f["line"] != 10.0 {
		t.Errorf("finding JSON = %v", f)
	}
}

func TestSARIFMatchesTheOfficialSchema(t *testing.T) {
	for _, r := range []Report{sample(), New("x", nil, nil)} {
		var b bytes.Buffer
		if err := Render(&b, r, SARIF, Options{Version: "1.2.3"}); err != nil {
			t.Fatal(err)
		}
		testenv.MatchesSchema(t, "testdata/sarif-schema-2.1.0.json", b.Bytes())
	}
}

func TestSARIFRuleMetadata(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, sample(), SARIF, Options{Version: "1.2.3"}); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	d := run.Tool.Driver
	if log.Version != "2.1.0" || d.Version != "1.2.3" || d.InformationURI == "" {
		t.Fatalf("driver = %+v", d)
	}
	// Every rule of the table, clean ones too, then the one only a finding names.
	if len(d.Rules) != len(sampleRules)+1 {
		t.Fatalf("rules = %+v", d.Rules)
	}
	one := d.Rules[0]
	if one.ID != "test/one" || one.ShortDescription.Text != "the first rule" || one.FullDescription.Text != "why one matters" ||
		one.Help.Text != "drop it" || one.HelpURI != DocsURL+"#test-one" || one.DefaultConfiguration.Level != "error" ||
		one.Properties["security-severity"] != "9.5" {
		t.Errorf("rule metadata = %+v", one)
	}
	for _, res := range run.Results {
		if d.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("result %s points at rule %d (%s)", res.RuleID, res.RuleIndex, d.Rules[res.RuleIndex].ID)
		}
	}
	first := run.Results[0]
	if first.Level != "error" || first.Locations[0].PhysicalLocation.Region.StartLine != 10 ||
		first.Locations[0].PhysicalLocation.ArtifactLocation.URI != "a%20dir/a.json" {
		t.Errorf("result = %+v", first)
	}
	if uri := run.Results[1].Locations[0].PhysicalLocation.ArtifactLocation.URI; uri != "file:///abs/c.json" {
		t.Errorf("absolute file as %q", uri)
	}
}

func TestJUnitListsEveryCheck(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, sample(), JUnit, Options{}); err != nil {
		t.Fatal(err)
	}
	var s junitSuites
	if err := xml.Unmarshal(b.Bytes(), &s); err != nil {
		t.Fatalf("junit does not parse: %v\n%s", err, b.String())
	}
	suite := s.Suites[0]
	// Four rules (one clean) and the unlisted rule a finding names.
	if suite.Tests != 5 || suite.Failures != 4 || s.Tests != 5 {
		t.Fatalf("suite = %+v", suite)
	}
	var passed []string
	for _, c := range suite.Cases {
		if c.Failure == nil && c.Skipped == nil {
			passed = append(passed, c.Name)
		}
	}
	if len(passed) != 1 || passed[0] != "test/clean: a rule nothing breaks" {
		t.Errorf("passed cases = %q", passed)
	}

	// A command's own checks: skipped ones say why.
	r := New("bench", []Finding{{Rule: "test/one", Severity: High, Message: "m", Target: "web"}}, nil)
	r.Checks = []Check{{Rule: "test/one", Title: "one", Status: Fail}, {Rule: "test/two", Title: "two", Status: Pass},
		{Rule: "test/three", Title: "three", Status: Skip, Reason: "no swarm"}, {Rule: "test/four", Title: "four", Status: Manual, Reason: "look"}}
	b.Reset()
	Render(&b, r, JUnit, Options{})
	s = junitSuites{}
	if err := xml.Unmarshal(b.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	suite = s.Suites[0]
	if suite.Tests != 4 || suite.Failures != 1 || suite.Skipped != 2 || suite.Cases[2].Skipped.Message != "no swarm" ||
		suite.Cases[3].Skipped.Message != "manual check: look" || !strings.Contains(suite.Cases[0].Failure.Body, "web: m") {
		t.Errorf("suite = %+v\n%s", suite, b.String())
	}
}

func TestTextFitsTheWidth(t *testing.T) {
	r := sample()
	r.Findings = append(r.Findings, Finding{Rule: "test/two", Severity: Low, File: "/a/very/long/path/that/goes/on/and/on/for/a/while/file.conf", Line: 1,
		Message: strings.Repeat("a long message ", 20), Fix: "ctsec host apply ssh --root /mnt"})
	for _, width := range []int{60, 100, 160} {
		var b bytes.Buffer
		if err := Render(&b, r, Text, Options{Width: width}); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
			if term.Len(l) > width {
				t.Errorf("width %d: line of %d: %q", width, term.Len(l), l)
			}
		}
		if !strings.Contains(b.String(), "fix: drop it") || !strings.Contains(b.String(), "4 findings") && !strings.Contains(b.String(), "5 findings") {
			t.Errorf("width %d:\n%s", width, b.String())
		}
	}
}

func TestTextAndMarkdown(t *testing.T) {
	tests := []struct {
		format Format
		opts   Options
		want   []string
		reject []string
	}{
		{Text, Options{}, []string{"critical  test/one", "a dir/a.json:10:2", "fix: drop it", "4 findings", "multi; line"}, []string{"\x1b["}},
		{Text, Options{Color: true}, []string{"\x1b[1;31mcritical\x1b[0m"}, nil},
		{Markdown, Options{}, []string{"**Score: 20%** — 1 passed, 4 failed", "| pass | `test/clean` |", "| **fail** | `test/unlisted` |",
			"| critical | `test/one` |", `a \| &lt;x&gt;`}, []string{"multi\nline"}},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := Render(&b, sample(), tt.format, tt.opts); err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s output lacks %q:\n%s", tt.format, w, b.String())
			}
		}
		for _, w := range tt.reject {
			if strings.Contains(b.String(), w) {
				t.Errorf("%s output has %q:\n%s", tt.format, w, b.String())
			}
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"text", "JSON", "sarif", "junit", "markdown", "md"} {
		if _, err := ParseFormat(s); err != nil {
			t.Errorf("ParseFormat(%q): %v", s, err)
		}
	}
	if _, err := ParseFormat("yaml"); err == nil {
		t.Error("ParseFormat(yaml) succeeded")
	}
}

func TestRuleTable(t *testing.T) {
	if err := sampleRules.Check(); err != nil {
		t.Error(err)
	}
	for _, bad := range []Rules{{{ID: "CIS-5.5", Title: "x"}}, {{ID: "host.ssh.x", Title: "x"}}, {{ID: "a/b"}},
		{{ID: "a/b", Title: "x"}, {ID: "a/b", Title: "y"}}} {
		if bad.Check() == nil {
			t.Errorf("%+v passed", bad)
		}
	}
	for _, good := range []string{"bench/cis-5.5", "seccomp/unknown-syscall", "host/ssh-option"} {
		if !ValidRuleID(good) {
			t.Errorf("%s refused", good)
		}
	}
}

func TestFileModeIsOctal(t *testing.T) {
	b, _ := json.Marshal(struct{ Mode FileMode }{0o644})
	if string(b) != `{"Mode":"0644"}` {
		t.Errorf("got %s", b)
	}
	var m FileMode
	if err := m.UnmarshalText([]byte("0600")); err != nil || m != 0o600 {
		t.Errorf("got %o %v", m, err)
	}
	if m.UnmarshalText([]byte("999")) == nil {
		t.Error("999 accepted")
	}
}
