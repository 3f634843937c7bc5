package host

import (
	"fmt"
	"strings"
)

// UnifiedDiff renders old → new as a unified diff with three lines of
// context. Configuration files are small, so a quadratic LCS is fine and
// keeps the output minimal.
func UnifiedDiff(oldName, newName string, old, new []byte) string {
	a, b := splitLines(string(old)), splitLines(string(new))
	ops := lcsOps(a, b)
	var hunks []string
	const ctx = 3
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := max(i-ctx, 0)
		end := i
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run-end > 2*ctx || run == len(ops) {
				end = min(end+ctx, len(ops))
				break
			}
			end = run
		}
		hunks = append(hunks, renderHunk(ops[start:end]))
		i = end
	}
	if len(hunks) == 0 {
		return ""
	}
	return fmt.Sprintf("--- %s\n+++ %s\n", oldName, newName) + strings.Join(hunks, "")
}

type diffOp struct {
	kind         byte // ' ', '-', '+'
	text         string
	aLine, bLine int
}

func renderHunk(ops []diffOp) string {
	var aStart, bStart, aLen, bLen int
	aStart, bStart = -1, -1
	var body strings.Builder
	for _, op := range ops {
		if op.kind != '+' {
			if aStart < 0 {
				aStart = op.aLine
			}
			aLen++
		}
		if op.kind != '-' {
			if bStart < 0 {
				bStart = op.bLine
			}
			bLen++
		}
		body.WriteByte(op.kind)
		body.WriteString(op.text)
		body.WriteByte('\n')
	}
	if aStart < 0 {
		aStart = ops[0].aLine - 1
	}
	if bStart < 0 {
		bStart = ops[0].bLine - 1
	}
	return fmt.Sprintf("@@ -%d,%d +%d,%d @@\n", aStart, aLen, bStart, bLen) + body.String()
}

func lcsOps(a, b []string) []diffOp {
	n, m := len(a), len(b)
	dp := make([][]int32, n+1)
	for i := range dp {
		dp[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	var ops []diffOp
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, diffOp{' ', a[i], i + 1, j + 1})
			i++
			j++
		case i < n && (j == m || dp[i+1][j] >= dp[i][j+1]):
			ops = append(ops, diffOp{'-', a[i], i + 1, j + 1})
			i++
		default:
			ops = append(ops, diffOp{'+', b[j], i + 1, j + 1})
			j++
		}
	}
	return ops
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n")
}
