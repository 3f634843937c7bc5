package apparmor

import (
	"fmt"
	"strings"
)

// tokKind is the kind of a lexical token in a profile file.
type tokKind int

const (
	tokWord       tokKind = iota // unquoted run: keyword, path, permission, key=value
	tokString                    // "quoted" (text keeps its escapes, without the quotes)
	tokComma                     // rule terminator or list separator
	tokOpen                      // (
	tokClose                     // )
	tokBlockOpen                 // {
	tokBlockClose                // }
	tokComment                   // # … to end of line (text without "#")
	tokInclude                   // #include / include directive (text is the whole line)
	tokArrow                     // ->
)

type token struct {
	kind      tokKind
	text      string
	line, col int
	off, end  int // byte offsets in the source
	// blankBefore counts empty lines between the previous token and this one;
	// newlineBefore says the token starts a new line.
	blankBefore   int
	newlineBefore bool
}

// SyntaxError names the file and position of a problem in a profile.
type SyntaxError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string {
	name := e.File
	if name == "" {
		name = "<input>"
	}
	if e.Col > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", name, e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", name, e.Line, e.Msg)
}

// lex splits src into tokens. It follows apparmor_parser's lexer where the
// two disagree with a naive reading: a backslash escapes the next byte in a
// quoted string, commas inside {…} belong to the word, and # starts a
// comment only at the start of a token.
func lex(file, src string) ([]token, error) {
	var toks []token
	line, col := 1, 1
	newlines := 0
	i := 0
	errAt := func(l, c int, format string, args ...any) error {
		return &SyntaxError{File: file, Line: l, Col: c, Msg: fmt.Sprintf(format, args...)}
	}
	advance := func(n int) {
		for k := 0; k < n; k++ {
			if src[i] == '\n' {
				line++
				col = 1
			} else {
				col++
			}
			i++
		}
	}
	// A NUL anywhere, in a comment or a quoted string too, is refused: it
	// ends apparmor_parser's reading of the text where ctsec's goes on.
	if k := strings.IndexByte(src, 0); k >= 0 {
		before := src[:k]
		l := line + strings.Count(before, "\n")
		c := col + len(before)
		if nl := strings.LastIndexByte(before, '\n'); nl >= 0 {
			c = k - nl
		}
		return nil, errAt(l, c, "NUL byte")
	}
	for i < len(src) {
		c := src[i]
		if c == '\n' {
			newlines++
			advance(1)
			continue
		}
		if c == ' ' || c == '\t' || c == '\r' {
			advance(1)
			continue
		}
		t := token{line: line, col: col, off: i, newlineBefore: newlines > 0 || len(toks) == 0}
		if newlines > 1 {
			t.blankBefore = newlines - 1
		}
		newlines = 0
		switch {
		case c == '#':
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			text := src[i : i+end]
			if strings.HasPrefix(text, "#include") && len(text) > 8 && (text[8] == ' ' || text[8] == '\t' || text[8] == '<' || text[8] == '"') {
				t.kind, t.text = tokInclude, strings.TrimRight(text, " \t\r")
			} else {
				t.kind, t.text = tokComment, strings.TrimRight(text[1:], " \t\r")
			}
			if k := strings.IndexByte(t.text, '\r'); k >= 0 {
				return nil, errAt(line, col+k+1, "carriage return inside a comment")
			}
			advance(end)
		case c == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return nil, errAt(line, col, "unterminated quoted string")
			}
			t.kind, t.text = tokString, src[i+1:j]
			advance(j + 1 - i)
		case c == ',':
			t.kind, t.text = tokComma, ","
			advance(1)
		case c == '(':
			t.kind, t.text = tokOpen, "("
			advance(1)
		case c == ')':
			t.kind, t.text = tokClose, ")"
			advance(1)
		case c == '{':
			t.kind, t.text = tokBlockOpen, "{"
			advance(1)
		case c == '}':
			t.kind, t.text = tokBlockClose, "}"
			advance(1)
		case c == '-' && i+1 < len(src) && src[i+1] == '>':
			t.kind, t.text = tokArrow, "->"
			advance(2)
		default:
			j, depth := i, 0
		word:
			for j < len(src) {
				switch b := src[j]; {
				case b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '"' || b == '(' || b == ')' || b == 0:
					break word
				case b == '\\' && j+1 < len(src):
					j += 2
					continue
				case b == '{':
					depth++
				case b == '}':
					if depth == 0 {
						break word
					}
					depth--
				case b == ',' && depth == 0:
					break word
				}
				j++
			}
			t.kind, t.text = tokWord, src[i:j]
			advance(j - i)
		}
		t.end = i
		toks = append(toks, t)
	}
	return toks, nil
}
