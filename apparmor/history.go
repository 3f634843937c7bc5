package apparmor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctsec/ctsec/internal/safefile"
)

// History is the weekly loop's memory, under the state directory: each
// review's verdicts, counts and proposed rules, and when promote and demote
// changed a profile's mode. It is read back only from a directory
// safefile trusts (the running user's, writable by nobody else).
type History struct {
	Dir string // STATE_DIR/apparmor
}

// HistoryDir is the history's place under a state directory.
func HistoryDir(stateDir string) string { return filepath.Join(stateDir, "apparmor") }

// Bounds on what the history keeps and reads back.
const (
	historyKeep      = 60      // reviews kept: over a year of weekly runs
	historyMaxRecord = 8 << 20 // bytes of one review record
	historyMaxModes  = 4 << 20 // bytes of the mode log
	historyMaxRules  = 20000   // rules remembered per profile and review
)

// ReviewRecord is what a review leaves for the next one.
type ReviewRecord struct {
	At            time.Time       `json:"at"`
	Since         time.Time       `json:"since,omitzero"`
	Until         time.Time       `json:"until"`
	WindowCovered bool            `json:"window_covered"`
	Profiles      []ProfileRecord `json:"profiles"`
}

// ProfileRecord is one profile's part of a ReviewRecord.
type ProfileRecord struct {
	Profile string   `json:"profile"`
	Verdict string   `json:"verdict"`
	Events  int      `json:"events"`
	Denied  int      `json:"denied"`
	Quiet   bool     `json:"quiet"`
	Rules   []string `json:"rules,omitempty"`
}

// ModeRecord is a promote or demote that changed a profile's mode.
type ModeRecord struct {
	At      time.Time `json:"at"`
	Profile string    `json:"profile"`
	Mode    string    `json:"mode"`
	File    string    `json:"file"`
	Command string    `json:"command"`
}

// Trend is a profile's review against the reviews before it.
type Trend struct {
	Previous        time.Time `json:"previous,omitzero"` // when the last review ran
	PreviousVerdict string    `json:"previous_verdict,omitempty"`
	NewRules        int       `json:"new_rules"`     // proposed now, not last time
	SettledRules    int       `json:"settled_rules"` // proposed last time, not now
	QuietSince      time.Time `json:"quiet_since,omitzero"`
	ModeChanged     time.Time `json:"mode_changed,omitzero"` // the last promote or demote
	ModeChange      string    `json:"mode_change,omitempty"` // "promoted" or "demoted"
	Summary         string    `json:"summary"`
}

func (h History) reviewsDir() string { return filepath.Join(h.Dir, "reviews") }
func (h History) modesFile() string  { return filepath.Join(h.Dir, "modes.jsonl") }

// quiet is a review in which a profile asked for nothing: no rule, no
// denial, nothing rejected or unmodelled, over logs covering the window.
func quiet(rv *Review, p ProfileReview) bool {
	return rv.WindowCovered && !rv.LostEvents && len(p.Proposed) == 0 && p.Denied == 0 &&
		len(p.Rejected) == 0 && len(p.Skipped) == 0 && len(p.DeniedByRule) == 0
}

// Record stores the review (at its Until) and drops the oldest beyond
// historyKeep.
func (h History) Record(rv *Review) error {
	rec := ReviewRecord{At: rv.Until, Since: rv.Since, Until: rv.Until, WindowCovered: rv.WindowCovered, Profiles: []ProfileRecord{}}
	for _, p := range rv.Profiles {
		pr := ProfileRecord{Profile: p.Profile, Verdict: p.Verdict, Events: p.Events, Denied: p.Denied, Quiet: quiet(rv, p)}
		for _, r := range p.Proposed {
			if len(pr.Rules) < historyMaxRules {
				pr.Rules = append(pr.Rules, r.Text)
			}
		}
		rec.Profiles = append(rec.Profiles, pr)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := safefile.MakeStateDir(h.reviewsDir()); err != nil {
		return fmt.Errorf("keeping the review history: %w", err)
	}
	name := fmt.Sprintf("%020d.json", rv.Until.UnixNano())
	if err := safefile.WriteFile(filepath.Join(h.reviewsDir(), name), data, 0o600); err != nil {
		return fmt.Errorf("keeping the review history: %w", err)
	}
	names, err := h.reviewNames()
	if err != nil {
		return err
	}
	for len(names) > historyKeep {
		os.Remove(filepath.Join(h.reviewsDir(), names[0]))
		names = names[1:]
	}
	return nil
}

func (h History) reviewNames() ([]string, error) {
	entries, err := os.ReadDir(h.reviewsDir())
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && isDigits(n) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// Reviews returns up to n recorded reviews from before t, newest first. A
// history that is missing is empty; one safefile does not trust is an error.
func (h History) Reviews(before time.Time, n int) ([]ReviewRecord, error) {
	if err := safefile.CheckStateDir(h.reviewsDir()); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	names, err := h.reviewNames()
	if err != nil {
		return nil, err
	}
	var out []ReviewRecord
	for i := len(names) - 1; i >= 0 && len(out) < n; i-- {
		ns, _ := strconv.ParseInt(strings.TrimSuffix(names[i], ".json"), 10, 64)
		if !time.Unix(0, ns).Before(before) {
			continue
		}
		data, err := safefile.ReadState(filepath.Join(h.reviewsDir(), names[i]), historyMaxRecord)
		if err != nil {
			return nil, fmt.Errorf("reading the review history: %w", err)
		}
		var rec ReviewRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			continue // a record cut short by a crash: the others still count
		}
		out = append(out, rec)
	}
	return out, nil
}

// RecordMode appends a mode change to the history.
func (h History) RecordMode(m ModeRecord) error {
	if err := safefile.MakeStateDir(h.Dir); err != nil {
		return fmt.Errorf("recording the mode change: %w", err)
	}
	old, err := safefile.ReadState(h.modesFile(), historyMaxModes)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recording the mode change: %w", err)
	}
	line, err := json.Marshal(m)
	if err != nil {
		return err
	}
	data := append(old, append(line, '\n')...)
	if len(data) > historyMaxModes { // keep the newest half
		cut := bytes.IndexByte(data[len(data)-historyMaxModes/2:], '\n')
		data = data[len(data)-historyMaxModes/2+cut+1:]
	}
	return safefile.WriteFile(h.modesFile(), data, 0o600)
}

