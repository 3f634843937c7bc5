// Package difftest checks unified diffs in tests: it applies them the way
// GNU patch does, but refuses anything patch would have to guess at.
package difftest

import (
	"fmt"
	"strconv"
	"strings"
)

// Apply applies a unified diff of one file to old, strictly: every context
// and removed line must match old exactly, hunks must come in order with
// the counts and start lines their headers claim, and "\ No newline at end
// of file" must follow the line it qualifies. Fuzz targets use it where
// running GNU patch per input would be too slow.
func Apply(old, diff string) (string, error) {
	if diff == "" {
		return old, nil
	}
	src := lines(old)
	dl := strings.SplitAfter(diff, "\n")
	if len(dl) < 2 || !strings.HasPrefix(dl[0], "--- ") || !strings.HasPrefix(dl[1], "+++ ") {
		return "", fmt.Errorf("no header")
	}
	var out []string
	at := 0 // lines of src consumed
	for k := 2; k < len(dl) && dl[k] != ""; {
		var oStart, oc, ns, nc int
		h := strings.TrimSuffix(dl[k], "\n")
		if !strings.HasPrefix(h, "@@ -") || !strings.HasSuffix(h, " @@") {
			return "", fmt.Errorf("line %d: not a hunk header: %q", k+1, h)
		}
		f := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(h, "@@ "), " @@"))
		if len(f) != 2 || f[0][0] != '-' || f[1][0] != '+' {
			return "", fmt.Errorf("bad header %q", h)
		}
		oStart, oc = parseRange(f[0][1:])
		ns, nc = parseRange(f[1][1:])
		first := oStart - 1
		if oc == 0 {
			first = oStart
		}
		if first < at || first > len(src) {
			return "", fmt.Errorf("hunk %q out of order", h)
		}
		out = append(out, src[at:first]...)
		at = first
		if want := len(out) + 1; (nc > 0 && ns != want) || (nc == 0 && ns != want-1) {
			return "", fmt.Errorf("hunk %q: new start %d, want %d", h, ns, want)
		}
		k++
		var gotOld, gotNew int
		for ; k < len(dl) && dl[k] != "" && !strings.HasPrefix(dl[k], "@@"); k++ {
			line := dl[k]
			if k+1 < len(dl) && dl[k+1] == "\\ No newline at end of file\n" {
				line = strings.TrimSuffix(line, "\n")
				k++
			} else if !strings.HasSuffix(line, "\n") {
				return "", fmt.Errorf("line %d unterminated", k+1)
			}
			if line == "" {
				return "", fmt.Errorf("line %d: empty", k+1)
			}
			text := line[1:]
			switch line[0] {
			case ' ', '-':
				if at >= len(src) || src[at] != text {
					return "", fmt.Errorf("line %d: %q does not match old line %d", k+1, line, at+1)
				}
				at++
				gotOld++
				if line[0] == ' ' {
					out = append(out, text)
					gotNew++
				}
			case '+':
				out = append(out, text)
				gotNew++
			default:
				return "", fmt.Errorf("line %d: %q", k+1, line)
			}
		}
		if gotOld != oc || gotNew != nc {
			return "", fmt.Errorf("hunk %q has %d/%d lines", h, gotOld, gotNew)
		}
	}
	out = append(out, src[at:]...)
	return strings.Join(out, ""), nil
}

func parseRange(s string) (start, n int) {
	a, b, ok := strings.Cut(s, ",")
	start, _ = strconv.Atoi(a)
	n = 1
	if ok {
		n, _ = strconv.Atoi(b)
	}
	return start, n
}

// lines is textdiff.Lines, written again so that the checker does not
// share code with what it checks.
func lines(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}
