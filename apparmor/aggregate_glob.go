package apparmor

import (
	"regexp"
	"strings"
	"sync"
)

// globCache keeps compiled profile patterns; profiles repeat them across
// many proposals.
var globCache sync.Map // pattern → *regexp.Regexp (nil: not matchable)

// globMatches reports whether an AppArmor pattern from a profile matches a
// literal path: `*` (within a name), `**` (across names), `?`, `[...]`,
// `{a,b}` and backslash escapes. Patterns holding variables are not expanded
// and match nothing, so a rule they may cover is still proposed.
func globMatches(pattern, path string) bool {
	v, ok := globCache.Load(pattern)
	if !ok {
		v = compileGlob(pattern)
		globCache.Store(pattern, v)
	}
	re := v.(*regexp.Regexp)
	return re != nil && re.MatchString(path)
}

func compileGlob(p string) *regexp.Regexp {
	if strings.Contains(p, "@{") {
		return (*regexp.Regexp)(nil)
	}
	var b strings.Builder
	b.WriteString("^")
	depth := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteString(regexp.QuoteMeta(string(p[i])))
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			end := strings.IndexByte(p[i+1:], ']')
			if end < 0 {
				return nil
			}
			class := p[i+1 : i+1+end]
			if strings.HasPrefix(class, "^") {
				class = "^/" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += end + 1
		case c == '{':
			depth++
			b.WriteString("(?:")
		case c == ',' && depth > 0:
			b.WriteString("|")
		case c == '}' && depth > 0:
			depth--
			b.WriteString(")")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	if depth != 0 {
		return nil
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil
	}
	return re
}