// Modes returns the recorded mode changes, oldest first.
func (h History) Modes() ([]ModeRecord, error) {
	if err := safefile.CheckStateDir(h.Dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	data, err := safefile.ReadState(h.modesFile(), historyMaxModes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []ModeRecord
	for _, line := range bytes.Split(data, []byte("\n")) {
		var m ModeRecord
		if len(line) > 0 && json.Unmarshal(line, &m) == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// AddTrends sets each profile's Trend from the reviews before this one
// (newest first) and the mode changes.
func (rv *Review) AddTrends(prev []ReviewRecord, modes []ModeRecord) {
	for i := range rv.Profiles {
		p := &rv.Profiles[i]
		t := &Trend{}
		var last *ProfileRecord
		if len(prev) > 0 {
			t.Previous = prev[0].At
			for j := range prev[0].Profiles {
				if prev[0].Profiles[j].Profile == p.Profile {
					last = &prev[0].Profiles[j]
				}
			}
		}
		if last != nil {
			t.PreviousVerdict = last.Verdict
			before := map[string]bool{}
			for _, r := range last.Rules {
				before[r] = true
			}
			now := map[string]bool{}
			for _, r := range p.Proposed {
				now[r.Text] = true
				if !before[r.Text] {
					t.NewRules++
				}
			}
			for r := range before {
				if !now[r] {
					t.SettledRules++
				}
			}
		} else if len(prev) > 0 {
			t.NewRules = len(p.Proposed)
		}
		if quiet(rv, *p) {
			t.QuietSince = rv.Since
			for _, rec := range prev {
				q := false
				for _, pr := range rec.Profiles {
					if pr.Profile == p.Profile && pr.Quiet {
						q = true
					}
				}
				if !q || rec.Since.IsZero() {
					break
				}
				t.QuietSince = rec.Since
			}
		}
		for _, m := range modes {
			if m.Profile == p.Profile && !m.At.After(rv.Until) {
				t.ModeChanged = m.At
				t.ModeChange = map[string]string{"enforce": "promoted", "complain": "demoted"}[m.Mode]
			}
		}
		t.Summary = t.summary(rv.Until)
		p.Trend = t
	}
}

func (t *Trend) summary(now time.Time) string {
	var parts []string
	day := func(x time.Time) string { return x.UTC().Format("2006-01-02") }
	switch {
	case t.Previous.IsZero():
		parts = append(parts, "first review on record")
	case t.PreviousVerdict == "":
		parts = append(parts, fmt.Sprintf("%d new rule(s); not in the last review (%s)", t.NewRules, day(t.Previous)))
	default:
		parts = append(parts, fmt.Sprintf("%d new rule(s) since the last review (%s, %s)", t.NewRules, day(t.Previous), t.PreviousVerdict))
		if t.SettledRules > 0 {
			parts = append(parts, fmt.Sprintf("%d rule(s) proposed then are not needed now", t.SettledRules))
		}
	}
	if !t.QuietSince.IsZero() {
		d := now.Sub(t.QuietSince)
		if w := int(d / (7 * 24 * time.Hour)); w >= 1 {
			parts = append(parts, fmt.Sprintf("quiet for %d week(s), since %s", w, day(t.QuietSince)))
		} else {
			parts = append(parts, fmt.Sprintf("quiet for %d day(s), since %s", int(d/(24*time.Hour)), day(t.QuietSince)))
		}
	}
	if t.ModeChange != "" {
		parts = append(parts, t.ModeChange+" on "+day(t.ModeChanged))
	}
	return strings.Join(parts, "; ")
}
