package report

import (
	"io"
	"net/url"
	"path/filepath"
	"strings"
)

// SARIF 2.1.0 (OASIS), as code-scanning services read it: one run whose
// tool lists every rule the command evaluated with its metadata, and one
// result per finding pointing at its rule by id and index. The output is
// validated against the official schema in the tests.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations,omitempty"`
	Results     []sarifResult     `json:"results"`
	ColumnKind  string            `json:"columnKind,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool   `json:"executionSuccessful"`
	CommandLine         string `json:"commandLine,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string            `json:"id"`
	ShortDescription     sarifMessage      `json:"shortDescription"`
	FullDescription      sarifMessage      `json:"fullDescription"`
	Help                 sarifMessage      `json:"help"`
	HelpURI              string            `json:"helpUri"`
	DefaultConfiguration sarifRuleConfig   `json:"defaultConfiguration"`
	Properties           map[string]string `json:"properties"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifMessage    `json:"message"`
	Locations  []sarifLocation `json:"locations,omitempty"`
	Properties map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine,omitempty"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind,omitempty"`
}

// InformationURI is ctsec's home, for SARIF's tool.driver.
const InformationURI = "https://github.com/ctsec/ctsec"

func sarifLevel(s Severity) string {
	switch {
	case s >= High:
		return "error"
	case s >= Medium:
		return "warning"
	default:
		return "note"
	}
}

// securitySeverity is the CVSS-like score GitHub code scanning reads from
// a rule's "security-severity" property to rank alerts.
var securitySeverity = map[Severity]string{Critical: "9.5", High: "8.0", Medium: "5.5", Low: "3.0", Info: "0.0"}

func newSARIFRule(r Rule) sarifRule {
	full := r.Description
	if full == "" {
		full = r.Title
	}
	help := r.Help
	if help == "" {
		help = "See " + r.HelpURI()
	}
	return sarifRule{
		ID:                   r.ID,
		ShortDescription:     sarifMessage{Text: r.Title},
		FullDescription:      sarifMessage{Text: full},
		Help:                 sarifMessage{Text: help},
		HelpURI:              r.HelpURI(),
		DefaultConfiguration: sarifRuleConfig{Level: sarifLevel(r.Severity)},
		Properties: map[string]string{
			"severity":          r.Severity.String(),
			"security-severity": securitySeverity[r.Severity],
		},
	}
}

// sarifURI makes a file name a URI reference: an absolute path becomes a
// file: URI, a relative one stays relative (to the directory ctsec ran in,
// as code scanning expects), both percent-encoded.
func sarifURI(name string) string {
	p := filepath.ToSlash(name)
	if strings.HasPrefix(p, "/") {
		return (&url.URL{Scheme: "file", Path: p}).String()
	}
	return (&url.URL{Path: p}).String()
}

func renderSARIF(w io.Writer, r Report, o Options) error {
	var rules []sarifRule
	index := map[string]int{}
	add := func(rule Rule) int {
		if i, ok := index[rule.ID]; ok {
			return i
		}
		index[rule.ID] = len(rules)
		rules = append(rules, newSARIFRule(rule))
		return len(rules) - 1
	}
	for _, rule := range r.Rules {
		add(rule)
	}
	results := make([]sarifResult, 0, len(r.Findings))
	for _, f := range r.Findings {
		rule, ok := r.Rules.Lookup(f.Rule)
		if !ok {
			// Outside the command's table (a load failure of one of several
			// inputs): still a rule, described by its first finding.
			rule = Rule{ID: f.Rule, Severity: f.Severity, Title: f.Message}
		}
		res := sarifResult{
			RuleID:     f.Rule,
			RuleIndex:  add(rule),
			Level:      sarifLevel(f.Severity),
			Message:    sarifMessage{Text: f.Message},
			Properties: map[string]any{"severity": f.Severity.String()},
		}
		if f.Fix != "" {
			res.Properties["fix"] = f.Fix
		}
		var loc sarifLocation
		if f.File != "" {
			loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: sarifURI(f.File)}}
			if f.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Line, StartColumn: f.Column}
			}
		}
		if f.Target != "" {
			loc.LogicalLocations = append(loc.LogicalLocations, sarifLogical{FullyQualifiedName: f.Target, Kind: "object"})
		}
		if f.Path != "" {
			loc.LogicalLocations = append(loc.LogicalLocations, sarifLogical{FullyQualifiedName: f.Path, Kind: "member"})
		}
		if loc.PhysicalLocation != nil || loc.LogicalLocations != nil {
			res.Locations = []sarifLocation{loc}
		}
		results = append(results, res)
	}
	if rules == nil {
		rules = []sarifRule{}
	}
	command := "ctsec"
	if r.Command != "" {
		command += " " + r.Command
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool:        sarifTool{Driver: sarifDriver{Name: "ctsec", Version: o.Version, InformationURI: InformationURI, Rules: rules}},
			Invocations: []sarifInvocation{{ExecutionSuccessful: true, CommandLine: command}},
			Results:     results,
			ColumnKind:  "unicodeCodePoints",
		}},
	}
	return WriteJSON(w, log)
}
