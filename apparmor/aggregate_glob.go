package apparmor

import (
	"regexp"
	"slices"
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

// tunableVars are the variables of Debian's tunables/global that profiles
// use in paths, as their values read there (tunables/proc, kernelvars, run).
var tunableVars = map[string][]string{
	"PROC": {"/proc/"},
	"sys":  {"/sys/"},
	"run":  {"/run/", "/var/run/"},
	"pid":  {"{[1-9],[1-9][0-9],[1-9][0-9][0-9],[1-9][0-9][0-9][0-9],[1-9][0-9][0-9][0-9][0-9],[1-9][0-9][0-9][0-9][0-9][0-9],[1-4][0-9][0-9][0-9][0-9][0-9][0-9]}"},
	"pids": {"{[1-9],[1-9][0-9],[1-9][0-9][0-9],[1-9][0-9][0-9][0-9],[1-9][0-9][0-9][0-9][0-9],[1-9][0-9][0-9][0-9][0-9][0-9],[1-4][0-9][0-9][0-9][0-9][0-9][0-9]}"},
	"tid":  {"{[1-9],[1-9][0-9],[1-9][0-9][0-9],[1-9][0-9][0-9][0-9],[1-9][0-9][0-9][0-9][0-9],[1-9][0-9][0-9][0-9][0-9][0-9],[1-4][0-9][0-9][0-9][0-9][0-9][0-9]}"},
}

// profileVariables are the variables a profile's patterns can be expanded
// with: its own assignments, and the tunables when it includes them.
func profileVariables(p *Profile) map[string][]string {
	vars := map[string][]string{}
	for _, i := range p.Includes {
		if strings.HasPrefix(i.Path, "tunables/") {
			for k, v := range tunableVars {
				vars[k] = v
			}
		}
	}
	for _, v := range p.Variables {
		if v.Append {
			vars[v.Name] = append(slices.Clone(vars[v.Name]), v.Values...)
		} else {
			vars[v.Name] = v.Values
		}
	}
	return vars
}

// globMatchesVars is globMatches after expanding the pattern's variables
// into alternatives; a variable it does not know matches nothing.
func globMatchesVars(pattern, path string, vars map[string][]string) bool {
	if !strings.Contains(pattern, "@{") {
		return globMatches(pattern, path)
	}
	expanded, ok := expandVars(pattern, vars, 0)
	return ok && globMatches(collapseSlashes(expanded), path)
}

func expandVars(p string, vars map[string][]string, depth int) (string, bool) {
	if depth > 4 {
		return "", false
	}
	var b strings.Builder
	for {
		i := strings.Index(p, "@{")
		if i < 0 {
			b.WriteString(p)
			return b.String(), true
		}
		end := strings.IndexByte(p[i:], '}')
		if end < 0 {
			return "", false
		}
		vals, ok := vars[p[i+2:i+end]]
		if !ok || len(vals) == 0 {
			return "", false
		}
		slashNext := strings.HasPrefix(p[i+end+1:], "/")
		var alts []string
		for _, v := range vals {
			x, ok := expandVars(v, vars, depth+1)
			if !ok {
				return "", false
			}
			if slashNext {
				x = strings.TrimSuffix(x, "/") // @{PROC}/x is /proc/x
			}
			alts = append(alts, x)
		}
		b.WriteString(p[:i])
		b.WriteString("{" + strings.Join(alts, ",") + "}")
		p = p[i+end+1:]
	}
}

// collapseSlashes merges repeated slashes, as apparmor_parser does
// (`@{PROC}/x` is /proc//x before it).
func collapseSlashes(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}
