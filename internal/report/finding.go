// Package report is the one findings model every ctsec audit returns, and the
// renderers that turn it into text, JSON, SARIF, JUnit or Markdown.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Severity orders findings; the zero value is Info.
type Severity int

const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
	// None is only a threshold: nothing reaches it, so --fail-on none never fails.
	None
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical", "none"}

func (s Severity) String() string {
	if s < Info || s > None {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity accepts the lower-case names used on the command line and in JSON.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want one of %s)", s, strings.Join(severityNames[:], ", "))
}

func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Finding is one observation. Its location has one model across areas:
// File/Line/Column place it in a file when there is one (the input audited,
// or the host file a value comes from); Path is a JSON/YAML path inside that
// file; Target names what was inspected — a container, a loaded profile, a
// host setting — and never carries a file position.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Target   string   `json:"target,omitempty"`
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	Column   int      `json:"column,omitempty"`
	Path     string   `json:"path,omitempty"`
	Fix      string   `json:"fix,omitempty"`
}

// Where is the "file:line:col" (or target) prefix people read first.
func (f Finding) Where() string {
	switch {
	case f.File != "" && f.Line > 0 && f.Column > 0:
		return fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Column)
	case f.File != "" && f.Line > 0:
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	case f.File != "":
		return f.File
	default:
		return f.Target
	}
}

// Report is what every command emits: always one object with the same
// fields, so programs can rely on `.findings` and `.data` whatever produced
// it. Findings are what an audit found; Data is the command's own result (a
// score, a diff, a plan, the files it wrote), null when it has none.
type Report struct {
	Tool     string    `json:"tool"`
	Command  string    `json:"command"`
	Findings []Finding `json:"findings"`
	Summary  Summary   `json:"summary"`
	Data     any       `json:"data"`

	// Rules are the rules the command evaluated: SARIF's rule metadata and,
	// when there are no Checks, the checks of JUnit and Markdown (a rule
	// without findings passed).
	Rules Rules `json:"-"`
	// Checks are the command's checks with their status when it runs a
	// fixed set of them (bench, doctor): passed and skipped ones too.
	Checks []Check `json:"-"`
	// Text renders the report for people when the command has its own view
	// (a diff, a plan, a status); nil prints the findings.
	Text func(w io.Writer, o Options) error `json:"-"`
	// Markdown renders it as Markdown when the command has its own
	// document (the weekly review); nil is the generic one.
	Markdown func(w io.Writer, o Options) error `json:"-"`
}

// Summary counts findings per severity.
type Summary struct {
	Total    int `json:"total"`
	Critical int `json:"critical"`
	High     int `json:"high"`
	Medium   int `json:"medium"`
	Low      int `json:"low"`
	Info     int `json:"info"`
}

// New makes a report with its summary computed and findings in the order
// people read them: most severe first, then by location (file, line, column,
// target), then rule.
func New(command string, findings []Finding, data any) Report {
	fs := append([]Finding(nil), findings...)
	Sort(fs)
	if fs == nil {
		fs = []Finding{}
	}
	return Report{Tool: "ctsec", Command: command, Findings: fs, Summary: summarize(fs), Data: data}
}

// Sort orders findings most severe first, then by location and rule.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		return a.Rule < b.Rule
	})
}

func summarize(fs []Finding) Summary {
	s := Summary{Total: len(fs)}
	for _, f := range fs {
		switch f.Severity {
		case Critical:
			s.Critical++
		case High:
			s.High++
		case Medium:
			s.Medium++
		case Low:
			s.Low++
		default:
			s.Info++
		}
	}
	return s
}

// Reaches reports whether any finding is at or above the threshold, which is
// what decides exit code 1.
func (r Report) Reaches(threshold Severity) bool {
	for _, f := range r.Findings {
		if f.Severity >= threshold {
			return true
		}
	}
	return false
}

// MarshalJSON keeps an empty findings list as [] rather than null.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	return json.Marshal(plain(r))
}

// countFindings is "1 finding" or "N findings".
func countFindings(n int) string {
	if n == 1 {
		return "1 finding"
	}
	return fmt.Sprintf("%d findings", n)
}

// FileMode is a file's permission bits as JSON shows them: the octal string
// people write ("0644"), not the decimal number fs.FileMode marshals to.
type FileMode fs.FileMode

func (m FileMode) MarshalText() ([]byte, error) {
	return []byte(m.String()), nil
}

func (m *FileMode) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 8, 32)
	if err != nil || v > 0o777 {
		return fmt.Errorf("file mode %q: want an octal number such as 0644", b)
	}
	*m = FileMode(v)
	return nil
}

func (m FileMode) String() string { return fmt.Sprintf("%04o", uint32(fs.FileMode(m).Perm())) }
