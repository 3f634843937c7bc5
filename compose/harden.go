package compose

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/profiles/capabilities"
)

// Harden runs the pipeline the package is built as:
//
//	facts (facts.go)  what the options point to for each service
//	plan (plan.go)    pure: the model, node tree and facts → edits per service
//	patch (patch.go)  the edits as insertions into the original bytes
//	verify (verify.go) the output parsed again and compared with the plan
//
// A service whose edit cannot be made safely, or does not verify, is left
// as it was with a warning; the rest are hardened.

// Options steer Harden.
type Options struct {
	Policy Policy
	// ProfilesDir holds per-service profiles: <service>.json (seccomp) and
	// <service>.apparmor (an AppArmor profile; its name is read from it).
	ProfilesDir string
	// Only restricts the edits to these rule ids (empty: all).
	Only []string
	// Swarm forces (true) or rules out (false) swarm handling; nil detects
	// it from deploy keys only swarm uses.
	Swarm *bool
	// KB is the capability knowledge base; nil uses the embedded one.
	KB *capabilities.Base
	// Pending are profile files (absolute paths) that will be written with
	// the result (--gen-profiles): they count as present in ProfilesDir.
	Pending map[string]bool
	// Facts are what images and trials say about the services (learn, or
	// the engine's images); nil: the file and the knowledge base only.
	Facts *Facts
	// Skip leaves out rules for some services: what --verify backed off.
	Skip map[string][]string
}

// Change is one edit harden makes.
type Change struct {
	Service string `json:"service"`
	Rule    string `json:"rule"`
	Field   string `json:"field"`
	Value   string `json:"value"`
	Reason  string `json:"reason,omitempty"`
	Line    int    `json:"line"`
}

// Result is a hardened file and what was done to it.
type Result struct {
	Output   []byte
	Changes  []Change
	Warnings []report.Finding
	Swarm    bool
	p        *patcher
	done     []servicePlan // the plans the output carries out
}

// Diff is the unified diff from the original to the output.
func (r *Result) Diff(oldName, newName string) string { return r.p.Diff(oldName, newName) }

// Changed reports whether the output differs from the input.
func (r *Result) Changed() bool { return r.p.changed() }

// Harden plans and applies the edits, then proves them (see verify.go).
func Harden(d *Document, o Options) (*Result, error) {
	if o.Policy == "" {
		o.Policy = Baseline
	}
	if o.Policy != Baseline && o.Policy != Strict {
		return nil, fmt.Errorf("unknown policy %q (want baseline or strict)", o.Policy)
	}
	kb := o.KB
	if kb == nil {
		var err error
		if kb, err = capabilities.Default(); err != nil {
			return nil, err
		}
	}
	facts := gatherFacts(d, o)
	skip := map[string]string{}
	for attempt := 0; ; attempt++ {
		res, err := harden(d, o, facts, kb, skip)
		var ve *verifyError
		if !errors.As(err, &ve) || len(ve.services) == 0 || attempt >= 3 {
			return res, err
		}
		// The edit of some service did not mean what was planned (an
		// unforeseen YAML layout): leave those services as they are, say so,
		// and harden the rest.
		for _, s := range ve.services {
			skip[s] = ve.detail
		}
	}
}

func harden(d *Document, o Options, f *Facts, kb *capabilities.Base, skip map[string]string) (*Result, error) {
	pl := makePlan(d, o, f, kb, skip)
	res := &Result{Warnings: pl.warnings, Swarm: pl.swarm}
	p := newPatcher(d)
	done := make([]servicePlan, 0, len(pl.services))
	for _, sp := range pl.services {
		m := p.mark()
		if err := p.service(sp); err != nil {
			var ee *EditError
			if !errors.As(err, &ee) {
				return nil, err
			}
			p.undo(m)
			line, col := d.Locate("services", sp.svc.Name)
			res.Warnings = append(res.Warnings, report.Finding{Rule: RuleNotHardened, Severity: report.Medium, File: d.Name, Line: line, Column: col,
				Target: "service " + sp.svc.Name, Path: "services." + sp.svc.Name,
				Message: "service " + sp.svc.Name + ": not edited: " + ee.Error()})
			continue
		}
		done = append(done, sp)
		res.Changes = append(res.Changes, changes(d, sp)...)
	}
	res.p, res.done = p, done
	res.Output = p.apply()
	if !p.changed() {
		return res, nil
	}
	if err := verify(d, p, res.Output, done); err != nil {
		return nil, err
	}
	return res, nil
}

// changes lists a service's edits for the report.
func changes(d *Document, sp servicePlan) []Change {
	out := make([]Change, 0, len(sp.edits))
	for _, e := range sp.edits {
		line, _ := d.Locate(append([]string{"services", sp.svc.Name}, e.path...)...)
		v := e.text
		if e.items != nil {
			v = strings.Join(e.items, ", ")
		}
		out = append(out, Change{Service: sp.svc.Name, Rule: e.rule, Field: strings.Join(e.path, "."), Value: v, Reason: e.comment, Line: line})
	}
	for _, e := range sp.inherited {
		line, _ := d.Locate("services", sp.svc.Name)
		v := e.text
		if e.items != nil {
			v = strings.Join(e.items, ", ")
		}
		out = append(out, Change{Service: sp.svc.Name, Rule: e.rule, Field: strings.Join(e.path, "."), Value: v,
			Reason: "through its merge key, from the edit to " + sp.through, Line: line})
	}
	return out
}
