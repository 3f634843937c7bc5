package fail2ban

import (
	"strconv"
	"strings"
)

// Jail is the effective configuration of one jail from `fail2ban-client -d`.
type Jail struct {
	Name     string
	Enabled  bool
	Backend  string
	Settings map[string][]string // "maxretry" → ["3"], "addignoreip" → [...]
}

// ParseDump reads the command stream `fail2ban-client -d` prints
// (Python list literals such as ['set', 'sshd', 'maxretry', 3]) for one jail.
func ParseDump(out []byte, jail string) Jail {
	j := Jail{Name: jail, Settings: map[string][]string{}}
	for _, line := range strings.Split(string(out), "\n") {
		items := parseList(strings.TrimSpace(line))
		if len(items) < 2 || items[1] != jail {
			continue
		}
		switch items[0] {
		case "add":
			if len(items) >= 3 {
				j.Backend = items[2]
			}
		case "start":
			j.Enabled = true
		case "set":
			if len(items) >= 3 {
				j.Settings[items[2]] = append(j.Settings[items[2]], items[3:]...)
			}
		}
	}
	return j
}

// Get is the first value of a setting.
func (j Jail) Get(k string) string {
	if v := j.Settings[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// parseList reads the top-level scalars of a Python list literal: quoted
// strings (with backslash escapes) and bare words; nested lists are skipped.
// It never fails: a malformed line yields what could be read.
func parseList(s string) []string {
	if !strings.HasPrefix(s, "[") {
		return nil
	}
	var out []string
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == '\'' || c == '"':
			var b strings.Builder
			i++
			for ; i < len(s) && s[i] != c; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if depth == 1 {
				out = append(out, b.String())
			}
		case c == ',' || c == ' ':
		default:
			start := i
			for i < len(s) && s[i] != ',' && s[i] != ']' {
				i++
			}
			if depth == 1 {
				out = append(out, strings.TrimSpace(s[start:i]))
			}
			i--
		}
	}
	return out
}

// seconds turns a fail2ban time value ("600", "10m", "1h") into seconds.
func seconds(v string) (int, bool) {
	if n, err := strconv.Atoi(v); err == nil {
		return n, true
	}
	total, cur, have := 0, 0, false
	units := map[string]int{"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= '0' && c <= '9' {
			cur = cur*10 + int(c-'0')
			have = true
			if cur > 1<<30 {
				return 0, false
			}
			continue
		}
		j := i
		for j < len(v) && (v[j] < '0' || v[j] > '9') {
			j++
		}
		unit := strings.ToLower(v[i:j])
		mult, ok := units[unit[:min(1, len(unit))]]
		if !ok || !have {
			return 0, false
		}
		total += cur * mult
		cur, have = 0, false
		i = j - 1
	}
	return total + cur, true
}
