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
	VerdictReady      = "ready"       // quiet over the window, long enough in complain mode, exercised
	VerdictNeedsRules = "needs-rules" // events the profile does not allow yet
	VerdictIdle       = "idle"        // not exercised (or not long enough): do not promote blindly
	VerdictBlocked    = "blocked"     // events were lost in the window: quiet proves nothing
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
}

// SourceSummary is what was read from one input.
type SourceSummary struct {
	Name string `json:"name"`
	auditlog.Stats
}

// ProfileReview is the review of one profile.
type ProfileReview struct {
	Profile        string         `json:"profile"`
	File           string         `json:"file,omitempty"`
	Mode           string         `json:"mode,omitempty"` // as the file says; empty when there is no file
	ComplainSince  time.Time      `json:"complain_since,omitzero"`
	DaysInComplain int            `json:"days_in_complain"`
	Events         int            `json:"events"`
	Allowed        int            `json:"allowed"`
	Denied         int            `json:"denied"`
	Audited        int            `json:"audited"`
	LastActivity   time.Time      `json:"last_activity,omitzero"`
	Proposed       []Proposal     `json:"proposed"`
	AlreadyAllowed int            `json:"already_allowed"` // rules learnt from events that the profile now has
	Skipped        map[string]int `json:"skipped,omitempty"`
	Verdict        string         `json:"verdict"`
	Reason         string         `json:"reason"`
}

// Review is the weekly review of AppArmor profiles.
type Review struct {
	Since      time.Time       `json:"since,omitzero"`
	Until      time.Time       `json:"until"`
	Sources    []SourceSummary `json:"sources"`
	Duplicates int64           `json:"duplicates"`
	Loss       auditlog.Loss   `json:"loss"`
	LostEvents bool            `json:"lost_events"`
	Profiles   []ProfileReview `json:"profiles"`
	Warnings   []string        `json:"warnings,omitempty"`
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
	}
	rv.LostEvents = rv.Loss.Blocking()
	return agg.Activities(), rv, nil
}

func (o ReviewOptions) now() time.Time { return clock.Or(o.Clock).Now() }

// Judge fills rv.Profiles from the activities and the profiles on disk.
func Judge(rv *Review, acts []Activity, profiles []ProfileInfo, o ReviewOptions) {
	minComplain := o.MinComplain
	if minComplain == 0 {
		minComplain = DefaultMinComplain
	}
	byName := map[string]ProfileInfo{}
	for _, p := range profiles {
		byName[p.Name] = p
	}
	actsBy := map[string][]Activity{}
	for _, a := range acts {
		actsBy[a.Profile] = append(actsBy[a.Profile], a)
	}
	var names []string
	if len(o.Profiles) > 0 {
		names = o.Profiles
	} else {
		for _, p := range profiles {
			if p.Profile != nil && p.Profile.Mode() == "complain" {
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
		if known && info.Profile != nil && info.Profile.Mode() == "enforce" && len(o.Profiles) == 0 && !hasDenials(actsBy[n]) {
			continue // enforced and quiet: nothing to review
		}
		rv.Profiles = append(rv.Profiles, judgeOne(rv, n, info, known, actsBy[n], o.now(), minComplain))
	}
}

func hasDenials(acts []Activity) bool {
	for _, a := range acts {
		if a.Mode == "enforce" {
			return true
		}
	}
	return false
}

func judgeOne(rv *Review, name string, info ProfileInfo, known bool, acts []Activity, now time.Time, minComplain time.Duration) ProfileReview {
	pr := ProfileReview{Profile: name, File: info.File, Proposed: []Proposal{}}
	if known && info.Profile != nil {
		pr.Mode = info.Profile.Mode()
	}
	if pr.Mode == "complain" && !info.ComplainSince.IsZero() {
		pr.ComplainSince = info.ComplainSince
		pr.DaysInComplain = int(now.Sub(info.ComplainSince) / (24 * time.Hour))
	}
	seen := map[string]int{}
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
		if a.Last.After(pr.LastActivity) {
			pr.LastActivity = a.Last
		}
		for k, v := range a.Skipped {
			if pr.Skipped == nil {
				pr.Skipped = map[string]int{}
			}
			pr.Skipped[k] += v
		}
		for _, p := range a.Proposals {
			if known && info.Profile != nil && Covered(info.Profile, p.Rule) {
				pr.AlreadyAllowed++
				continue
			}
			if i, ok := seen[p.Text]; ok { // same rule from complain and enforce events
				pr.Proposed[i].Events += p.Events
				continue
			}
			seen[p.Text] = len(pr.Proposed)
			pr.Proposed = append(pr.Proposed, p)
		}
	}
	slices.SortFunc(pr.Proposed, func(x, y Proposal) int { return strings.Compare(x.Text, y.Text) })
	pr.Verdict, pr.Reason = verdict(rv, &pr, known, minComplain)
	return pr
}

func verdict(rv *Review, pr *ProfileReview, known bool, minComplain time.Duration) (string, string) {
	minDays := int(minComplain / (24 * time.Hour))
	switch {
	case rv.LostEvents:
		return VerdictBlocked, "the logs show events were lost in the window (" + lossSummary(rv.Loss) + "); quiet proves nothing until the loss is fixed"
	case len(pr.Proposed) > 0 && !known:
		return VerdictNeedsRules, fmt.Sprintf("%d rule(s) missing for events in the window; no file in the profiles directory defines this profile", len(pr.Proposed))
	case len(pr.Proposed) > 0:
		return VerdictNeedsRules, fmt.Sprintf("%d rule(s) missing for events in the window", len(pr.Proposed))
	case len(pr.Skipped) > 0:
		// Events ctsec cannot turn into a rule (mqueue, io_uring, userns…)
		// still mean enforce mode would deny something.
		n := 0
		for _, c := range pr.Skipped {
			n += c
		}
		return VerdictNeedsRules, fmt.Sprintf("%d event(s) need rules ctsec does not write (see below): add them by hand", n)
	case pr.Events == 0:
		return VerdictIdle, "no events in the window: the profile was not exercised (or the service did not run); do not promote blindly"
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
