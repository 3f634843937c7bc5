package apparmor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ctsec/ctsec/apparmor/auditlog"
	"github.com/ctsec/ctsec/internal/clock"
)

// Verdicts of the weekly review.
const (
	VerdictBreaking   = "breaking"    // the kernel denied events of an enforcing profile: the service is being blocked
	VerdictReady      = "ready"       // quiet over the window, long enough in complain mode, exercised
	VerdictNeedsRules = "needs-rules" // events the profile does not allow yet
	VerdictIdle       = "idle"        // not exercised (or not long enough, or the logs do not cover the window): do not promote blindly
	VerdictBlocked    = "blocked"     // events were lost in the window: quiet proves nothing
)

// Finding rule ids of the review.
const (
	RuleReviewBreaking   = "apparmor/review-breaking"
	RuleReviewNeedsRules = "apparmor/review-needs-rules"
	RuleReviewBlocked    = "apparmor/review-blocked"
	RuleReviewDenyRule   = "apparmor/review-deny-rule"
	RuleReviewCoverage   = "apparmor/review-coverage"
)

// DefaultMinComplain is how long a profile should run in complain mode
// before the review calls it ready: a week covers weekly jobs.
const DefaultMinComplain = 7 * 24 * time.Hour

// ReviewOptions shape a review.
type ReviewOptions struct {
	Since, Until time.Time     // the window; zero Until means now
	Clock        clock.Clock   // what "now" is; nil = system clock
	MinComplain  time.Duration // 0 = DefaultMinComplain
	Profiles     []string      // only these (empty: all complain-mode profiles and all seen in logs)
	Normalize    bool
	// Progress, when set, hears (input name, bytes read) as logs are read.
	Progress func(name string, read int64)
}

// ProfileInfo is what the review knows about a profile from its file.
type ProfileInfo struct {
	Name          string
	File          string
	Profile       *Profile
	ComplainSince time.Time // when the profile entered complain mode, if known
}

// Input is one log to read.
type Input struct {
	Name   string
	Reader io.Reader
	// Reaches, when set, is a time the logs are known to go back to beyond
	// this input's own lines: a rotated file older than the window that was
	// not read, or the journal's entry before the window.
	Reaches time.Time
}

// SourceSummary is what was read from one input.
type SourceSummary struct {
	Name string `json:"name"`
	auditlog.Stats
}

// ProfileReview is the review of one profile.
type ProfileReview struct {
	Profile        string     `json:"profile"`
	File           string     `json:"file,omitempty"`
	Mode           string     `json:"mode,omitempty"` // as the file says; empty when there is no file
	ComplainSince  time.Time  `json:"complain_since,omitzero"`
	DaysInComplain int        `json:"days_in_complain"`
	Events         int        `json:"events"`
	Allowed        int        `json:"allowed"`
	Denied         int        `json:"denied"`
	Audited        int        `json:"audited"`
	LastActivity   time.Time  `json:"last_activity,omitzero"`
	Proposed       []Proposal `json:"proposed"`
	AlreadyAllowed int        `json:"already_allowed"` // rules learnt from events that the profile now has
	// DeniedByRule are events the profile's own deny rules caused: never
	// proposed as allows (the deny would win), shown so a person decides.
	DeniedByRule []DenyGroup    `json:"denied_by_rule,omitempty"`
	Inherited    []Inherited    `json:"inherited,omitempty"`
	Skipped      map[string]int `json:"skipped,omitempty"`  // events no rule is written for, by why
	Rejected     map[string]int `json:"rejected,omitempty"` // events with a field outside its grammar, by which
	Verdict      string         `json:"verdict"`
	Reason       string         `json:"reason"`
	Trend        *Trend         `json:"trend,omitempty"`
	// Containers run under the profile (from the engine). When exactly one
	// does, the profile's events are its events: AttributedTo names it.
	Containers   []ContainerProfile `json:"containers,omitempty"`
	AttributedTo string             `json:"attributed_to,omitempty"`
}

// DenyGroup is the events one deny rule of the profile caused.
type DenyGroup struct {
	Rule   string    `json:"rule"`
	Events int       `json:"events"`
	Last   time.Time `json:"last"`
	Sample
}

