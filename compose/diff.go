package compose

import (
	"strings"

	"github.com/ctsec/ctsec/internal/textdiff"
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
	var ops []textdiff.Op
	k := 0
	addLines := func(kind textdiff.Kind, s string) {
		for _, l := range textdiff.Lines(s) {
			ops = append(ops, textdiff.Op{Kind: kind, Text: l})
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
			ops = append(ops, textdiff.Op{Kind: textdiff.Equal, Text: orig})
			continue
		}
		seg.Write(src[prev:le])
		s := seg.String()
		if strings.HasSuffix(s, orig) && strings.HasSuffix(s[:len(s)-len(orig)], "\n") {
			addLines(textdiff.Insert, s[:len(s)-len(orig)])
			ops = append(ops, textdiff.Op{Kind: textdiff.Equal, Text: orig})
			continue
		}
		addLines(textdiff.Delete, orig)
		addLines(textdiff.Insert, s)
	}
	var tail strings.Builder
	for ; k < len(ins); k++ {
		tail.WriteString(ins[k].text)
	}
	addLines(textdiff.Insert, tail.String())

	return textdiff.Render(oldName, newName, ops)
}
