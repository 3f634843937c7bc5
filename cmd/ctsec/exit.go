package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/ctsec/ctsec/internal/term"
)

// Exit codes are a contract (DESIGN.md): 0 done, 1 findings at or above
// --fail-on or a failed validation, 2 the job could not be done.
const (
	exitOK       = 0
	exitFindings = 1
	exitError    = 2
	// exitInterrupted is the shell's code for a command ended by SIGINT.
	exitInterrupted = 130
)

// exitErr carries an exit code through cobra. A nil err means the command
// already said everything (findings were printed) and only the code matters.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitErr) Unwrap() error { return e.err }

// errFindingsReached is returned when the report reached --fail-on.
var errFindingsReached = &exitErr{code: exitFindings}

// failed is a validation or check that ran and said no: exit 1 with a message.
func failed(format string, args ...any) error {
	return &exitErr{code: exitFindings, err: fmt.Errorf(format, args...)}
}

// failedErr is failed for an error that already says it all: exit 1, the
// error kept whole (errors.Is/As still see its cause).
func failedErr(err error) error {
	if err == nil {
		return nil
	}
	return &exitErr{code: exitFindings, err: err}
}

// exitCode maps an error to the process exit code and prints it as one line.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	code := exitError
	var e *exitErr
	if errors.As(err, &e) {
		code = e.code
		if e.err == nil {
			return code
		}
	}
	// One line, as the contract promises, even when a wrapped tool printed
	// several; and nothing from a file or a tool can drive the terminal.
	fmt.Fprintf(stderr, "ctsec: %s\n", term.Line(err.Error()))
	return code
}
