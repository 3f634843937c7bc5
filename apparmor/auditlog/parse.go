package auditlog

import (
	"strings"
	"time"
	"unsafe"
)

// Parser turns one log record into an Event. It holds only the reference
// time used to give a year to BSD syslog timestamps, which have none.
type Parser struct {
	Now time.Time // zero: the system clock's now
}

// ParseRecord parses one record the way libapparmor's parse_record does: the
// text may carry a syslog, dmesg or "audit:" prefix, and may span lines (a
// USER_AVC msg='…' split by a relay). A record that is not AppArmor's, or is
// malformed, comes back with Kind Invalid and whatever fields were read
// before the problem. It never panics.
func ParseRecord(rec []byte) Event {
	var p Parser
	return p.Parse(rec)
}

// Parse is ParseRecord with the parser's reference time. The event's
// strings are copies: they stay valid whatever happens to rec.
func (p *Parser) Parse(rec []byte) Event { return p.parseString(string(rec)) }

// parseView parses rec without copying it: the event's strings point into
// rec and are valid only as long as rec is not overwritten. The Reader uses
// it so a long log does not allocate a copy of every AppArmor line; its
// events are documented as valid until the next call.
func (p *Parser) parseView(rec []byte) Event {
	if len(rec) == 0 {
		return p.parseString("")
	}
	return p.parseString(unsafe.String(&rec[0], len(rec)))
}

func (p *Parser) parseString(s string) Event {
	ev := newEvent()
	// ENRICHED audit.log appends translations (FSUID="otis") after a 0x1D
	// byte. The kernel hex-encodes control bytes inside values, so the first
	// 0x1D always starts the enrichment.
	if i := strings.IndexByte(s, 0x1d); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimRight(s, "\r\n")
	p.parse(s, &ev)
	return ev
}

func (p *Parser) parse(s string, ev *Event) {
	ev.Transport = "audit"
	if ts, rest, ok := p.syslogHeader(s); ok {
		ev.Time, s, ev.Transport = ts, rest, "syslog"
	} else if looksLikeTimestamp(s) {
		return // a timestamp without a recognisable tag: not a record
	}
	if strings.HasPrefix(s, "[") { // dmesg "[  123.456]"
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return
		}
		if ev.Transport == "audit" {
			ev.Transport = "dmesg"
		}
		s = strings.TrimLeft(s[end+1:], " ")
	}
	s = strings.TrimPrefix(s, "audit: ")
	if strings.HasPrefix(s, "node=") { // auditd name_format: "node=host type=AVC …"
		if sp := strings.IndexByte(s, ' '); sp > 0 {
			s = s[sp+1:]
		}
	}
	var word, body string
	switch {
	case strings.HasPrefix(s, "type="):
		sp := strings.IndexByte(s, ' ')
		if sp < 0 {
			return
		}
		word, s = s[len("type="):sp], strings.TrimLeft(s[sp+1:], " ")
		s = strings.TrimPrefix(s, "msg=")
		if !strings.HasPrefix(s, "audit(") {
			return
		}
		var ok bool
		if body, ok = stamp(s, ev); !ok {
			return
		}
	case strings.HasPrefix(s, "audit("):
		var ok bool
		if body, ok = stamp(s, ev); !ok {
			return
		}
	case strings.HasPrefix(s, "AVC "), strings.HasPrefix(s, "USER_AVC "):
		// journald's audit transport: "AVC apparmor=…" with the stamp in
		// _AUDIT_ID and _SOURCE_REALTIME_TIMESTAMP (see journal.go).
		sp := strings.IndexByte(s, ' ')
		word, body = s[:sp], s[sp+1:]
	case strings.HasPrefix(s, "apparmor="):
		body = s // dbus-daemon logging through syslog
		ev.Transport = "dbus"
	default:
		return
	}
	if ev.Epoch != 0 {
		ev.Time = time.Unix(ev.Epoch, int64(ev.Millis)*int64(time.Millisecond)).UTC()
	}
	p.record(word, body, ev)
}

