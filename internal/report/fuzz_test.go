package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/ctsec/ctsec/internal/term"
)

// FuzzRender: a finding made of untrusted text (a log line, a compose
// key, an API answer) renders in every format without breaking it: JSON
// and SARIF parse back to the same message, JUnit is well-formed XML,
// Markdown rows keep their cells, text fits the width with no control
// character.
func FuzzRender(f *testing.F) {
	f.Add("service web: privileged | <b>", "compose.yaml", "fix `it`\n", "container\x1b[2J", 12)
	f.Add("\u202eevil\r\nline", "/etc/a b.conf", "", "", 0)
	f.Fuzz(func(t *testing.T, msg, file, fix, target string, line int) {
		fd := Finding{Rule: "test/one", Severity: High, Message: msg, File: file, Line: line % 1000, Fix: fix, Target: target}
		if fd.Line < 0 {
			fd.Line = -fd.Line
		}
		r := New("fuzz", []Finding{fd}, nil)
		r.Rules = sampleRules
		for _, format := range Formats {
			var b bytes.Buffer
			if err := Render(&b, r, format, Options{Width: 60}); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			out := b.String()
			switch format {
			case JSON:
				var raw struct{ Findings []Finding }
				if err := json.Unmarshal(b.Bytes(), &raw); err != nil || len(raw.Findings) != 1 {
					t.Fatalf("json: %v\n%s", err, out)
				}
				if utf8.ValidString(msg) && msg != raw.Findings[0].Message {
					t.Errorf("json message %q, want %q", raw.Findings[0].Message, msg)
				}
			case SARIF:
				var log sarifLog
				if err := json.Unmarshal(b.Bytes(), &log); err != nil || len(log.Runs[0].Results) != 1 {
					t.Fatalf("sarif: %v\n%s", err, out)
				}
			case JUnit:
				var s junitSuites
				if err := xml.Unmarshal(b.Bytes(), &s); err != nil {
					// encoding/xml refuses characters XML 1.0 cannot hold;
					// it writes them escaped as U+FFFD, so this is ours.
					t.Fatalf("junit: %v\n%s", err, out)
				}
			case Markdown:
				for _, l := range strings.Split(out, "\n") {
					if strings.HasPrefix(l, "| high |") && strings.Count(strings.ReplaceAll(l, `\|`, ""), "|") != 6 {
						t.Errorf("markdown row broken: %q", l)
					}
				}
			case Text:
				for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
					if term.Len(l) > 60 {
						t.Errorf("text line of %d: %q", term.Len(l), l)
					}
					if strings.IndexFunc(l, unicode.IsControl) >= 0 {
						t.Errorf("control character in %q", l)
					}
				}
			}
		}
	})
}
