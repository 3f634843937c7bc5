package report

import (
	"fmt"
	"io"

	"github.com/ctsec/ctsec/internal/term"
)

var severityColor = map[string]string{
	"critical": term.BoldRed,
	"high":     term.Red,
	"medium":   term.Yellow,
	"low":      term.Cyan,
	"info":     term.Dim,
}

// WriteText is the people's view of a report's findings: one row each, most
// severe first, the message wrapped to the width with the fix under it, and
// the count by severity.
func WriteText(w io.Writer, r Report, o Options) error {
	if err := WriteFindings(w, r.Findings, o); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, SummaryLine(r.Summary))
	return err
}

// WriteFindings prints findings as a table (severity, rule, where, message)
// that fits o's width; commands with their own text view use it for the
// findings part.
func WriteFindings(w io.Writer, fs []Finding, o Options) error {
	t := term.NewTable(w, o.LineWidth())
	// A message squeezed narrower than this reads worse than one under
	// its row.
	t.MinWrap = 40
	if o.Color {
		t.Style(0, func(c string) string { return severityColor[c] })
	}
	for _, f := range fs {
		t.Row(f.Severity.String(), f.Rule, f.Where(), f.Message)
		if f.Fix != "" {
			t.Row("", "", "", "fix: "+f.Fix)
		}
	}
	return t.Flush()
}

// SummaryLine is "no findings" or "N findings: 0 critical, 1 high, …".
func SummaryLine(s Summary) string {
	if s.Total == 0 {
		return "no findings"
	}
	return fmt.Sprintf("%s: %d critical, %d high, %d medium, %d low, %d info",
		countFindings(s.Total), s.Critical, s.High, s.Medium, s.Low, s.Info)
}
