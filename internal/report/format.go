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
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown format %q (want one of %s)", s, strings.Join(names, ", "))
}

// Options tune the renderers that need them.
type Options struct {
	Color bool // ANSI colour in text output; only on a terminal and without NO_COLOR
}

// Render writes r to w in format f.
func Render(w io.Writer, r Report, f Format, o Options) error {
	switch f {
	case Text, "":
		return renderText(w, r, o)
	case JSON:
		return renderJSON(w, r)
	case SARIF:
		return renderSARIF(w, r)
	case JUnit:
		return renderJUnit(w, r)
	case Markdown:
		return renderMarkdown(w, r)
	}
	return fmt.Errorf("unknown format %q", f)
}
