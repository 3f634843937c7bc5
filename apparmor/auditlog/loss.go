package auditlog

import (
	"bytes"
	"strconv"
	"time"
)

// Loss counts the signs that events never reached the log. A review cannot
// call a profile quiet over a window in which the kernel or journald dropped
// records: the missing ones might have been its denials.
type Loss struct {
	BacklogExceeded   int    `json:"backlog_exceeded,omitempty"`    // "audit: backlog limit exceeded"
	RateLimitExceeded int    `json:"rate_limit_exceeded,omitempty"` // "audit: rate limit exceeded"
	HoldQueueOverflow int    `json:"hold_queue_overflow,omitempty"` // "audit: kauditd hold queue overflow"
	AuditLostLines    int    `json:"audit_lost_lines,omitempty"`    // "audit: audit_lost=N …" lines
	AuditLost         uint64 `json:"audit_lost,omitempty"`          // highest audit_lost= counter seen
	Suppressed        uint64 `json:"suppressed,omitempty"`          // audit/printk messages dropped by rate limits
	JournalMissed     uint64 `json:"journal_missed,omitempty"`      // journald "Missed N kernel messages"
	// Unrelated counts rate limiting that does not touch kernel or audit
	// messages (net_ratelimit, a noisy service in journald): shown, not blocking.
	Unrelated uint64    `json:"unrelated,omitempty"`
	Last      time.Time `json:"last,omitzero"`
}

// Blocking reports a loss that may have hidden AppArmor events.
func (l Loss) Blocking() bool {
	return l.BacklogExceeded > 0 || l.RateLimitExceeded > 0 || l.HoldQueueOverflow > 0 ||
		l.AuditLostLines > 0 || l.AuditLost > 0 || l.Suppressed > 0 || l.JournalMissed > 0
}

// Add merges another count into l.
func (l *Loss) Add(o Loss) {
	l.BacklogExceeded += o.BacklogExceeded
	l.RateLimitExceeded += o.RateLimitExceeded
	l.HoldQueueOverflow += o.HoldQueueOverflow
	l.AuditLostLines += o.AuditLostLines
	l.AuditLost = max(l.AuditLost, o.AuditLost)
	l.Suppressed += o.Suppressed
	l.JournalMissed += o.JournalMissed
	l.Unrelated += o.Unrelated
	if o.Last.After(l.Last) {
		l.Last = o.Last
	}
}

var (
	needleExceeded  = []byte("exceeded")
	needleAuditLost = []byte("audit_lost=")
	needleSsed      = []byte("ssed") // suppressed, Suppressed, Missed
	needleOverflow  = []byte("queue overflow")
)

// mayBeLoss is the cheap pre-check run on every line that is not an event.
func mayBeLoss(line []byte) bool {
	return bytes.Contains(line, needleSsed) || bytes.Contains(line, needleExceeded) ||
		bytes.Contains(line, needleAuditLost) || bytes.Contains(line, needleOverflow)
}

// countLoss recognises one loss message and adds it to l; it reports whether
// the message was one.
func (l *Loss) countLoss(msg []byte) bool {
	switch {
	case bytes.Contains(msg, []byte("backlog limit exceeded")):
		l.BacklogExceeded++
	case bytes.Contains(msg, []byte("audit: rate limit exceeded")):
		l.RateLimitExceeded++
	case bytes.Contains(msg, needleOverflow) && bytes.Contains(msg, []byte("audit")):
		l.HoldQueueOverflow++
	case bytes.Contains(msg, needleAuditLost):
		l.AuditLostLines++
		i := bytes.Index(msg, needleAuditLost) + len(needleAuditLost)
		l.AuditLost = max(l.AuditLost, leadingNumber(msg[i:]))
	case bytes.Contains(msg, []byte(" callbacks suppressed")):
		// "kauditd_printk_skb: 12 callbacks suppressed": the function
		// before the colon says whose messages were dropped.
		i := bytes.Index(msg, []byte(" callbacks suppressed"))
		head := msg[:i]
		n := trailingNumber(head)
		if bytes.Contains(head, []byte("audit")) || bytes.Contains(head, []byte("__ratelimit")) ||
			bytes.Contains(head, []byte("apparmor")) {
			l.Suppressed += n
		} else {
			l.Unrelated += n
		}
	case bytes.Contains(msg, []byte(" messages suppressed")):
		// printk: 5 messages suppressed.
		i := bytes.Index(msg, []byte(" messages suppressed"))
		if bytes.Contains(msg[:i], []byte("printk")) {
			l.Suppressed += trailingNumber(msg[:i])
		} else {
			l.Unrelated += trailingNumber(msg[:i])
		}
	case bytes.Contains(msg, []byte("Missed ")) && bytes.Contains(msg, []byte(" kernel messages")):
		i := bytes.Index(msg, []byte("Missed ")) + len("Missed ")
		l.JournalMissed += leadingNumber(msg[i:])
	case bytes.Contains(msg, []byte("Suppressed ")) && bytes.Contains(msg, []byte(" messages from")):
		i := bytes.Index(msg, []byte("Suppressed ")) + len("Suppressed ")
		l.Unrelated += leadingNumber(msg[i:])
	default:
		return false
	}
	return true
}

func leadingNumber(b []byte) uint64 {
	end := 0
	for end < len(b) && end < 19 && b[end] >= '0' && b[end] <= '9' {
		end++
	}
	n, _ := strconv.ParseUint(string(b[:end]), 10, 64)
	return n
}

func trailingNumber(b []byte) uint64 {
	start := len(b)
	for start > 0 && len(b)-start < 19 && b[start-1] >= '0' && b[start-1] <= '9' {
		start--
	}
	n, _ := strconv.ParseUint(string(b[start:]), 10, 64)
	return n
}
