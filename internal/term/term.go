// Package term is how ctsec prints for people: text from untrusted sources
// made safe for a terminal, the width to fit, word wrapping, aligned tables
// and colour only where it belongs.
package term

import (
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	xterm "golang.org/x/term"
)

// DefaultWidth is the width of output that does not go to a terminal (a
// pipe, a file, CI logs) and of a terminal whose size cannot be read.
const DefaultWidth = 100

// Line returns s as one line of text that cannot change a terminal: line
// breaks (including the Unicode ones YAML and logs may carry) become "; ",
// tabs a space, and every other control character — escape sequences, bidi
// overrides that reorder what is shown — a '?'. Text from logs, compose
// files, API answers and tools' error output goes through it before it is
// printed.
func Line(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == '\r' && i < len(s) && s[i] == '\n':
			// \r\n is one break
		case r == '\n' || r == '\r' || r == '\u0085' || r == '\u2028' || r == '\u2029':
			b.WriteString("; ")
		case r == '\t':
			b.WriteByte(' ')
		case r == utf8.RuneError && n == 1:
			b.WriteByte('?')
		case unicode.IsControl(r) || isBidi(r):
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isBidi reports the explicit directional formatting characters, which make
// a terminal show text in another order than it is (CVE-2021-42574).
func isBidi(r rune) bool {
	return (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') || r == '\u200e' || r == '\u200f' || r == '\u061c'
}

// Len is the number of terminal columns s takes, counting one per rune:
// ctsec's own text is ASCII, and untrusted text has been through Line.
func Len(s string) int { return utf8.RuneCountInString(s) }

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && xterm.IsTerminal(int(f.Fd()))
}

// Width is the number of columns output to w should fit: COLUMNS when it is
// set to a number (the shell's idea of the terminal, and how a user asks for
// another width), else the terminal's width, else DefaultWidth. getenv is
// os.Getenv in the binary.
func Width(w io.Writer, getenv func(string) string) int {
	if getenv != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(getenv("COLUMNS"))); err == nil && n > 0 {
			return max(n, 20)
		}
	}
	if f, ok := w.(*os.File); ok && xterm.IsTerminal(int(f.Fd())) {
		if n, _, err := xterm.GetSize(int(f.Fd())); err == nil && n > 0 {
			return max(n, 20)
		}
	}
	return DefaultWidth
}

// Color reports whether output to w gets ANSI colour: mode "always" or
// "never" decides; "auto" means only on a terminal and never with NO_COLOR
// set (https://no-color.org: set to anything, even empty).
func Color(mode string, w io.Writer, lookupEnv func(string) (string, bool)) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	if lookupEnv != nil {
		if _, ok := lookupEnv("NO_COLOR"); ok {
			return false
		}
	}
	return IsTerminal(w)
}

// Wrap breaks s into lines of at most width columns at spaces; a word longer
// than width (a path, a base64 key) is cut, so no line is ever wider.
func Wrap(s string, width int) []string {
	width = max(width, 1)
	var lines []string
	var cur strings.Builder
	curLen := 0
	flush := func() {
		lines = append(lines, cur.String())
		cur.Reset()
		curLen = 0
	}
	for _, word := range strings.Fields(s) {
		wl := Len(word)
		if curLen > 0 && curLen+1+wl <= width {
			cur.WriteByte(' ')
			cur.WriteString(word)
			curLen += 1 + wl
			continue
		}
		if curLen > 0 {
			flush()
		}
		for wl > width {
			head, rest := cutRunes(word, width)
			lines = append(lines, head)
			word, wl = rest, wl-width
		}
		cur.WriteString(word)
		curLen = wl
	}
	if curLen > 0 || len(lines) == 0 {
		flush()
	}
	return lines
}

func cutRunes(s string, n int) (string, string) {
	i := 0
	for k := 0; k < n && i < len(s); k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i], s[i:]
}

// Reset ends an ANSI style.
const Reset = "\x1b[0m"

// ANSI styles ctsec uses.
const (
	Bold    = "\x1b[1m"
	Dim     = "\x1b[2m"
	Red     = "\x1b[31m"
	BoldRed = "\x1b[1;31m"
	Green   = "\x1b[32m"
	Yellow  = "\x1b[33m"
	Cyan    = "\x1b[36m"
)

// Fit wraps every line of preformatted text wider than width at spaces,
// continuing it indented four columns past the line's own indentation, so
// a report written line by line still fits. Not for content that must stay
// byte for byte (a unified diff of a file).
func Fit(text string, width int) string {
	var b strings.Builder
	lines := strings.SplitAfter(text, "\n")
	for _, l := range lines {
		body := strings.TrimSuffix(l, "\n")
		if Len(body) <= width {
			b.WriteString(l)
			continue
		}
		indent := body[:len(body)-len(strings.TrimLeft(body, " "))]
		if Len(indent) > width/2 {
			indent = ""
		}
		next := indent + "    "
		parts := Wrap(strings.TrimLeft(body, " "), width-Len(indent))
		b.WriteString(indent + parts[0] + "\n")
		if len(parts) > 1 {
			for _, part := range Wrap(strings.Join(parts[1:], " "), width-Len(next)) {
				b.WriteString(next + part + "\n")
			}
		}
		if !strings.HasSuffix(l, "\n") {
			// keep a last line without a newline as it was
			s := b.String()
			b.Reset()
			b.WriteString(strings.TrimSuffix(s, "\n"))
		}
	}
	return b.String()
}
