package compose

import (
	"fmt"
	"strings"
)

// Diff renders the change as a unified diff. Because the patcher only
// inserts, the alignment is known exactly and no diff algorithm (or its
// guesses) is involved: every original line is either context, or replaced
// by itself with text spliced in.
func (p *patcher) Diff(oldName, newName string) string {
	if len(p.ins) == 0 {
		return ""
	}
	ins := append([]insertion(nil), p.ins...)
	sortInsertions(ins)
	src := p.d.Src
	var ops []lineOp
	k := 0
	addLines := func(kind byte, s string) {
		for s != "" {
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				ops = append(ops, lineOp{kind, s})
				return
			}
			ops = append(ops, lineOp{kind, s[:i+1]})
			s = s[i+1:]
		}
	}
	n := p.d.lineCount()
	for i := 0; i < n; i++ {
		ls := p.d.lineStart[i]
		le := len(src)
		if i+1 < len(p.d.lineStart) {
			le = p.d.lineStart[i+1]
		}
		lastLine := i == n-1
		var seg strings.Builder
		prev := ls
		touched := false
		for k < len(ins) && (ins[k].off < le || (lastLine && ins[k].off == le && src[len(src)-1] != '\n')) {
			seg.Write(src[prev:ins[k].off])
			seg.WriteString(ins[k].text)
			prev = ins[k].off
			touched = true
			k++
		}
		orig := string(src[ls:le])
		if !touched {
			ops = append(ops, lineOp{' ', orig})
			continue
		}
		seg.Write(src[prev:le])
		s := seg.String()
		if strings.HasSuffix(s, orig) && strings.HasSuffix(s[:len(s)-len(orig)], "\n") {
			addLines('+', s[:len(s)-len(orig)])
			ops = append(ops, lineOp{' ', orig})
			continue
		}
		addLines('-', orig)
		addLines('+', s)
	}
	var tail strings.Builder
	for ; k < len(ins); k++ {
		tail.WriteString(ins[k].text)
	}
	addLines('+', tail.String())

	return renderHunks(oldName, newName, ops)
}

// lineOp is one line of a diff: ' ' context, '-' removed, '+' added; text
// keeps its line ending, if any.
type lineOp struct {
	kind byte
	text string
}

// renderHunks writes a unified diff with three lines of context.
func renderHunks(oldName, newName string, ops []lineOp) string {
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
		// A hunk runs on while the next change is within 2*ctx lines.
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

func hunkRange(start, n int) string {
	if n == 1 {
		return fmt.Sprint(start)
	}
	if n == 0 {
		return fmt.Sprintf("%d,0", start-1)
	}
	return fmt.Sprintf("%d,%d", start, n)
}
