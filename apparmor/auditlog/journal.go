package auditlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"time"

	"github.com/ctsec/ctsec/internal/execx"
)

// journalEntry is the part of a `journalctl -o json` entry we use.
type journalEntry struct {
	Message    json.RawMessage `json:"MESSAGE"`
	Transport  string          `json:"_TRANSPORT"`
	Realtime   string          `json:"__REALTIME_TIMESTAMP"`
	SourceTime string          `json:"_SOURCE_REALTIME_TIMESTAMP"`
	AuditID    string          `json:"_AUDIT_ID"`
}

// message decodes MESSAGE, which journald writes as a string, or as an array
// of bytes when it is not valid UTF-8.
func (j *journalEntry) message() ([]byte, bool) {
	var s string
	if err := json.Unmarshal(j.Message, &s); err == nil {
		return []byte(s), true
	}
	var bs []byte
	var ints []int
	if err := json.Unmarshal(j.Message, &ints); err != nil {
		return nil, false
	}
	for _, n := range ints {
		bs = append(bs, byte(n))
	}
	return bs, true
}

func (j *journalEntry) time() time.Time {
	for _, v := range []string{j.SourceTime, j.Realtime} {
		if us, err := strconv.ParseInt(v, 10, 64); err == nil && us > 0 {
			return time.UnixMicro(us).UTC()
		}
	}
	return time.Time{}
}

func journalMessage(line []byte) ([]byte, time.Time, bool) {
	var j journalEntry
	if json.Unmarshal(line, &j) != nil {
		return nil, time.Time{}, false
	}
	msg, ok := j.message()
	return msg, j.time(), ok
}

// journalEvent parses one journal entry. Kernel-transport messages carry the
// audit stamp in the text; audit-transport ones ("AVC apparmor=…") carry it
// in _AUDIT_ID and _SOURCE_REALTIME_TIMESTAMP, which is what lets the same
// event read through both transports be recognised as one.
func (r *Reader) journalEvent(line []byte) (Event, bool) {
	var j journalEntry
	if json.Unmarshal(line, &j) != nil {
		return Event{}, false
	}
	msg, ok := j.message()
	if !ok || len(msg) > r.opts.MaxLine {
		return Event{}, false
	}
	ev := r.parser.Parse(msg)
	t := j.time()
	if ev.Serial == 0 && j.AuditID != "" {
		if serial, err := strconv.ParseUint(j.AuditID, 10, 64); err == nil && !t.IsZero() {
			ev.Serial = serial
			ev.Epoch = t.Unix()
			ev.Millis = t.Nanosecond() / int(time.Millisecond)
		}
	}
	if ev.Time.IsZero() {
		ev.Time = t
	}
	ev.Transport = "journal"
	return ev, true
}

// Journal runs `journalctl -o json` over the window and returns its output
// as it comes, for reading the journal directly instead of exported files.
// dir, when set, is a journal directory (journalctl -D: another host's, or a
// mounted image's /var/log/journal). Close waits for the process and reports
// its failure. It needs journalctl (Debian package systemd).
func Journal(ctx context.Context, dir string, since, until time.Time) (io.ReadCloser, error) {
	path, err := execx.LookPath("journalctl")
	if err != nil {
		return nil, err
	}
	args := []string{"-o", "json", "--no-pager", "--quiet"}
	if dir != "" {
		args = append(args, "-D", dir)
	}
	if !since.IsZero() {
		args = append(args, "--since", "@"+strconv.FormatInt(since.Unix(), 10))
	}
	if !until.IsZero() {
		args = append(args, "--until", "@"+strconv.FormatInt(until.Unix(), 10))
	}
	cmd := exec.CommandContext(ctx, path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running journalctl: %w", err)
	}
	return &journalProc{ReadCloser: out, cmd: cmd, stderr: &stderr}, nil
}

type journalProc struct {
	io.ReadCloser
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

func (p *journalProc) Close() error {
	p.ReadCloser.Close()
	if err := p.cmd.Wait(); err != nil {
		return fmt.Errorf("journalctl: %w: %s", err, execx.FirstLine(p.stderr.Bytes()))
	}
	return nil
}

// JournalBefore returns the time of the journal's last entry before t, or
// an error when there is none: whether the journal reaches back to t.
func JournalBefore(ctx context.Context, dir string, t time.Time) (time.Time, error) {
	path, err := execx.LookPath("journalctl")
	if err != nil {
		return time.Time{}, err
	}
	args := []string{"-o", "json", "--no-pager", "--quiet", "-n", "1", "--until", "@" + strconv.FormatInt(t.Unix(), 10)}
	if dir != "" {
		args = append(args, "-D", dir)
	}
	out, err := exec.CommandContext(ctx, path, args...).Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("running journalctl: %w", err)
	}
	var j journalEntry
	line, _, _ := bytes.Cut(bytes.TrimSpace(out), []byte("\n"))
	if len(line) == 0 || json.Unmarshal(line, &j) != nil || j.time().IsZero() {
		return time.Time{}, fmt.Errorf("no journal entry before %s", t.UTC().Format(time.RFC3339))
	}
	return j.time(), nil
}
