package main

import (
	"io"
	"sync"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/spf13/cobra"
)

// app is what every command shares: the streams, the clock, how output is
// shaped. It is built per run, not global, so tests can run commands side
// by side; a command's run function gets it beside its options.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// clock is where every command reads the time: the system clock in the
	// binary, a pinned one in tests.
	clock clock.Clock
	// exit ends the process after an interrupt (os.Exit in the binary; nil
	// in tests, where nothing is interrupted).
	exit      func(int)
	interrupt interrupt
	// lookupEnv reads COLUMNS and NO_COLOR (os.LookupEnv in the binary; in
	// tests nothing unless a test sets it), so output is shaped the same
	// wherever the tests run.
	lookupEnv func(string) (string, bool)

	formatName string
	failOnName string
	colorMode  string

	format report.Format
	failOn report.Severity
	// rendered, when set, sees every report a command renders (tests check
	// its JSON against the schema of its data's Go type).
	rendered func(report.Report)
	// cmd is the command running, for next commands printed for people
	// (nextCommand repeats the flags it was given); nil when a test calls
	// a run function directly.
	cmd *cobra.Command
	// tree is the whole command tree when runApp built only cmd's branch
	// (fullTree).
	tree *cobra.Command

	// notes are one-line notices for stderr gathered while flags are parsed
	// (a deprecated flag name); printed once, before the command runs.
	notesMu sync.Mutex
	notes   []string

	// carried is the report whose fixes carry the flags already.
	carried *report.Report
}

func (a *app) getenv(k string) string {
	if a.lookupEnv == nil {
		return ""
	}
	v, _ := a.lookupEnv(k)
	return v
}

// store is the backup store under dir, dated by the run's clock.
func (a *app) store(dir string) *safefile.Store { return &safefile.Store{Dir: dir, Clock: a.clock} }

// color decides whether people-facing output gets ANSI colour: only on a
// terminal, never with NO_COLOR set, unless forced with --color always.
func (a *app) color() bool { return term.Color(a.colorMode, a.stdout, a.lookupEnv) }

// width is the number of columns text output fits: COLUMNS, the terminal's
// width, or 100 when stdout is not a terminal.
func (a *app) width() int { return term.Width(a.stdout, a.getenv) }

// options are the renderers' options for this run.
func (a *app) options() report.Options {
	return report.Options{Color: a.color(), Width: a.width(), Version: buildVersion().Version}
}

// progress reports whether long work may draw a progress line on stderr.
func (a *app) progress() bool { return term.IsTerminal(a.stderr) }

// note queues a one-line notice for stderr.
func (a *app) note(s string) {
	a.notesMu.Lock()
	defer a.notesMu.Unlock()
	for _, n := range a.notes {
		if n == s {
			return
		}
	}
	a.notes = append(a.notes, s)
}

// render writes a report in the chosen format.
func (a *app) render(r report.Report) error {
	if a.rendered != nil {
		a.rendered(r)
	}
	return report.Render(a.stdout, r, a.format, a.options())
}

// finish is how every command ends: the report it returned is rendered in
// the chosen format, then the command's own error decides the exit, else,
// for an audit, findings at or above --fail-on make it 1. A command that
// changes things reports what it left alone as findings (warnings) but
// succeeds when it did its job: its failures are errors. A nil report
// prints nothing (the command failed before it had one).
func (a *app) finish(r *report.Report, err error) error {
	if r != nil {
		a.carryFixes(r)
		if rerr := a.render(*r); rerr != nil && err == nil {
			return rerr
		}
		if err == nil && isAudit(a.cmd) && r.Reaches(a.failOn) {
			return errFindingsReached
		}
	}
	return err
}

// carryFixes makes the commands in findings' fixes repeat the flags that
// say where the work happened, once per report (a command that also keeps
// the report in a file does it before writing that).
func (a *app) carryFixes(r *report.Report) {
	if a.carried == r {
		return
	}
	a.carried = r
	for i := range r.Findings {
		r.Findings[i].Fix = a.carryFlags(r.Findings[i].Fix)
	}
}

// jsonOutput says whether the user asked for machine output.
func (a *app) jsonOutput() bool { return a.format == report.JSON }
