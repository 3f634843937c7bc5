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
	type op struct {
		kind byte
		text string // with its line ending, if any
	}
	var ops []op
	k := 0
	addLines := func(kind byte, s string) {
		for s != "" {
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				ops = append(ops, op{kind, s})
				return
			}
			ops = append(ops, op{kind, s[:i+1]})
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
			ops = append(ops, op{' ', orig})
			continue
		}
		seg.Write(src[prev:le])
		s := seg.String()
		if strings.HasSuffix(s, orig) && strings.HasSuffix(s[:len(s)-len(orig)], "\n") {
			addLines('+', s[:len(s)-len(orig)])
			ops = append(ops, op{' ', orig})
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

	// Hunks with three lines of context.
	const ctx = 3
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", oldName, newName)
	changed := make([]bool, len(ops))
	for i, o := range ops {
		changed[i] = o.kind != ' '
	}
	i := 0
	oldLine, newLine := 1, 1
	for i < len(ops) {
		if !changed[i] {
			oldLine++
			newLine++
			i++
			continue
		}
		start := i - ctx
		if start < 0 {
			start = 0
		}
		// Extend while the next change is within 2*ctx lines.
		end := i
		for j := i; j < len(ops); j++ {
			if changed[j] {
				end = j
			} else if j-end > 2*ctx {
				break
			}
		}
		stop := end + ctx + 1
		if stop > len(ops) {
			stop = len(ops)
		}
		back := i - start
		hOld, hNew := oldLine-back, newLine-back
		var oldN, newN int
		var body strings.Builder
		for _, o := range ops[start:stop] {
			switch o.kind {
			case ' ':
				oldN++
				newN++
			case '-':
				oldN++
			case '+':
				newN++
			}
			body.WriteByte(o.kind)
			body.WriteString(o.text)
			if !strings.HasSuffix(o.text, "\n") {
				body.WriteString("\n\\ No newline at end of file\n")
			}
		}
		fmt.Fprintf(&b, "@@ -%s +%s @@\n", hunkRange(hOld, oldN), hunkRange(hNew, newN))
		b.WriteString(body.String())
		for _, o := range ops[i:stop] {
			switch o.kind {
			case ' ':
				oldLine++
				newLine++
			case '-':
				oldLine++
			case '+':
				newLine++
			}
		}
		i = stop
	}
	return b.String()
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
