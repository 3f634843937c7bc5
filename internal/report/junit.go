package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// JUnit XML as CI systems read it: one suite per command, one test case per
// check — passed, skipped with the reason, or failed with every finding of
// that check in the failure's body. A run whose checks all passed still
// lists them, so CI shows what was checked.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

func renderJUnit(w io.Writer, r Report) error {
	name := "ctsec"
	if r.Command != "" {
		name = "ctsec " + r.Command
	}
	class := strings.ReplaceAll(name, " ", ".")
	suite := junitSuite{Name: name}
	found := r.byRule()
	for _, c := range r.checks() {
		tc := junitCase{Name: c.Rule, ClassName: class}
		if c.Title != "" && c.Title != c.Rule {
			tc.Name += ": " + c.Title
		}
		switch c.Status {
		case Fail:
			fs := found[c.Rule]
			tc.Failure = junitFailureOf(c, fs)
			suite.Failures++
		case Skip, Manual:
			msg := c.Reason
			if c.Status == Manual {
				msg = strings.TrimSuffix("manual check: "+c.Reason, ": ")
			}
			tc.Skipped = &junitSkipped{Message: msg}
			suite.Skipped++
		}
		suite.Cases = append(suite.Cases, tc)
	}
	suite.Tests = len(suite.Cases)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	doc := junitSuites{Name: name, Tests: suite.Tests, Failures: suite.Failures, Skipped: suite.Skipped, Suites: []junitSuite{suite}}
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func junitFailureOf(c Check, fs []Finding) *junitFailure {
	if len(fs) == 0 {
		return &junitFailure{Message: c.Reason, Type: "fail", Body: c.Reason}
	}
	worst := fs[0].Severity
	var body strings.Builder
	for _, f := range fs {
		worst = max(worst, f.Severity)
		where := f.Where()
		if where != "" {
			where += ": "
		}
		fmt.Fprintf(&body, "%s %s%s\n", f.Severity, where, f.Message)
		if f.Fix != "" {
			fmt.Fprintf(&body, "  fix: %s\n", f.Fix)
		}
	}
	msg := fs[0].Message
	if len(fs) > 1 {
		msg = fmt.Sprintf("%s, the most severe %s", countFindings(len(fs)), worst)
	}
	return &junitFailure{Message: msg, Type: worst.String(), Body: body.String()}
}
