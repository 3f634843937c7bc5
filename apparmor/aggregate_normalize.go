package apparmor

import "strings"

// pathFor turns a path from a log into a rule path: a literal (escaped on
// output), or with Normalize a glob whose fixed parts are escaped literals
// and whose only pattern characters are the ones normalisation put there.
func pathFor(p string, o RuleOptions) Path {
	if !o.Normalize {
		return Literal(p)
	}
	parts := strings.Split(p, "/")
	changed := false
	for i, part := range parts {
		switch {
		case i == 2 && parts[1] == "proc" && isDigits(part):
			parts[i] = pidPattern(o)
		case i == 4 && parts[1] == "proc" && parts[3] == "task" && isDigits(part):
			parts[i] = pidPattern(o) // a thread id, same shape
		case volatileName(part):
			parts[i] = "*"
		default:
			var ok bool
			if parts[i], ok = numberedName(part); !ok {
				parts[i] = escapeLiteral(part)
				continue
			}
		}
		changed = true
	}
	if !changed {
		return Literal(p)
	}
	g, err := ParseGlob(strings.Join(parts, "/"))
	if err != nil {
		return Literal(p)
	}
	return g
}

func pidPattern(o RuleOptions) string {
	if o.PIDVar {
		return "@{pid}"
	}
	return "[0-9]*"
}

// volatileName recognises whole name parts that change from run to run:
// UUIDs and hashes (16+ hex digits).
func volatileName(s string) bool {
	if len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' {
		return isHexString(strings.ReplaceAll(s, "-", ""))
	}
	return len(s) >= 16 && isHexString(s) && !isDigits(s)
}

// numberedName replaces runs of 6 or more digits (timestamps, sequence
// numbers) with * and a rotation suffix (".1", ".12") with .[0-9]*; the rest
// is escaped. It reports false when there is nothing to replace.
func numberedName(s string) (string, bool) {
	var b strings.Builder
	changed := false
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		switch {
		case j-i >= 6:
			b.WriteString("*")
			changed = true
			i = j
		case j > i && j == len(s) && i > 0 && s[i-1] == '.' && i > 1:
			b.WriteString("[0-9]*")
			changed = true
			i = j
		case j > i:
			b.WriteString(s[i:j])
			i = j
		default:
			b.WriteString(escapeLiteral(s[i : i+1]))
			i++
		}
	}
	return b.String(), changed
}
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHexString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
