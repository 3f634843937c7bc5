package main

import (
	"io"
	"os"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"golang.org/x/term"
)

// app is what every command shares: where output goes and how it is shaped.
// It is built per run, not global, so tests can run commands side by side.
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

	formatName string
	failOnName string
	colorMode  string

	format report.Format
	failOn report.Severity
}

// store is the backup store under dir, dated by the run's clock.
func (a *app) store(dir string) *safefile.Store { return &safefile.Store{Dir: dir, Clock: a.clock} }

// color decides whether people-facing output gets ANSI colour: only on a
// terminal, never with NO_COLOR set, unless forced with --color always.
func (a *app) color() bool {
	switch a.colorMode {
	case "always":
		return true
	case "never":
		return false
	}
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	return isTerminal(a.stdout)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// emit renders a report in the chosen format and turns a reached threshold
// into exit code 1.
func (a *app) emit(r report.Report) error {
	if err := report.Render(a.stdout, r, a.format, report.Options{Color: a.color()}); err != nil {
		return err
	}
	if r.Reaches(a.failOn) {
		return errFindingsReached
	}
	return nil
}

// jsonOutput says whether the user asked for machine output, for commands
// whose result is not a findings list (version, doctor, diff).
func (a *app) jsonOutput() bool { return a.format == report.JSON }
