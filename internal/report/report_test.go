package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
)

func sample() Report {
	return New("seccomp lint", []Finding{
		{Rule: "SC002", Severity: Low, Message: "b", File: "b.json", Line: 3, Column: 1},
		{Rule: "SC001", Severity: Critical, Message: "a | <x>", File: "a.json", Line: 10, Column: 2, Fix: "drop it"},
		{Rule: "SC003", Severity: Medium, Message: "multi\nline", Target: "container web"},
	}, nil)
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

func TestOrderAndSummary(t *testing.T) {
	r := sample()
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Rule)
	}
	if strings.Join(got, ",") != "SC003,SC001,SC002" {
		t.Errorf("order = %v", got)
	}
	if r.Summary.Total != 3 || r.Summary.Critical != 1 || r.Summary.Medium != 1 || r.Summary.Low != 1 {
		t.Errorf("summary = %+v", r.Summary)
	}
}

func TestJSONStableFields(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, New("x", nil, nil), JSON, Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"findings": []`) {
		t.Errorf("empty findings not rendered as []: %s", b.String())
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
	f := out.Findings[1]
	if f["rule"] != "SC001" || f["severity"] != "critical" || f["file"] != "a.json" || f["line"] != 10.0 {
		t.Errorf("finding JSON = %v", f)
	}
}

func TestSARIF(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, sample(), SARIF, Options{}); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) != 3 || len(log.Runs[0].Tool.Driver.Rules) != 3 {
		t.Fatalf("sarif = %+v", log)
	}
	res := log.Runs[0].Results[1]
	if res.Level != "error" || res.Locations[0].PhysicalLocation.Region.StartLine != 10 {
		t.Errorf("result = %+v", res)
	}
}

func TestJUnit(t *testing.T) {
	for _, r := range []Report{sample(), New("x", nil, nil)} {
		var b bytes.Buffer
		if err := Render(&b, r, JUnit, Options{}); err != nil {
			t.Fatal(err)
		}
		var s junitSuites
		if err := xml.Unmarshal(b.Bytes(), &s); err != nil {
			t.Fatalf("junit does not parse: %v\n%s", err, b.String())
		}
		if s.Suites[0].Failures != len(r.Findings) || s.Suites[0].Tests < 1 {
			t.Errorf("suite = %+v", s.Suites[0])
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
		{Text, Options{}, []string{"critical  SC001", "a.json:10:2", "fix: drop it", "3 findings"}, []string{"\x1b["}},
		{Text, Options{Color: true}, []string{"\x1b[1;31m"}, nil},
		{Markdown, Options{}, []string{"| critical | `SC001` |", `a \| &lt;x&gt;`}, []string{"multi\nline"}},
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
