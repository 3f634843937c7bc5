package report

import (
	"fmt"
	"io"
	"text/tabwriter"
)

var severityColor = map[Severity]string{
	Critical: "\x1b[1;31m",
	High:     "\x1b[31m",
	Medium:   "\x1b[33m",
	Low:      "\x1b[36m",
	Info:     "\x1b[2m",
}

const colorReset = "\x1b[0m"

func renderText(w io.Writer, r Report, o Options) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range r.Findings {
		sev := f.Severity.String()
		if o.Color {
			// Pad before colouring: tabwriter counts escape bytes as width.
			sev = severityColor[f.Severity] + fmt.Sprintf("%-8s", sev) + colorReset
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", sev, f.Rule, f.Where(), oneLine(f.Message))
		if f.Fix != "" {
			fmt.Fprintf(tw, "\t\t\tfix: %s\n", oneLine(f.Fix))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	s := r.Summary
	if s.Total == 0 {
		_, err := fmt.Fprintln(w, "no findings")
		return err
	}
	_, err := fmt.Fprintf(w, "%s: %d critical, %d high, %d medium, %d low, %d info\n",
		countFindings(s.Total), s.Critical, s.High, s.Medium, s.Low, s.Info)
	return err
}

// oneLine keeps a finding on one row even when its message came from a tool
// that prints several lines.
func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' || c == '\t' {
			b[i] = ' '
		}
	}
	return string(b)
}
