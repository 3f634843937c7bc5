package seccomp

import (
	"fmt"

	"github.com/ctsec/ctsec/internal/report"
)

// maxPerRule is how many findings of one rule and severity a report shows
// one by one; the rest become one summary finding. A profile of 32,000
// misspelt or repeated names would otherwise be 32,000 lines (6 MB of text)
// that say one thing.
const maxPerRule = 50

// CapFindings keeps the first maxPerRule findings of each rule and
// severity, in order, and puts one finding for the rest where the first
// left-out one was.
func CapFindings(in []report.Finding) []report.Finding {
	type key struct {
		rule string
		sev  report.Severity
	}
	count := map[key]int{}
	for _, f := range in {
		count[key{f.Rule, f.Severity}]++
	}
	if len(in) <= maxPerRule+1 {
		return in
	}
	shown := map[key]int{}
	out := make([]report.Finding, 0, len(in))
	for _, f := range in {
		k := key{f.Rule, f.Severity}
		shown[k]++
		switch n := shown[k]; {
		case n <= maxPerRule+1:
			out = append(out, f)
		case n == maxPerRule+2:
			more := count[k] - maxPerRule - 1
			f.Message = fmt.Sprintf("%d more %s findings like the ones above, from here on (the first: %s)", more, f.Rule, f.Message)
			f.Fix = ""
			out = append(out, f)
		}
	}
	return out
}
