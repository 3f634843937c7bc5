package compose

import "strings"

// UnifiedDiff compares two arbitrary texts line by line (longest common
// subsequence), for changes ctsec did not make itself, such as pushing a
// file to Portainer. Inputs whose product of line counts exceeds a bound are
// shown as a whole replacement rather than spending quadratic time.
func UnifiedDiff(oldName, newName string, a, b []byte) string {
	if string(a) == string(b) {
		return ""
	}
	al, bl := splitLines(string(a)), splitLines(string(b))
	var ops []lineOp
	if len(al)*len(bl) > 16_000_000 {
		for _, l := range al {
			ops = append(ops, lineOp{'-', l})
		}
		for _, l := range bl {
			ops = append(ops, lineOp{'+', l})
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
				ops = append(ops, lineOp{' ', al[i]})
				i++
				j++
			case j < len(bl) && (i == len(al) || lcs[i][j+1] >= lcs[i+1][j]):
				ops = append(ops, lineOp{'+', bl[j]})
				j++
			default:
				ops = append(ops, lineOp{'-', al[i]})
				i++
			}
		}
	}
	return renderHunks(oldName, newName, ops)
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
