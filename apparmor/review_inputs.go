package apparmor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ctsec/ctsec/apparmor/auditlog"
	"github.com/ctsec/ctsec/internal/execx"
)

// DefaultLogs are the files read when no log is named, in order of
// preference: with auditd running AppArmor events go only to audit.log.
var DefaultLogs = []string{"var/log/audit/audit.log", "var/log/kern.log", "var/log/syslog", "var/log/messages"}

// ParseSince reads a window start: a duration back from now ("7d", "36h",
// "90m") or an RFC 3339 time or date.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (7d, 36h) nor a date (2026-11-18, RFC 3339)", s)
}

// OpenLogs opens the inputs of a review: the named files ("-" is stdin;
// gzip-compressed files are read through, binary ones refused),
// the journal through journalctl, or — when neither is given — the first of
// DefaultLogs that exists under root. The returned close function releases
// everything (and reports journalctl's failure).
//
// journalDir selects a journal directory; under a root other than / the
// default is ROOT/var/log/journal, so an image's journal is read, not this
// host's.
func OpenLogs(ctx context.Context, root string, logs []string, journal bool, journalDir string, stdin io.Reader, since, until time.Time) ([]Input, func() error, error) {
	var inputs []Input
	var closers []io.Closer
	closeAll := func() error {
		var errs []error
		for _, c := range closers {
			errs = append(errs, c.Close())
		}
		return errors.Join(errs...)
	}
	if len(logs) == 0 && !journal {
		for _, l := range DefaultLogs {
			p := filepath.Join(root, l)
			if _, err := os.Stat(p); err == nil {
				logs = []string{p}
				break
			}
		}
		if len(logs) == 0 {
			if _, err := execx.LookPath("journalctl"); err != nil {
				return nil, nil, fmt.Errorf("no log to read: none of %s exists under %s and journalctl is not installed; name one with --log", strings.Join(DefaultLogs, ", "), root)
			}
			journal = true
		}
	}
	for _, l := range logs {
		if l == "-" {
			in, err := auditlog.Decode("stdin", stdin)
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			inputs = append(inputs, Input{Name: "stdin", Reader: in})
			continue
		}
		f, err := os.Open(l)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("opening log: %w", err)
		}
		if st, err := f.Stat(); err == nil && st.IsDir() {
			f.Close()
			closeAll()
			return nil, nil, fmt.Errorf("opening log %s: is a directory", l)
		}
		closers = append(closers, f)
		in, err := auditlog.Decode(l, f)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		inputs = append(inputs, Input{Name: l, Reader: in})
	}
	if journal {
		if journalDir == "" && filepath.Clean(root) != "/" {
			journalDir = filepath.Join(root, "var/log/journal")
		}
		rc, err := auditlog.Journal(ctx, journalDir, since, until)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("reading the journal: %w", err)
		}
		closers = append(closers, rc)
		inputs = append(inputs, Input{Name: "journal", Reader: rc})
	}
	return inputs, closeAll, nil
}
