package auditlog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
)

// DefaultMaxLine bounds one log line. The longest AppArmor record is a few
// KiB (PATH_MAX names hex-encoded); anything longer is not a record.
const DefaultMaxLine = 64 << 10

// Options shape a Reader.
type Options struct {
	Name    string    // the input's name, for messages
	MaxLine int       // longer lines are skipped and counted; 0 = DefaultMaxLine
	Since   time.Time // events and loss signs before this are skipped (zero: no bound)
	Until   time.Time // … and after this
	Now     time.Time // reference for year-less syslog timestamps; zero = the system clock's now
	// Progress, when set, is called with the bytes read so far every
	// ProgressEvery bytes, for a progress line on a terminal.
	Progress func(read int64)
}

// ProgressEvery is how often Options.Progress is called.
const ProgressEvery = 64 << 20

// Stats describe what a Reader went through.
type Stats struct {
	Bytes     int64 `json:"bytes"`
	Lines     int64 `json:"lines"`
	Events    int64 `json:"events"`              // AppArmor events returned
	Malformed int64 `json:"malformed,omitempty"` // lines that looked like AppArmor records but did not parse
	Oversized int64 `json:"oversized,omitempty"` // lines over MaxLine, skipped
	Outside   int64 `json:"outside,omitempty"`   // events outside [Since, Until]
	Loss      Loss  `json:"loss"`
	// First is the earliest of the first line's time (any record, not only
	// AppArmor's) and every event's: how far back the input reaches, which
	// tells whether it covers a review's window.
	First time.Time `json:"first,omitzero"`
}

// Reader streams AppArmor events out of any of the supported log formats,
// one line at a time, in constant memory. Lines of different formats may be
// mixed in one input.
type Reader struct {
	br     *bufio.Reader
	opts   Options
	parser Parser
	stats  Stats
	err    error
	next   int64 // when to report progress next
	// held is a line read ahead to look for a continuation (see joinSplit);
	// it is returned by the next call of line.
	held, joined []byte
	hasHeld      bool
	ev           Event // reused: an event is valid until the next call of Next
}

var (
	needleOperation = []byte("operation=")
	needleAppArmor  = []byte("apparmor=")
)

// NewReader reads r.
func NewReader(r io.Reader, opts Options) *Reader {
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	if opts.Now.IsZero() {
		opts.Now = clock.System{}.Now()
	}
	return &Reader{
		br:     bufio.NewReaderSize(r, max(opts.MaxLine, 256<<10)),
		opts:   opts,
		parser: Parser{Now: opts.Now},
	}
}

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// Next returns the next AppArmor event, or io.EOF at the end of the input.
// The event is valid until the next call (the reader reuses it, which keeps
// a long log from allocating one per event); copy it to keep it.
func (r *Reader) Next() (*Event, error) {
	for r.err == nil {
		line, err := r.line()
		if err != nil {
			r.err = err
			break
		}
		if ev := r.handle(line); ev != nil {
			return ev, nil
		}
	}
	return nil, r.err
}

// line returns the next line without its newline, skipping oversized ones.
func (r *Reader) line() ([]byte, error) {
	if r.hasHeld {
		r.hasHeld = false
		return r.held, nil
	}
	for {
		line, err := r.br.ReadSlice('\n')
		r.stats.Bytes += int64(len(line))
		if r.opts.Progress != nil && r.stats.Bytes >= r.next {
			r.opts.Progress(r.stats.Bytes)
			r.next = r.stats.Bytes + ProgressEvery
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull) || len(line) > r.opts.MaxLine:
			r.stats.Oversized++
			r.stats.Lines++
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.br.ReadSlice('\n')
				r.stats.Bytes += int64(len(line))
			}
			if err != nil && err != io.EOF {
				return nil, r.wrap(err)
			}
			if err == io.EOF {
				return nil, io.EOF
			}
			continue
		case err == io.EOF:
			if len(line) == 0 {
				return nil, io.EOF
			}
			r.stats.Lines++
			if r.stats.First.IsZero() {
				r.stats.First = r.lineTime(line)
			}
			return line, nil
		case err != nil:
			return nil, r.wrap(err)
		}
		r.stats.Lines++
		line = line[:len(line)-1]
		if r.stats.First.IsZero() {
			r.stats.First = r.lineTime(line)
		}
		return line, nil
	}
}

// lineTime is the time a line was logged, when it says: an audit stamp, a
// syslog header or a journal entry's timestamp. dmesg's seconds since boot
// are not a time.
func (r *Reader) lineTime(line []byte) time.Time {
	if len(line) > 0 && line[0] == '{' {
		if _, t, ok := journalMessage(line); ok {
			return t
		}
		return time.Time{}
	}
	head := string(line[:min(len(line), 256)])
	if t, _, ok := r.parser.syslogHeader(head + " "); ok {
		return t
	}
	if i := strings.Index(head, "audit("); i >= 0 {
		var ev Event
		if _, ok := stamp(head[i:], &ev); ok {
			return time.Unix(ev.Epoch, int64(ev.Millis)*int64(time.Millisecond)).UTC()
		}
	}
	return time.Time{}
}

func (r *Reader) wrap(err error) error {
	if r.opts.Name == "" {
		return fmt.Errorf("reading log: %w", err)
	}
	return fmt.Errorf("reading log %s: %w", r.opts.Name, err)
}

