package apparmor

import (
	"fmt"
	"strings"
)

// Raw is a rule ctsec does not model (dbus, userns, rlimit, io_uring, …),
// kept verbatim from a parsed profile. The parser only produces a Raw for one
// complete, comma-terminated rule; Validate re-checks that, so a Raw can
// never open or close a block or carry a second line.
type Raw struct {
	Text string
}

func (r Raw) String() string { return r.Text }

// Validate accepts a single rule: one line, quotes and parentheses balanced,
// no braces outside quotes, ending in a comma.
func (r Raw) Validate() error {
	s := r.Text
	if !strings.HasSuffix(s, ",") {
		return fmt.Errorf("rule %q does not end in a comma", s)
	}
	inQuote, depth, braces := false, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("rule %q contains control character %#02x", s, c)
		case inQuote && c == '\\':
			i++
		case c == '"':
			if inQuote && s[i-1] == '\\' {
				return fmt.Errorf("rule %q has a string ending in a backslash", s)
			}
			inQuote = !inQuote
		case inQuote:
		case c == '{' && i > 0 && s[i-1] != ' ' && s[i-1] != '(' && s[i-1] != ',':
			// inside a word (`@{var}`, `/{a,b}`): not a block
			braces++
		case c == '}' && braces > 0:
			braces--
		case c == '{' || c == '}':
			return fmt.Errorf("rule %q contains a block brace", s)
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return fmt.Errorf("rule %q contains a comment", s)
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return fmt.Errorf("rule %q has an unmatched )", s)
			}
		case c == ',' && depth == 0 && braces == 0 && i != len(s)-1:
			return fmt.Errorf("rule %q holds more than one rule", s)
		}
	}
	if inQuote || depth != 0 || braces != 0 {
		return fmt.Errorf("rule %q has an unclosed quote or parenthesis", s)
	}
	return nil
}
