package report

import (
	"fmt"
	"io"
	"strings"
)

// Format is an output format name as given to --format.
type Format string

const (
	Text     Format = "text"
	JSON     Format = "json"
	SARIF    Format = "sarif"
	JUnit    Format = "junit"
	Markdown Format = "markdown"
)

// Formats lists every format in the order --help shows them.
var Formats = []Format{Text, JSON, SARIF, JUnit, Markdown}

// Results are the formats of a command whose result is not an audit: text
// for people, json for programs.
var Results = []Format{Text, JSON}

// ParseFormat accepts a --format value.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if strings.EqualFold(s, string(f)) {
			return f, nil
		}
	}
	if strings.EqualFold(s, "md") {
		return Markdown, nil
	}
	return "", fmt.Errorf("unknown format %q (want one of %s)", s, Join(Formats))
}

// Join lists formats for a message: "text, json or sarif".
func Join(fs []Format) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Options tune the renderers.
type Options struct {
	// Color is ANSI colour in text output: only on a terminal and without
	// NO_COLOR.
	Color bool
	// Width is the number of columns text output fits (0: 100).
	Width int
	// Version is ctsec's version, for SARIF's tool.driver.version.
	Version string
}

// LineWidth is the width text fits: Width, or 100 when unset.
func (o Options) LineWidth() int {
	if o.Width <= 0 {
		return 100
	}
	return o.Width
}

// Render writes r to w in format f.
func Render(w io.Writer, r Report, f Format, o Options) error {
	switch f {
	case Text, "":
		if r.Text != nil {
			return r.Text(w, o)
		}
		return WriteText(w, r, o)
	case JSON:
		return renderJSON(w, r)
	case SARIF:
		return renderSARIF(w, r, o)
	case JUnit:
		return renderJUnit(w, r)
	case Markdown:
		if r.Markdown != nil {
			return r.Markdown(w, o)
		}
		return renderMarkdown(w, r)
	}
	return fmt.Errorf("unknown format %q", f)
}