// Inherited is a complain-mode null child (`parent//null-/bin/x`, made for
// an exec the profile had no rule for) whose events were filed under the
// parent because the exec rule proposed for it inherits the profile.
type Inherited struct {
	Label    string `json:"label"`
	ExecRule string `json:"exec_rule"`
	Events   int    `json:"events"`
}

// Review is the weekly review of AppArmor profiles.
type Review struct {
	Since      time.Time       `json:"since,omitzero"`
	Until      time.Time       `json:"until"`
	Sources    []SourceSummary `json:"sources"`
	Duplicates int64           `json:"duplicates"`
	Loss       auditlog.Loss   `json:"loss"`
	LostEvents bool            `json:"lost_events"`
	// CoveredFrom is how far back the logs read reach; WindowCovered says
	// whether that is the start of the window or earlier.
	CoveredFrom   time.Time       `json:"covered_from,omitzero"`
	WindowCovered bool            `json:"window_covered"`
	Profiles      []ProfileReview `json:"profiles"`
	Warnings      []string        `json:"warnings,omitempty"`
}

// ReviewLogs is the whole review: read the logs, load the profiles in dir
// (may be empty: no files), judge each profile. Profile files that do not
// parse are skipped with a warning so one odd file cannot stop the review.
func ReviewLogs(inputs []Input, dir string, o ReviewOptions) (Review, error) {
	// One reading of the clock for the whole review: the window's end and
	// the days in complain mode are measured from the same instant.
	o.Clock = clock.Fixed(o.now())
	var infos []ProfileInfo
	var warnings []string
	if _, err := os.Stat(dir); dir != "" && errors.Is(err, fs.ErrNotExist) {
		warnings = append(warnings, "profiles directory "+dir+" does not exist: reviewing the logs only, without de-duplication against profiles")
		dir = ""
	}
	if dir != "" {
		files, problems, err := LoadProfileDir(dir)
		if err != nil {
			return Review{}, err
		}
		for _, p := range problems {
			warnings = append(warnings, "skipped profile file: "+p.Error())
		}
		for _, f := range files {
			infos = append(infos, f.Infos()...)
		}
	}
	byName := map[string]*Profile{}
	for _, i := range infos {
		byName[i.Name] = i.Profile
	}
	options := func(name string) RuleOptions {
		return RuleOptions{Normalize: o.Normalize, PIDVar: definesPID(byName[name])}
	}
	acts, rv, err := Collect(inputs, o, options)
	if err != nil {
		return rv, err
	}
	rv.Warnings = warnings
	Judge(&rv, acts, infos, o)
	return rv, nil
}

// definesPID reports whether @{pid} is usable in the profile: declared in it
// or brought in by tunables/global.
func definesPID(p *Profile) bool {
	if p == nil {
		return false
	}
	for _, v := range p.Variables {
		if v.Name == "pid" {
			return true
		}
	}
	for _, i := range p.Includes {
		if strings.HasPrefix(i.Path, "tunables/") {
			return true
		}
	}
	return false
}

// Collect reads the inputs (merged by time, cross-transport duplicates
// dropped) and aggregates their events. options gives each profile's rule
// options.
func Collect(inputs []Input, o ReviewOptions, options func(profile string) RuleOptions) ([]Activity, Review, error) {
	rv := Review{Since: o.Since, Until: o.Until}
	now := o.now()
	if rv.Until.IsZero() {
		rv.Until = now
	}
	readers := make([]*auditlog.Reader, len(inputs))
	srcs := make([]auditlog.Source, len(inputs))
	for i, in := range inputs {
		opts := auditlog.Options{Name: in.Name, Since: o.Since, Until: o.Until, Now: now}
		if o.Progress != nil {
			name := in.Name
			opts.Progress = func(n int64) { o.Progress(name, n) }
		}
		readers[i] = auditlog.NewReader(in.Reader, opts)
		srcs[i] = readers[i]
	}
	agg := NewAggregator()
	agg.Options = options
	m := auditlog.NewMerge(srcs...)
	for {
		ev, err := m.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, rv, err
		}
		agg.Add(ev)
	}
	rv.Duplicates = m.Duplicates
	for i, r := range readers {
		st := r.Stats()
		rv.Sources = append(rv.Sources, SourceSummary{Name: inputs[i].Name, Stats: st})
		rv.Loss.Add(st.Loss)
		for _, t := range []time.Time{st.First, inputs[i].Reaches} {
			if !t.IsZero() && (rv.CoveredFrom.IsZero() || t.Before(rv.CoveredFrom)) {
				rv.CoveredFrom = t
			}
		}
	}
	rv.LostEvents = rv.Loss.Blocking()
	rv.WindowCovered = rv.Since.IsZero() || !rv.CoveredFrom.IsZero() && !rv.CoveredFrom.After(rv.Since.Add(CoverageSlack))
	return agg.Activities(), rv, nil
}