// handle turns one line into an event, a loss count, or nothing.
func (r *Reader) handle(line []byte) *Event {
	// auditd's own lines say their record type up front: most of a busy
	// audit.log (SYSCALL, PATH, PROCTITLE…) is skipped without a scan, and
	// loss signs never appear there (they are kernel messages).
	if t, ok := auditdType(line); ok {
		if !appArmorType(t) {
			return nil
		}
		return r.event(line)
	}
	if bytes.Contains(line, needleOperation) || bytes.Contains(line, needleAppArmor) {
		return r.event(line)
	}
	if mayBeLoss(line) {
		msg, ts := line, time.Time{}
		if len(line) > 0 && line[0] == '{' {
			if m, t, ok := journalMessage(line); ok {
				msg, ts = m, t
			}
		} else if t, _, ok := r.parser.syslogHeader(string(line[:min(len(line), 64)]) + " "); ok {
			ts = t
		}
		if !ts.IsZero() && !r.inWindow(ts) {
			return nil
		}
		var l Loss
		if l.countLoss(msg) {
			l.Last = ts
			r.stats.Loss.Add(l)
		}
	}
	return nil
}

// joinSplit handles a USER_AVC whose msg='…' a relay split over two lines
// (libapparmor's testcase_dbus_09): when the quote is still open at the end
// of the line and the next line does not start a record of its own, the two
// are joined, within MaxLine.
func (r *Reader) joinSplit(line []byte) []byte {
	i := bytes.Index(line, []byte("msg='"))
	if i < 0 || bytes.IndexByte(line[i+5:], '\'') >= 0 {
		return line
	}
	r.joined = append(r.joined[:0], line...)
	next, err := r.line()
	if err != nil {
		return r.joined // EOF: the record stays cut short
	}
	if startsRecord(next) || len(r.joined)+1+len(next) > r.opts.MaxLine {
		r.held, r.hasHeld = append(r.held[:0], next...), true
		return r.joined
	}
	r.stats.Lines-- // two physical lines, one record
	r.joined = append(append(r.joined, ' '), next...)
	return r.joined
}

// startsRecord recognises the first line of a record in any supported format.
func startsRecord(line []byte) bool {
	if len(line) == 0 {
		return true
	}
	if _, ok := auditdType(line); ok || line[0] == '[' || line[0] == '{' || bytes.HasPrefix(line, []byte("audit")) {
		return true
	}
	return looksLikeTimestamp(string(line[:min(len(line), 5)]))
}

// event parses a line that may hold an AppArmor record.
func (r *Reader) event(line []byte) *Event {
	line = r.joinSplit(line)
	ev := &r.ev
	if len(line) > 0 && line[0] == '{' {
		var ok bool
		if *ev, ok = r.journalEvent(line); !ok {
			// a cut or corrupt journal entry holding an AppArmor record
			if bytes.Contains(line, needleAppArmor) {
				r.stats.Malformed++
			}
			return nil
		}
	} else {
		// line is the bufio buffer (or r.joined), which the next call
		// overwrites: exactly the event's documented lifetime.
		*ev = r.parser.parseView(line)
	}
	if ev.Kind == Invalid {
		// Only AppArmor's own records count as malformed; an SELinux
		// USER_AVC or a stray "operation=" is just not ours.
		if bytes.Contains(line, needleAppArmor) {
			r.stats.Malformed++
		}
		return nil
	}
	if !ev.Time.IsZero() && (r.stats.First.IsZero() || ev.Time.Before(r.stats.First)) {
		r.stats.First = ev.Time
	}
	if !r.inWindow(ev.Time) {
		r.stats.Outside++
		return nil
	}
	r.stats.Events++
	return ev
}

// auditdType returns the record type of an auditd line ("type=AVC msg=…",
// optionally after "node=HOST ").
func auditdType(line []byte) ([]byte, bool) {
	if bytes.HasPrefix(line, prefixNode) {
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 {
			return nil, false
		}
		line = line[sp+1:]
	}
	if !bytes.HasPrefix(line, prefixType) {
		return nil, false
	}
	return line[len(prefixType):], true
}

var (
	prefixNode = []byte("node=")
	prefixType = []byte("type=")
	aaTypes    = [][]byte{[]byte("AVC "), []byte("USER_AVC "), []byte("1400 "), []byte("1107 "),
		[]byte("APPARMOR"), []byte("UNKNOWN[150"), []byte("150")}
)

// appArmorType reports the record types AppArmor writes. Nine lines in ten
// of a busy audit.log are other types: the first byte rules most out.
func appArmorType(t []byte) bool {
	if len(t) == 0 {
		return false
	}
	switch t[0] {
	case 'A', 'U', '1':
	default:
		return false
	}
	for _, p := range aaTypes {
		if bytes.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// inWindow keeps events without a time (dmesg without stamps): dropping them
// would hide activity.
func (r *Reader) inWindow(t time.Time) bool {
	if t.IsZero() {
		return true
	}
	if !r.opts.Since.IsZero() && t.Before(r.opts.Since) {
		return false
	}
	if !r.opts.Until.IsZero() && t.After(r.opts.Until) {
		return false
	}
	return true
}
