package compose

import (
	"fmt"
	"strings"
)

// UnifiedDiff compares two arbitrary texts line by line (longest common
// subsequence), for changes ctsec did not make itself, such as pushing a
// file to Portainer. Inputs whose product of line counts exceeds a bound are
// shown as a whole replacement rather than spending quadratic time.
func UnifiedDiff(oldName, newName string, a, b []byte) string {
	if string(a) == string(b) {
		return ""
	}
	al, bl := splitLines(string(a)), splitLines(string(b))
	type op struct {
		kind byte
		text string
	}
	var ops []op
	if len(al)*len(bl) > 16_000_000 {
		for _, l := range al {
			ops = append(ops, op{'-', l})
		}
		for _, l := range bl {
			ops = append(ops, op{'+', l})
		}
	} else {
		// lcs[i][j] = LCS length of al[i:], bl[j:].
		lcs := make([][]int32, len(al)+1)
		for i := range lcs {
			lcs[i] = make([]int32, len(bl)+1)
		}
		for i := len(al) - 1; i >= 0; i-- {
			for j := len(bl) - 1; j >= 0; j-- {
				if al[i] == bl[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(al) || j < len(bl) {
			switch {
			case i < len(al) && j < len(bl) && al[i] == bl[j]:
				ops = append(ops, op{' ', al[i]})
				i++
				j++
			case j < len(bl) && (i == len(al) || lcs[i][j+1] >= lcs[i+1][j]):
				ops = append(ops, op{'+', bl[j]})
				j++
			default:
				ops = append(ops, op{'-', al[i]})
				i++
			}
		}
	}
	const ctx = 3
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", oldName, newName)
	oldLine, newLine := 1, 1
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			oldLine++
			newLine++
			i++
			continue
		}
		start := max(i-ctx, 0)
		end := i
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j
			} else if j-end > 2*ctx {
				break
			}
		}
		stop := min(end+ctx+1, len(ops))
		hOld, hNew := oldLine-(i-start), newLine-(i-start)
		var oldN, newN int
		var body strings.Builder
		for _, o := range ops[start:stop] {
			if o.kind != '+' {
				oldN++
			}
			if o.kind != '-' {
				newN++
			}
			body.WriteByte(o.kind)
			body.WriteString(o.text)
			if !strings.HasSuffix(o.text, "\n") {
				body.WriteString("\n\\ No newline at end of file\n")
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(hOld, oldN), hunkRange(hNew, newN))
		out.WriteString(body.String())
		for _, o := range ops[i:stop] {
			if o.kind != '+' {
				oldLine++
			}
			if o.kind != '-' {
				newLine++
			}
		}
		i = stop
	}
	return out.String()
}

func splitLines(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}
