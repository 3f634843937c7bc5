package report

import (
	"encoding/xml"
	"fmt"
	"io"
)

// JUnit XML as CI systems read it: one suite, one failing test case per finding.
// A report without findings is one passing case, so CI shows the run happened.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

func renderJUnit(w io.Writer, r Report) error {
	name := "ctsec"
	if r.Command != "" {
		name = "ctsec " + r.Command
	}
	suite := junitSuite{Name: name}
	for _, f := range r.Findings {
		body := f.Message
		if f.Fix != "" {
			body += "\nfix: " + f.Fix
		}
		suite.Cases = append(suite.Cases, junitCase{
			Name:      fmt.Sprintf("%s %s", f.Rule, f.Where()),
			ClassName: f.Rule,
			Failure:   &junitFailure{Message: f.Message, Type: f.Severity.String(), Body: body},
		})
	}
	suite.Failures = len(suite.Cases)
	if len(suite.Cases) == 0 {
		suite.Cases = []junitCase{{Name: "no findings", ClassName: name}}
	}
	suite.Tests = len(suite.Cases)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{suite}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
