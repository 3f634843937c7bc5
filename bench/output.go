package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ctsec/ctsec/internal/report"
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

// Report builds the findings report for the shared renderers.
func Report(d Data) report.Report {
	return report.New("bench", Findings(d.Results), d)
}

var statusColor = map[Status]string{Pass: "\x1b[32m", Fail: "\x1b[31m", Manual: "\x1b[33m", Skip: "\x1b[2m"}

// WriteText writes the aligned text report: one line per check, the
// offending objects under each failed or manual check, then the score.
func WriteText(w io.Writer, d Data, color bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	section := ""
	for _, r := range d.Results {
		if top := strings.SplitN(r.ID, ".", 2)[0]; top != section {
			section = top
			fmt.Fprintf(tw, "\t\t%s\t\n", sectionNames[top])
		}
		st := strings.ToUpper(string(r.Status))
		if color {
			st = statusColor[r.Status] + fmt.Sprintf("%-6s", st) + "\x1b[0m"
		}
		detail := r.Detail
		if r.Status == Fail && len(r.Items) > 1 && detail != "" {
			detail = fmt.Sprintf("%d %s", len(r.Items), detail)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", st, r.ID, r.Title, oneLine(detail))
		if r.Status == Fail || r.Status == Manual {
			for _, it := range r.Items {
				fmt.Fprintf(tw, "\t\t  %s\t%s\n", oneLine(it.Target), oneLine(it.Detail))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range d.Notes {
		fmt.Fprintf(w, "note: %s\n", oneLine(n))
	}
	sc := d.Score
	_, err := fmt.Fprintf(w, "\nScore: %d%% (%d passed, %d failed; %d manual, %d skipped) — %s, engine %s (API %s) at %s, %d containers, %d images\n",
		sc.Percent, sc.Passed, sc.Failed, sc.Manual, sc.Skipped, d.Benchmark, d.Version, d.APIVersion, d.Engine, d.Containers, d.Images)
	return err
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

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' || r < 0x20 {
			return ' '
		}
		return r
	}, s)
}
