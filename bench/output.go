package bench

import (
	"fmt"
	"io"
	"strings"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/term"
)

// Benchmark names the benchmark version the checks follow.
const Benchmark = "CIS Docker Benchmark v1.6.0"

// Data is the bench result carried in report.Data: every check's result
// (passed, manual and skipped ones too, which findings leave out) and the score.
type Data struct {
	Benchmark  string   `json:"benchmark"`
	Engine     string   `json:"engine"`
	Version    string   `json:"engine_version"`
	APIVersion string   `json:"api_version"`
	Containers int      `json:"containers"`
	Images     int      `json:"images"`
	Score      Score    `json:"score"`
	Results    []Result `json:"results"`
	Notes      []string `json:"notes,omitempty"`
}

// NewData summarises a run.
func NewData(s *Snapshot, results []Result, score Score) Data {
	if results == nil {
		results = []Result{}
	}
	return Data{Benchmark: Benchmark, Engine: s.Engine.Host, Version: s.Engine.Version, APIVersion: s.Engine.APIVersion,
		Containers: len(s.Containers), Images: len(s.Images), Score: score, Results: results, Notes: s.Notes}
}

// Report builds the report for the shared renderers: findings for the
// failed checks, every check run with its status, and the rules of those
// checks for SARIF.
func Report(d Data) report.Report {
	r := report.New("bench", Findings(d.Results), d)
	r.Checks = ReportChecks(d.Results)
	ran := map[string]bool{}
	for _, c := range r.Checks {
		ran[c.Rule] = true
	}
	for _, rule := range Rules() {
		if ran[rule.ID] {
			r.Rules = append(r.Rules, rule)
		}
	}
	return r
}

var statusColor = map[string]string{"PASS": term.Green, "FAIL": term.Red, "MANUAL": term.Yellow, "SKIP": term.Dim}

// WriteText writes the text report fitted to o's width: one row per check
// under its section (status, id, title and what ctsec saw, wrapped), the
// offending objects under each failed or manual check, then the score.
func WriteText(w io.Writer, d Data, o report.Options) error {
	t := term.NewTable(w, o.LineWidth())
	if o.Color {
		t.Style(0, func(c string) string { return statusColor[c] })
	}
	section := ""
	for _, r := range d.Results {
		if top := strings.SplitN(r.ID, ".", 2)[0]; top != section {
			section = top
			t.Line(sectionNames[top])
		}
		detail := r.Detail
		if r.Status == Fail && len(r.Items) > 1 && detail != "" {
			detail = fmt.Sprintf("%d %s", len(r.Items), detail)
		}
		text := r.Title
		if detail != "" {
			text += ": " + detail
		}
		t.Row(strings.ToUpper(string(r.Status)), r.ID, text)
		if r.Status == Fail || r.Status == Manual {
			for _, it := range r.Items {
				t.Row("", "", "- "+it.Target+": "+it.Detail)
			}
		}
	}
	if err := t.Flush(); err != nil {
		return err
	}
	for _, n := range d.Notes {
		for _, l := range term.Wrap("note: "+term.Line(n), o.LineWidth()) {
			fmt.Fprintln(w, l)
		}
	}
	sc := d.Score
	line := fmt.Sprintf("Score: %d%% (%d passed, %d failed; %d manual, %d skipped) — %s, engine %s (API %s) at %s, %d containers, %d images",
		sc.Percent, sc.Passed, sc.Failed, sc.Manual, sc.Skipped, d.Benchmark, term.Line(d.Version), term.Line(d.APIVersion), term.Line(d.Engine), d.Containers, d.Images)
	fmt.Fprintln(w)
	for _, l := range term.Wrap(line, o.LineWidth()) {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}

var sectionNames = map[string]string{
	"1": "1 Host configuration",
	"2": "2 Docker daemon configuration",
	"3": "3 Docker daemon configuration files",
	"4": "4 Container images and build files",
	"5": "5 Container runtime",
	"6": "6 Docker security operations",
	"7": "7 Docker swarm configuration",
}