// stamp reads "audit(EPOCH.MILLIS:SERIAL):" and returns the rest. A broken
// stamp makes the whole record invalid, as libapparmor does.
func stamp(s string, ev *Event) (string, bool) {
	s = s[len("audit("):]
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return "", false
	}
	id := s[:end]
	dot, colon := strings.IndexByte(id, '.'), strings.IndexByte(id, ':')
	if dot <= 0 || colon <= dot+1 || colon == len(id)-1 {
		return "", false
	}
	epoch, ok1 := atou(id[:dot])
	millis, ok2 := atou(id[dot+1 : colon])
	serial, ok3 := atou(id[colon+1:])
	if !ok1 || !ok2 || !ok3 || epoch > 1<<40 || millis > 999 {
		return "", false
	}
	ev.Epoch, ev.Millis, ev.Serial = int64(epoch), int(millis), serial
	rest := s[end+1:]
	rest = strings.TrimPrefix(rest, ":")
	return strings.TrimLeft(rest, " "), true
}

// record interprets the body according to the record type word.
func (p *Parser) record(word, body string, ev *Event) {
	if strings.HasPrefix(word, "UNKNOWN[") && strings.HasSuffix(word, "]") {
		word = word[len("UNKNOWN[") : len(word)-1]
	}
	switch word {
	case "APPARMOR":
		// Pre-2.6.36 free text ("REJECTING r access to …"): kept as Info only.
		ev.Operation, ev.Info = "APPARMOR", body
		return
	case "1500":
		ev.Info = body
		return
	case "", "AVC", "1400", "USER_AVC", "1107":
	default:
		if kindOfType(word) == "" {
			ev.Operation, ev.Info = word, body
			return
		}
	}
	var f fields
	if word == "USER_AVC" || word == "1107" {
		// dbus-daemon's USER_AVC wraps the AppArmor fields in msg='…'; the
		// outer pid/uid are the daemon's.
		msg, ok := userMsg(body)
		if !ok {
			return
		}
		if ev.Transport == "audit" || ev.Transport == "syslog" {
			ev.Transport = "dbus"
		}
		body = msg
	}
	ok := f.parse(body, ev)
	kind := Kind(f.apparmor)
	if kind == "" {
		kind = kindOfType(f.typ)
	}
	if kind == "" {
		kind = kindOfType(word)
	}
	switch {
	case !ok:
		ev.Kind = Invalid
	case kind == "":
		ev.Kind = Invalid
	case kind == "KILLED" || kind == "USER":
		ev.Kind = Denied // the kernel's kill mode and user-space mediators deny too
	case kind == Audit, kind == Allowed, kind == Denied, kind == Hint, kind == Status, kind == Error:
		ev.Kind = kind
	default:
		ev.Kind = Invalid // an apparmor= value the kernel does not write
	}
}

// kindOfType maps the old AppArmor audit record types to a kind.
func kindOfType(t string) Kind {
	switch t {
	case "APPARMOR_AUDIT", "1501":
		return Audit
	case "APPARMOR_ALLOWED", "1502":
		return Allowed
	case "APPARMOR_DENIED", "1503":
		return Denied
	case "APPARMOR_HINT", "1504":
		return Hint
	case "APPARMOR_STATUS", "1505":
		return Status
	case "APPARMOR_ERROR", "1506":
		return Error
	}
	return ""
}

// userMsg extracts the text inside msg='…' of a USER_AVC record.
func userMsg(body string) (string, bool) {
	i := strings.Index(body, "msg='")
	if i < 0 {
		return "", false
	}
	rest := body[i+len("msg='"):]
	if end := strings.LastIndexByte(rest, '\''); end >= 0 {
		return rest[:end], true
	}
	return rest, true // a relay cut the record short; keep what arrived
}

func atou(s string) (uint64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
