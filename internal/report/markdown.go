package report

import (
	"fmt"
	"io"
	"strings"
)

func renderMarkdown(w io.Writer, r Report) error {
	title := "ctsec"
	if r.Command != "" {
		title += " " + r.Command
	}
	s := r.Summary
	fmt.Fprintf(w, "## %s\n\n", title)
	fmt.Fprintf(w, "%s: %d critical, %d high, %d medium, %d low, %d info\n\n",
		countFindings(s.Total), s.Critical, s.High, s.Medium, s.Low, s.Info)
	if s.Total == 0 {
		return nil
	}
	fmt.Fprintln(w, "| severity | rule | where | message | fix |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, f := range r.Findings {
		fmt.Fprintf(w, "| %s | `%s` | %s | %s | %s |\n", f.Severity, mdCell(f.Rule), mdCell(f.Where()),
			mdCell(f.Message), mdCell(f.Fix))
	}
	return nil
}

// mdCell keeps untrusted text from breaking out of its table cell.
func mdCell(s string) string {
	s = oneLine(s)
	r := strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "`", "'")
	return r.Replace(s)
}
