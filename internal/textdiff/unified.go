// Package textdiff renders line diffs in the unified format that reviewers
// read and GNU patch applies: three lines of context, "\ No newline at end of
// file" markers, and line endings kept byte for byte (a CRLF file diffs and
// patches as CRLF).
package textdiff

import (
	"strconv"
	"strings"
)

// Kind says what an Op does to a line.
type Kind byte

const (
	Equal  Kind = ' '
	Delete Kind = '-'
	Insert Kind = '+'
)

// Op is one line of an edit script. Text keeps its line ending; only the
// last line of a text may lack one.
type Op struct {
	Kind Kind
	Text string
}

// Context is the number of unchanged lines shown around each change, as in
// `diff -u`.
const Context = 3

// Unified compares old and new line by line and renders the difference as a
// unified diff headed by oldName and newName. It is empty when the texts are
// equal.
func Unified(oldName, newName string, old, new []byte) string {
	if string(old) == string(new) {
		return ""
	}
	return Render(oldName, newName, Ops(Lines(string(old)), Lines(string(new))))
}

// Lines splits s after each '\n', keeping the endings, so that joining the
// result gives s back exactly.
func Lines(s string) []string {
	out := make([]string, 0, strings.Count(s, "\n")+1)
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

// Render writes ops as a unified diff. Callers that know the alignment of
// their change exactly (an editor that only inserts) build the ops
// themselves instead of asking Ops to guess it. Render returns "" when no
// op changes anything.
func Render(oldName, newName string, ops []Op) string {
	var out strings.Builder
	// oldAt[k], newAt[k]: lines of each side before ops[k].
	oldAt, newAt := make([]int, len(ops)+1), make([]int, len(ops)+1)
	for k, o := range ops {
		oldAt[k+1], newAt[k+1] = oldAt[k], newAt[k]
		if o.Kind != Insert {
			oldAt[k+1]++
		}
		if o.Kind != Delete {
			newAt[k+1]++
		}
	}
	for k := 0; k < len(ops); {
		if ops[k].Kind == Equal {
			k++
			continue
		}
		// A hunk runs on while the next change is at most 2*Context
		// unchanged lines away, so that the contexts of two changes
		// never overlap (the rule of GNU diff).
		last := k // last changed op of the hunk
		for j := k + 1; j < len(ops) && j-last <= 2*Context+1; j++ {
			if ops[j].Kind != Equal {
				last = j
			}
		}
		start, stop := max(k-Context, 0), min(last+Context+1, len(ops))
		if out.Len() == 0 {
			out.WriteString("--- " + quoteName(oldName) + "\n+++ " + quoteName(newName) + "\n")
		}
		out.WriteString("@@ -" + hunkRange(oldAt[start], oldAt[stop]-oldAt[start]) +
			" +" + hunkRange(newAt[start], newAt[stop]-newAt[start]) + " @@\n")
		for _, o := range ops[start:stop] {
			out.WriteByte(byte(o.Kind))
			out.WriteString(o.Text)
			if !strings.HasSuffix(o.Text, "\n") {
				out.WriteString("\n\\ No newline at end of file\n")
			}
		}
		k = stop
	}
	return out.String()
}

// hunkRange formats one side of a hunk header the way GNU diff does: the
// count is left out when it is 1, and an empty range names the line after
// which the change goes.
func hunkRange(before, n int) string {
	switch n {
	case 0:
		return strconv.Itoa(before) + ",0"
	case 1:
		return strconv.Itoa(before + 1)
	}
	return strconv.Itoa(before+1) + "," + strconv.Itoa(n)
}

// quoteName writes a file name that holds a control character, a quote, a
// backslash or a space in double quotes with C escapes, as GNU diff and git
// do for the first three; GNU patch reads the name back. Names can come from
// untrusted places (a Portainer stack name): unquoted, a newline in one
// would forge diff lines that a reviewer takes for real, and patch would
// cut a name at its first space (diff and git hide that behind a tab).
func quoteName(name string) string {
	if !strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '"' || r == '\\' }) {
		return name
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\v':
			b.WriteString(`\v`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if c < 0x20 || c == 0x7f {
				b.WriteString(`\` + string('0'+c>>6) + string('0'+c>>3&7) + string('0'+c&7))
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
