package apparmor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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
// DefaultLogs that exists under root together with its rotated files that
// hold part of the window (audit.log.1, kern.log.2.gz, …): a week of events
// is rarely in one file. The returned close function releases everything
// (and reports journalctl's failure).
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
	var reaches time.Time
	if len(logs) == 0 && !journal {
		for _, l := range DefaultLogs {
			p := filepath.Join(root, l)
			if _, err := os.Stat(p); err == nil {
				var older []string
				older, reaches = RotatedLogs(p, since)
				logs = append([]string{p}, older...)
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
	if len(inputs) > 0 {
		inputs[len(inputs)-1].Reaches = reaches
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
		in := Input{Name: "journal", Reader: rc}
		if !since.IsZero() {
			// journalctl starts at --since, so its first entry cannot show
			// how far back the journal goes: the last entry before it can.
			if t, err := auditlog.JournalBefore(ctx, journalDir, since); err == nil {
				in.Reaches = t
			}
		}
		inputs = append(inputs, in)
	}
	return inputs, closeAll, nil
}

// RotatedLogs lists the rotated files of a log that may hold events after
// since, newest first: PATH.1, PATH.2.gz, … (logrotate, auditd's num_logs)
// and PATH-YYYYMMDD[.gz] (logrotate's dateext). A rotated file last written
// before since holds nothing of the window and is not read; its time is
// returned as how far back the logs reach (zero: no such file).
func RotatedLogs(path string, since time.Time) ([]string, time.Time) {
	dir, base := filepath.Split(path)
	entries, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return nil, time.Time{}
	}
	type rotated struct {
		path  string
		mtime time.Time
	}
	var found []rotated
	for _, e := range entries {
		suffix, ok := strings.CutPrefix(e.Name(), base)
		if !ok || !e.Type().IsRegular() || !rotationSuffix(suffix) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		found = append(found, rotated{filepath.Join(dir, e.Name()), info.ModTime()})
	}
	slices.SortFunc(found, func(a, b rotated) int { return b.mtime.Compare(a.mtime) })
	var out []string
	for _, r := range found {
		if !since.IsZero() && r.mtime.Before(since) {
			return out, r.mtime
		}
		out = append(out, r.path)
	}
	return out, time.Time{}
}

// rotationSuffix accepts ".N", ".N.gz", "-YYYYMMDD" and "-YYYYMMDD.gz".
func rotationSuffix(s string) bool {
	s = strings.TrimSuffix(s, ".gz")
	if n, ok := strings.CutPrefix(s, "."); ok {
		return isDigits(n) && len(n) <= 4
	}
	if d, ok := strings.CutPrefix(s, "-"); ok {
		return isDigits(d) && (len(d) == 8 || len(d) == 10)
	}
	return false
}
