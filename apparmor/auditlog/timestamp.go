package auditlog

import (
	"strings"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
)

var months = map[string]time.Month{
	"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
	"Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}

// looksLikeTimestamp says a line starts like a syslog timestamp, so a line
// whose header did not parse is not taken for a bare audit record.
func looksLikeTimestamp(s string) bool {
	if len(s) >= 4 {
		if _, ok := months[s[:3]]; ok && s[3] == ' ' {
			return true
		}
		if isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && isDigit(s[3]) && len(s) > 4 && s[4] == '-' {
			return true
		}
	}
	return false
}

// syslogHeader strips "TIMESTAMP [HOST] TAG:" from a syslog line. TIMESTAMP
// is BSD ("Jan  1 15:09:04[.frac][±hh:mm]") or ISO 8601 ("2013-01-01[T ]
// 15:09:04[.frac][Z|±hh:mm]"); HOST is absent in socklog output.
func (p *Parser) syslogHeader(s string) (time.Time, string, bool) {
	ts, rest, ok := p.timestamp(s)
	if !ok {
		return time.Time{}, s, false
	}
	// The tag is the first of the next two words that ends with ':'.
	for range 2 {
		rest = strings.TrimLeft(rest, " ")
		sp := strings.IndexByte(rest, ' ')
		if sp <= 0 {
			return time.Time{}, s, false
		}
		word := rest[:sp]
		rest = rest[sp+1:]
		if strings.HasSuffix(word, ":") {
			return ts, strings.TrimLeft(rest, " "), true
		}
	}
	return time.Time{}, s, false
}

func (p *Parser) timestamp(s string) (time.Time, string, bool) {
	if looksLikeTimestamp(s) && isDigit(s[0]) {
		// ISO date, then 'T' or ' ', then the clock.
		if len(s) < 19 || (s[10] != 'T' && s[10] != ' ') {
			return time.Time{}, s, false
		}
		end := strings.IndexByte(s[11:], ' ')
		if end < 0 {
			return time.Time{}, s, false
		}
		clock := s[11 : 11+end]
		t, ok := parseClock(s[:10], clock, 0)
		return t, s[11+end:], ok
	}
	if !looksLikeTimestamp(s) {
		return time.Time{}, s, false
	}
	mon := months[s[:3]]
	rest := strings.TrimLeft(s[4:], " ")
	sp := strings.IndexByte(rest, ' ')
	if sp <= 0 || sp > 2 {
		return time.Time{}, s, false
	}
	day, ok := atou(rest[:sp])
	if !ok || day < 1 || day > 31 {
		return time.Time{}, s, false
	}
	rest = rest[sp+1:]
	end := strings.IndexByte(rest, ' ')
	if end < 0 {
		return time.Time{}, s, false
	}
	now := p.Now
	if now.IsZero() {
		now = clock.System{}.Now() // ParseRecord without a reference: this year
	}
	// BSD syslog has no year: take the latest year that does not put the
	// line more than a day in the future.
	year := now.Year()
	if time.Date(year, mon, int(day), 0, 0, 0, 0, time.UTC).After(now.AddDate(0, 0, 1)) {
		year--
	}
	date := time.Date(year, mon, int(day), 0, 0, 0, 0, time.UTC).Format("2006-01-02")
	t, ok := parseClock(date, rest[:end], 0)
	return t, rest[end:], ok
}

// parseClock parses "hh:mm:ss[.frac][Z|±hh:mm]" on date; no zone means local.
func parseClock(date, clock string, _ int) (time.Time, bool) {
	for _, layout := range []string{"15:04:05.999999999Z07:00", "15:04:05.999999999"} {
		loc := time.Local
		if t, err := time.ParseInLocation("2006-01-02 "+layout, date+" "+clock, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