// CoverageSlack is how long after the window's start the logs may begin and
// still count as covering it: a quiet host logs nothing for a while.
const CoverageSlack = time.Hour

func (o ReviewOptions) now() time.Time { return clock.Or(o.Clock).Now() }

// Judge fills rv.Profiles from the activities and the profiles on disk.
// Events of hats and child profiles are judged apart from their parent,
// against the child's own rules; the null children complain mode makes for
// an exec without a rule (`a//null-/bin/x`) are the exec'd program's own
// behaviour and go to the parent when the exec rule for it inherits (ix).
func Judge(rv *Review, acts []Activity, profiles []ProfileInfo, o ReviewOptions) {
	minComplain := o.MinComplain
	if minComplain == 0 {
		minComplain = DefaultMinComplain
	}
	byName := map[string]ProfileInfo{}
	for _, p := range profiles {
		byName[p.Name] = p
	}
	index := map[string]*ruleIndex{}
	indexOf := func(name string) *ruleIndex {
		ix, ok := index[name]
		if !ok {
			ix = newRuleIndex(byName[name].Profile)
			index[name] = ix
		}
		return ix
	}
	actsBy := map[string][]Activity{}
	inherited := map[string][]Inherited{}
	for _, a := range acts {
		target, inh := fileUnder(a.Profile, indexOf)
		if inh != nil {
			inh.Events = a.Events
			inherited[target] = append(inherited[target], *inh)
		}
		actsBy[target] = append(actsBy[target], a)
	}
	var names []string
	if len(o.Profiles) > 0 {
		for n := range actsBy {
			if slices.Contains(o.Profiles, ProfileOf(n)) {
				names = append(names, n)
			}
		}
		names = append(names, o.Profiles...)
	} else {
		for _, p := range profiles {
			if p.Profile != nil && p.Profile.Mode() == "complain" && !strings.Contains(p.Name, "//") {
				names = append(names, p.Name)
			}
		}
		for n := range actsBy {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	for _, n := range names {
		info, known := byName[n]
		if known && info.Profile != nil && info.Profile.Mode() == "enforce" && len(o.Profiles) == 0 && len(actsBy[n]) == 0 {
			continue // enforced and quiet: nothing to review
		}
		rv.Profiles = append(rv.Profiles, judgeOne(rv, n, info, known, actsBy[n], inherited[n], indexOf(n), o.now(), minComplain))
	}
	// Breakage first: a service being blocked now matters before anything
	// that is only being learnt.
	slices.SortStableFunc(rv.Profiles, func(a, b ProfileReview) int {
		return cmpBool(b.Verdict == VerdictBreaking, a.Verdict == VerdictBreaking)
	})
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// fileUnder returns the label a group of events is judged under. A null
// child `P//null-/X` belongs to P when P's rule for executing /X inherits
// (an exec P has no rule for is proposed as ix); nested null children
// follow the chain. A child or hat keeps its own label.
func fileUnder(label string, indexOf func(string) *ruleIndex) (string, *Inherited) {
	target := label
	var inh *Inherited
	for {
		i := strings.LastIndex(target, "//null-")
		if i <= 0 {
			return target, inh
		}
		parent, prog := target[:i], target[i+len("//null-"):]
		if !strings.HasPrefix(prog, "/") || strings.Contains(prog, "//") {
			return target, inh
		}
		exec := File{Path: Literal(prog), Exec: "ix"}
		if exec.Validate() != nil {
			return target, inh // a label no exec rule can name (it came from a log): not folded
		}
		if mode := indexOf(parent).execMode(prog); mode != "" && mode != "ix" {
			return target, inh // a px/cx/ux rule: the program runs under another profile
		}
		if inh == nil {
			inh = &Inherited{Label: label}
		}
		inh.ExecRule = exec.String()
		target = parent
	}
}

// execMode is the exec mode of the profile's allow rule for running path, if any.
func (ix *ruleIndex) execMode(path string) string {
	for _, f := range ix.files {
		if f.Exec != "" && ix.samePath(f.Path, Literal(path)) {
			return f.Exec
		}
	}
	return ""
}

func judgeOne(rv *Review, name string, info ProfileInfo, known bool, acts []Activity, inherited []Inherited, ix *ruleIndex, now time.Time, minComplain time.Duration) ProfileReview {
	pr := ProfileReview{Profile: name, File: info.File, Proposed: []Proposal{}, Inherited: inherited}
	if known && info.Profile != nil {
		pr.Mode = info.Profile.Mode()
	}
	if pr.Mode == "complain" && !info.ComplainSince.IsZero() {
		pr.ComplainSince = info.ComplainSince
		pr.DaysInComplain = int(now.Sub(info.ComplainSince) / (24 * time.Hour))
	}
	var merged []Proposal
	byKey := map[string]int{}
	add := func(p Proposal) {
		// The same rule from complain and enforce events, or from a null
		// child: one proposal, and for a path the union of the permissions.
		key := p.Text
		if f, ok := p.Rule.(File); ok {
			key = fileKey(f)
		}
		if i, ok := byKey[key]; ok {
			m := &merged[i]
			m.Events += p.Events
			m.Denied += p.Denied
			m.Last = later(m.Last, p.Last)
			m.merge(p.Sample)
			if f, ok := p.Rule.(File); ok {
				u := mergeFile(m.Rule.(File), f)
				m.Rule, m.Text = u, u.String()
			}
			return
		}
		byKey[key] = len(merged)
		merged = append(merged, p)
	}
	for _, a := range acts {
		pr.Events += a.Events
		switch a.Mode {
		case "complain":
			pr.Allowed += a.Events
		case "enforce":
			pr.Denied += a.Events
		case "audit":
			pr.Audited += a.Events
		}
		pr.LastActivity = later(pr.LastActivity, a.Last)
		mergeCounts(&pr.Skipped, a.Skipped)
		mergeCounts(&pr.Rejected, a.Rejected)
		for _, p := range a.Proposals {
			add(p)
		}
	}
	for _, in := range inherited {
		// The exec itself may have been logged before the window: the
		// rule that files the child's events here is still needed.
		prog := strings.TrimPrefix(in.Label[strings.LastIndex(in.Label, "//null-"):], "//null-")
		r := File{Path: Literal(prog), Exec: "ix"}
		if !hasExecFor(merged, prog) {
			add(Proposal{Rule: r, Text: r.String(), Kind: "file"})
		}
	}
	for i, in := range pr.Inherited {
		prog := strings.TrimPrefix(in.Label[strings.LastIndex(in.Label, "//null-"):], "//null-")
		for _, p := range merged {
			if f, ok := p.Rule.(File); ok && f.Exec != "" && !f.Path.IsGlob() && f.Path.Text() == prog {
				pr.Inherited[i].ExecRule = p.Text // the rule the review proposes, as it reads
			}
		}
	}
	denied := map[string]int{}
	for _, p := range merged {
		deny, rest := ix.deniedBy(p.Rule)
		if deny != nil {
			d := deny.String()
			i, ok := denied[d]
			if !ok {
				i = len(pr.DeniedByRule)
				denied[d] = i
				pr.DeniedByRule = append(pr.DeniedByRule, DenyGroup{Rule: d})
			}
			g := &pr.DeniedByRule[i]
			g.Events += p.Events
			g.Last = later(g.Last, p.Last)
			g.merge(p.Sample)
			if rest == nil {
				continue
			}
			p.Rule, p.Text = rest, rest.String()
		}
		if ix.covers(p.Rule) {
			pr.AlreadyAllowed++
			continue
		}
		pr.Proposed = append(pr.Proposed, p)
	}
	slices.SortFunc(pr.Proposed, func(x, y Proposal) int { return strings.Compare(x.Text, y.Text) })
	pr.Proposed = slices.CompactFunc(pr.Proposed, func(x, y Proposal) bool { return x.Text == y.Text })
	slices.SortFunc(pr.DeniedByRule, func(x, y DenyGroup) int { return strings.Compare(x.Rule, y.Rule) })
	pr.Verdict, pr.Reason = verdict(rv, &pr, known, minComplain)
	return pr
}

func fileKey(f File) string {
	owner := ""
	if f.Owner {
		owner = "owner "
	}
	return "file:" + owner + f.Path.String()
}

// mergeFile unions the permissions of two rules on one path.
func mergeFile(a, b File) File {
	var bits uint8
	for _, f := range []File{a, b} {
		for i := 0; i < len(permOrder); i++ {
			if strings.IndexByte(f.Perms, permOrder[i]) >= 0 {
				bits |= 1 << i
			}
		}
		if f.Exec != "" {
			bits |= permExec
		}
	}
	a.Perms, a.Exec = permsOf(bits)
	return a
}

func hasExecFor(ps []Proposal, prog string) bool {
	for _, p := range ps {
		if f, ok := p.Rule.(File); ok && f.Exec != "" && !f.Path.IsGlob() && f.Path.Text() == prog {
			return true
		}
	}
	return false
}

func mergeCounts(dst *map[string]int, src map[string]int) {
	for k, v := range src {
		if *dst == nil {
			*dst = map[string]int{}
		}
		(*dst)[k] += v
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

func verdict(rv *Review, pr *ProfileReview, known bool, minComplain time.Duration) (string, string) {
	minDays := int(minComplain / (24 * time.Hour))
	byRule := 0
	for _, g := range pr.DeniedByRule {
		byRule += g.Events
	}
	switch {
	case pr.Denied > 0 && (pr.Mode == "enforce" || !known):
		// Enforce mode denies for real: this is the service failing now,
		// whatever else the window shows.
		where := "in enforce mode"
		if !known {
			where = "(no file in the profiles directory defines this profile)"
		}
		msg := fmt.Sprintf("%d event(s) denied %s: %s", pr.Denied, where, deniedSummary(pr))
		if byRule > 0 {
			msg += fmt.Sprintf("; %d of them by the profile's own deny rules", byRule)
		}
		return VerdictBreaking, msg
	case rv.LostEvents:
		return VerdictBlocked, "the logs show events were lost in the window (" + lossSummary(rv.Loss) + "); quiet proves nothing until the loss is fixed"
	case len(pr.Proposed) > 0 && !known:
		return VerdictNeedsRules, fmt.Sprintf("%d rule(s) missing for events in the window; no file in the profiles directory defines this profile", len(pr.Proposed))
	case len(pr.Proposed) > 0:
		return VerdictNeedsRules, fmt.Sprintf("%d rule(s) missing for events in the window", len(pr.Proposed))
	case len(pr.Rejected) > 0:
		return VerdictNeedsRules, fmt.Sprintf("%d event(s) carry a field outside its grammar and were not turned into rules (see below): check the log", sum(pr.Rejected))
	case len(pr.Skipped) > 0:
		// Events ctsec cannot turn into a rule (mqueue, io_uring, userns…)
		// still mean enforce mode would deny something.
		return VerdictNeedsRules, fmt.Sprintf("%d event(s) need rules ctsec does not write (see below): add them by hand", sum(pr.Skipped))
	case pr.Events == 0 && rv.WindowCovered:
		return VerdictIdle, "no events in the window: the profile was not exercised (or the service did not run); do not promote blindly"
	case !rv.WindowCovered:
		return VerdictIdle, "the logs read " + coverageText(rv) + ": quiet is not proven for the whole window"
	case !known:
		return VerdictIdle, "no profile file for it in the profiles directory"
	case pr.Mode == "complain" && pr.ComplainSince.IsZero():
		return VerdictIdle, "unknown how long it has been in complain mode"
	case pr.Mode == "complain" && pr.DaysInComplain < minDays:
		return VerdictIdle, fmt.Sprintf("in complain mode for %d day(s), fewer than %d", pr.DaysInComplain, minDays)
	case pr.Mode == "enforce":
		return VerdictReady, "already in enforce mode and every event is allowed"
	}
	return VerdictReady, fmt.Sprintf("quiet for the window, %d day(s) in complain mode, %d event(s) all allowed by the profile", pr.DaysInComplain, pr.Events)
}

// deniedSummary names a few denied operations with their path and command.
func deniedSummary(pr *ProfileReview) string {
	var parts []string
	note := func(s Sample, n int) {
		if len(parts) < 3 {
			parts = append(parts, sampleText(s, n))
		}
	}
	for _, p := range pr.Proposed {
		if p.Denied > 0 {
			note(p.Sample, p.Denied)
		}
	}
	for _, g := range pr.DeniedByRule {
		note(g.Sample, g.Events)
	}
	if len(parts) == 0 {
		return "see the events below"
	}
	return strings.Join(parts, "; ")
}

// sampleText is "open /etc/secret by cat (2)".
func sampleText(s Sample, n int) string {
	var b strings.Builder
	b.WriteString(orDash(strings.Join(s.Operations, ",")))
	if len(s.Examples) > 0 {
		b.WriteString(" " + strings.Join(s.Examples, ", "))
	}
	if len(s.Commands) > 0 {
		b.WriteString(" by " + strings.Join(s.Commands, ", "))
	}
	fmt.Fprintf(&b, " (%d)", n)
	return safeText(b.String())
}

// coverageText says where the logs read begin.
func coverageText(rv *Review) string {
	if rv.CoveredFrom.IsZero() {
		return "carry no timestamped line, so they cannot show they cover the window"
	}
	return fmt.Sprintf("begin at %s, %s after the window's start", rv.CoveredFrom.UTC().Format(time.RFC3339),
		rv.CoveredFrom.Sub(rv.Since).Round(time.Minute))
}

func lossSummary(l auditlog.Loss) string {
	var parts []string
	add := func(n uint64, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(uint64(l.BacklogExceeded), "audit backlog overflows")
	add(uint64(l.RateLimitExceeded), "audit rate-limit hits")
	add(uint64(l.HoldQueueOverflow), "kauditd hold-queue overflows")
	add(l.AuditLost, "audit_lost (kernel counter)")
	add(l.Suppressed, "audit/printk messages suppressed")
	add(l.JournalMissed, "kernel messages missed by journald")
	return strings.Join(parts, ", ")
}

// Counts tallies verdicts.
func (rv *Review) Counts() map[string]int {
	c := map[string]int{}
	for _, p := range rv.Profiles {
		c[p.Verdict]++
	}
	return c
}

// Profile returns the review of one profile.
func (rv *Review) Profile(name string) (ProfileReview, bool) {
	for _, p := range rv.Profiles {
		if p.Profile == name {
			return p, true
		}
	}
	return ProfileReview{}, false
}

// AddContainers attributes each profile's events to the containers that run
// under it. The log names only the profile (a pid is the host's, and gone
// by the time of the review), so events can be told to be a container's
// only when that container alone uses the profile: one profile per
// container, as ctsec generates them.
func (rv *Review) AddContainers(cs []ContainerProfile) {
	for i := range rv.Profiles {
		p := &rv.Profiles[i]
		top := ProfileOf(p.Profile)
		for _, c := range cs {
			if c.Profile == top || c.Profile == "" && c.Requested == top {
				p.Containers = append(p.Containers, c)
			}
		}
		if len(p.Containers) == 1 {
			p.AttributedTo = p.Containers[0].Container
		}
	}
}
