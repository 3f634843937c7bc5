package apparmor

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/report"
)

// Finding rule ids of validate.
const (
	RuleSyntax           = "apparmor/syntax"
	RuleMultipleProfiles = "apparmor/multiple-profiles"
	RuleParser           = "apparmor/parser"
	RuleParserMissing    = "apparmor/parser-missing"
)

// ValidateOptions tune Validate.
type ValidateOptions struct {
	// AllowMultiple accepts files that define several profiles.
	AllowMultiple bool
	// SkipParser runs the structural checks only.
	SkipParser bool
	Checker    Checker
}

// Validate checks one profile file: first structurally with ctsec's own
// parser (one profile per file, balanced braces, every rule terminated,
// known permission letters, flags and rule keywords), then, when the
// structure is sound, with `apparmor_parser -QK` against the pinned feature
// ABI. Problems are findings located at file:line; the error is for a
// parser that could not run at all.
func Validate(ctx context.Context, file string, data []byte, o ValidateOptions) ([]report.Finding, error) {
	var findings []report.Finding
	profiles, err := Parse(file, bytes.NewReader(data))
	var se *SyntaxError
	switch {
	case errors.As(err, &se):
		return []report.Finding{{Rule: RuleSyntax, Severity: report.High, File: file, Line: se.Line, Column: se.Col,
			Message: se.Msg, Fix: "see apparmor.d(5); ctsec apparmor validate re-checks after editing"}}, nil
	case err != nil:
		return nil, err
	}
	if len(profiles) > 1 && !o.AllowMultiple {
		names := make([]string, len(profiles))
		for i, p := range profiles {
			names[i] = p.Name
		}
		findings = append(findings, report.Finding{Rule: RuleMultipleProfiles, Severity: report.High, File: file, Line: 1,
			Message: fmt.Sprintf("%d profiles in one file (%q): ctsec keeps one profile per file so each can be loaded, replaced and rolled back alone", len(profiles), names),
			Fix:     "split the file, or pass --allow-multiple"})
	}
	for _, p := range profiles {
		if err := p.validateBody(); err != nil {
			findings = append(findings, report.Finding{Rule: RuleSyntax, Severity: report.High, File: file,
				Target: p.Name, Message: err.Error()})
		}
	}
	if o.SkipParser || len(findings) > 0 {
		return findings, nil
	}
	problems, err := o.Checker.Check(ctx, data)
	var nf *execx.NotFoundError
	if errors.As(err, &nf) {
		return append(findings, report.Finding{Rule: RuleParserMissing, Severity: report.Low, File: file,
			Message: "only structural checks ran: " + nf.Error()}), nil
	}
	if err != nil {
		return nil, fmt.Errorf("validating %s: %w", file, err)
	}
	for _, pe := range problems {
		findings = append(findings, report.Finding{Rule: RuleParser, Severity: report.High, File: file, Line: pe.Line,
			Message: "apparmor_parser: " + pe.Message})
	}
	return findings, nil
}

// Checked renders a profile ctsec is about to write and validates the text
// exactly as `ctsec apparmor validate` would (ctsec's parser, then
// apparmor_parser -QK against the pinned ABI): the one check every writer —
// gen, profile gen, compose — goes through, so none can write a profile the
// kernel refuses. A high finding is an *InvalidProfileError; lower ones come
// back as notes.
func Checked(ctx context.Context, file string, p *Profile, o ValidateOptions) ([]byte, []report.Finding, error) {
	data, err := p.Bytes()
	if err != nil {
		return nil, nil, err
	}
	findings, err := Validate(ctx, file, data, o)
	if err != nil {
		return nil, nil, err
	}
	var notes []report.Finding
	for _, f := range findings {
		if f.Severity >= report.High {
			return nil, nil, &InvalidProfileError{Finding: f}
		}
		notes = append(notes, f)
	}
	return data, notes, nil
}

// InvalidProfileError says a generated profile failed validation; nothing
// was written.
type InvalidProfileError struct{ Finding report.Finding }

func (e *InvalidProfileError) Error() string {
	return fmt.Sprintf("generated AppArmor profile is invalid: %s: %s", e.Finding.Where(), e.Finding.Message)
}
