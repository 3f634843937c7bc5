package apparmor

import (
	"errors"
	"fmt"
	"strings"
)

// Path is a file path or pattern in a rule. It is either a literal — text
// from a log, a compose file or any other untrusted source, matched byte for
// byte — or a glob written by ctsec or the operator, whose `*`, `**`, `?`,
// `[...]`, `{a,b}` and `@{VAR}` keep their AppArmor meaning.
//
// The zero Path is empty and renders nothing (a bare `file,` rule).
// Both kinds are always rendered quoted, so neither can end the string early.
type Path struct {
	text string
	glob bool
}

// Literal is a path matched exactly. Every AppArmor special character is
// escaped when it is rendered, so "@{HOME}" or "/**" from a log stays a name.
func Literal(p string) Path { return Path{text: p} }

// ParseGlob checks an AppArmor pattern and returns it as a glob path.
// Patterns must be absolute (or start with a variable), free of control
// characters and double quotes, with balanced braces and brackets, and must
// not end in a lone backslash (which would escape the closing quote).
func ParseGlob(p string) (Path, error) {
	g := Path{text: p, glob: true}
	if err := g.Validate(); err != nil {
		return Path{}, err
	}
	return g, nil
}

// MustGlob is ParseGlob for patterns fixed in ctsec's own source.
func MustGlob(p string) Path {
	g, err := ParseGlob(p)
	if err != nil {
		panic(err)
	}
	return g
}

// Text is the path as given (unescaped).
func (p Path) Text() string { return p.text }

// IsGlob reports whether the path is a pattern rather than a literal.
func (p Path) IsGlob() bool { return p.glob }

// IsZero reports whether the path is empty.
func (p Path) IsZero() bool { return p.text == "" }

// String renders the path quoted and, for literals, escaped.
func (p Path) String() string {
	if p.glob {
		return `"` + p.text + `"`
	}
	return quoteLiteral(p.text)
}

// Validate reports why the path cannot be used in a rule.
func (p Path) Validate() error { return p.validate(true) }

func (p Path) validate(absolute bool) error {
	if p.text == "" {
		return errors.New("empty path")
	}
	if absolute && !strings.HasPrefix(p.text, "/") && !(p.glob && strings.HasPrefix(p.text, "@{")) {
		return fmt.Errorf("path %q is not absolute", p.text)
	}
	if strings.IndexByte(p.text, 0) >= 0 {
		return fmt.Errorf("path %q contains a NUL byte", p.text)
	}
	if !p.glob {
		return nil // everything else is escaped on output
	}
	return checkGlob(p.text)
}

// checkGlob accepts the AppArmor pattern syntax ctsec writes and nothing that
// could leave the quoted string.
func checkGlob(s string) error {
	var braces, brackets int
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("pattern %q contains control character %#02x", s, c)
		case c == '"':
			return fmt.Errorf("pattern %q contains a double quote", s)
		case c == '\\':
			if i+1 == len(s) || (s[i+1] == '\\' && i+2 == len(s)) {
				// `\\"` is an escaped quote to apparmor_parser's lexer, so
				// no pattern may end in a backslash, escaped or not.
				return fmt.Errorf("pattern %q ends in a backslash", s)
			}
			i++ // the escaped byte is literal
		case c == '[' && brackets == 0:
			brackets++
		case c == ']' && brackets > 0:
			brackets--
		case c == ']':
			return fmt.Errorf("pattern %q has an unmatched ]", s)
		case brackets > 0 && (c == '{' || c == '}'):
			// apparmor_parser's lexer does not know about classes when it
			// looks for the end of a word: an escaped brace says the same.
			return fmt.Errorf("pattern %q has a brace inside [...] (write \\{ or \\})", s)
		case brackets > 0:
		case c == '{':
			braces++
		case c == '}':
			if braces == 0 {
				return fmt.Errorf("pattern %q has an unmatched }", s)
			}
			braces--
		}
	}
	if braces != 0 || brackets != 0 {
		return fmt.Errorf("pattern %q has an unclosed { or [", s)
	}
	return nil
}

// escapeLiteral backslash-escapes the characters AppArmor's pattern language
// gives meaning to and writes bytes below 0x20 and 0x7f as octal escapes, so
// the result is one line that matches exactly the original bytes.
func escapeLiteral(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f || c == '\\':
			// A backslash is written in octal too: apparmor_parser's lexer
			// reads `\\"` as an escaped quote, so a path ending in `\\`
			// would swallow the rest of the profile into its string.
			fmt.Fprintf(&b, `\%03o`, c)
		case strings.IndexByte(`"*?[]{}^`, c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func quoteLiteral(s string) string { return `"` + escapeLiteral(s) + `"` }
