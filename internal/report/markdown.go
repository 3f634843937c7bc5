package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/ctsec/ctsec/internal/term"
)

// renderMarkdown is a document for a ticket or a pull request: the score
// and the status of every check when the command ran a set of them, then
// the findings.
func renderMarkdown(w io.Writer, r Report) error {
	title := "ctsec"
	if r.Command != "" {
		title += " " + r.Command
	}
	fmt.Fprintf(w, "## %s\n\n", title)
	checks := r.checks()
	if len(checks) > 0 {
		s := ScoreOf(checks)
		fmt.Fprintf(w, "**Score: %d%%** — %d passed, %d failed, %d manual, %d skipped\n\n",
			s.Percent, s.Passed, s.Failed, s.Manual, s.Skipped)
	}
	fmt.Fprintf(w, "%s\n\n", SummaryLine(r.Summary))
	if len(checks) > 0 {
		fmt.Fprintln(w, "### Checks")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| status | check | title | detail |")
		fmt.Fprintln(w, "|---|---|---|---|")
		for _, c := range checks {
			status := string(c.Status)
			if c.Status == Fail {
				status = "**fail**"
			}
			fmt.Fprintf(w, "| %s | `%s` | %s | %s |\n", status, mdCode(c.Rule), mdCell(c.Title), mdCell(c.Reason))
		}
		fmt.Fprintln(w)
	}
	if len(r.Findings) == 0 {
		return nil
	}
	fmt.Fprintln(w, "### Findings")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| severity | rule | where | message | fix |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, f := range r.Findings {
		fmt.Fprintf(w, "| %s | `%s` | %s | %s | %s |\n", f.Severity, mdCode(f.Rule), mdCell(f.Where()),
			mdCell(f.Message), mdCell(f.Fix))
	}
	return nil
}

// mdCell keeps untrusted text from breaking out of its table cell or
// becoming markup.
func mdCell(s string) string {
	s = term.Line(s)
	r := strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "`", "'", "[", `\[`, "]", `\]`, "*", `\*`, "_", `\_`)
	return r.Replace(s)
}

func mdCode(s string) string { return strings.NewReplacer("`", "'", "|", `\|`).Replace(term.Line(s)) }
