package seccomp

import (
	"fmt"
	"strings"

	"github.com/ctsec/ctsec/internal/report"
)

// Rule ids of compilation.
const (
	RuleCompile = "seccomp/compile"
	RuleSize    = "seccomp/size"
)

// sizeWarn is where a filter is close enough to MaxInstructions that a few
// more rules (or a libseccomp upgrade that lays the tree out differently)
// could make it unloadable.
const sizeWarn = MaxInstructions * 3 / 4

// Validation is the outcome of validating one profile for one target.
type Validation struct {
	File     string           `json:"file"`
	Target   TargetInfo       `json:"target"`
	Compiled *Compiled        `json:"compiled,omitempty"`
	Findings []report.Finding `json:"-"`
}

// TargetInfo is the target as reported.
type TargetInfo struct {
	Arch   string   `json:"arch"`
	Caps   []string `json:"caps"`
	Kernel string   `json:"kernel"`
}

// Errors counts findings that make the profile invalid (high or above).
func (v *Validation) Errors() int {
	n := 0
	for _, f := range v.Findings {
		if f.Severity >= report.High {
			n++
		}
	}
	return n
}

// Validate checks a loaded profile beyond its schema: every syscall name is
// resolved for the architectures it can reach, and the profile is compiled
// as runc would compile it for target t. schema is what Parse reported.
func Validate(p *Profile, schema []report.Finding, t Target, res *Resolver) *Validation {
	v := &Validation{File: p.File, Target: TargetInfo{Arch: t.Arch, Caps: t.Caps, Kernel: t.Kernel.String()}}
	v.Findings = append(v.Findings, schema...)
	v.Findings = append(v.Findings, p.checkNames(t, res)...)
	v.Findings = CapFindings(v.Findings)
	for _, f := range schema {
		if f.Severity >= report.High {
			// A profile with schema errors cannot be compiled faithfully.
			return v
		}
	}
	c, err := p.Resolve(t).Compile()
	if err != nil {
		f := p.finding("")
		f.Rule, f.Severity, f.Message = RuleCompile, report.High, fmt.Sprintf("libseccomp cannot compile the profile: %v", err)
		v.Findings = append(v.Findings, f)
		return v
	}
	v.Compiled = c
	f := p.finding("")
	f.Rule = RuleSize
	switch {
	case c.Instructions > MaxInstructions:
		f.Severity = report.High
		f.Message = fmt.Sprintf("the filter for %s is %d BPF instructions, over the kernel's limit of %d: it cannot be loaded", strings.Join(c.Arches, "+"), c.Instructions, MaxInstructions)
		f.Fix = "merge rules, drop argument conditions or architectures"
	case c.Instructions > sizeWarn:
		f.Severity = report.Medium
		f.Message = fmt.Sprintf("the filter for %s is %d BPF instructions, approaching the kernel's limit of %d", strings.Join(c.Arches, "+"), c.Instructions, MaxInstructions)
		f.Fix = "merge rules, drop argument conditions or architectures"
	default:
		f.Severity = report.Info
		f.Message = fmt.Sprintf("compiles to %d BPF instructions for %s as %s loads it (limit %d)", c.Instructions, strings.Join(c.Arches, "+"), c.Runc, MaxInstructions)
	}
	v.Findings = append(v.Findings, f)
	return v
}
