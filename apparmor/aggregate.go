package apparmor

import (
	"slices"
	"strings"
	"time"

	"github.com/ctsec/ctsec/apparmor/auditlog"
)

// Proposal is a rule that would have allowed logged events.
type Proposal struct {
	Rule   Rule      `json:"-"`
	Text   string    `json:"rule"`
	Kind   string    `json:"kind"`
	Events int       `json:"events"`
	Denied int       `json:"denied,omitempty"` // of Events, how many the kernel denied
	Last   time.Time `json:"last"`
	Sample
}

// Sample is what a person needs to recognise a group of events: a few of
// their operations, commands and paths (or names), in the order seen.
type Sample struct {
	Operations []string `json:"operations,omitempty"`
	Commands   []string `json:"commands,omitempty"`
	Examples   []string `json:"examples,omitempty"`
}

// sampleSize bounds each list of a Sample, so memory follows the number of
// rules, not of events.
const sampleSize = 3

// sampleEvents is how many of a rule's first events the sample is drawn
// from (later ones at powers of two): enough to show its variety, few
// enough to cost nothing on a busy rule.
const sampleEvents = 8

func (s *Sample) add(ev *auditlog.Event) {
	addSample(&s.Operations, ev.Operation)
	addSample(&s.Commands, ev.Command)
	addSample(&s.Examples, ev.Name)
}

func (s *Sample) merge(o Sample) {
	for _, v := range o.Operations {
		addSample(&s.Operations, v)
	}
	for _, v := range o.Commands {
		addSample(&s.Commands, v)
	}
	for _, v := range o.Examples {
		addSample(&s.Examples, v)
	}
}

func addSample(list *[]string, v string) {
	if v == "" || len(*list) >= sampleSize || slices.Contains(*list, v) {
		return
	}
	*list = append(*list, strings.Clone(v))
}

// Activity is what the logs say one profile did in one mode.
type Activity struct {
	Profile string `json:"profile"`
	// Mode is complain for ALLOWED events (what enforce mode would deny),
	// enforce for DENIED ones, audit for AUDIT records.
	Mode      string         `json:"mode"`
	Events    int            `json:"events"`
	First     time.Time      `json:"first"`
	Last      time.Time      `json:"last"`
	Proposals []Proposal     `json:"proposals"`
	Skipped   map[string]int `json:"skipped,omitempty"`  // events no rule is written for, by why
	Rejected  map[string]int `json:"rejected,omitempty"` // events with a field outside its grammar, by which
}

// Aggregator folds events into Activities, one per profile label and mode.
// Its memory grows with the number of distinct rules the events ask for,
// not with the number of events or of their shapes (pids, commands, masks
// and times vary without adding anything).
type Aggregator struct {
	// Options returns the rule options for a profile (nil: zero options).
	Options func(profile string) RuleOptions
	acts    map[actKey]*activity
	last    *activity // the previous event's activity: logs come in runs
	lastKey actKey
	keyBuf  []byte
}

type actKey struct{ label, mode string }

type activity struct {
	Activity
	opts RuleOptions
	// rules is keyed by the encoded ruleKey (ruleKey.appendTo): one string
	// hashes faster and keeps less than seven.
	rules map[string]*ruleAcc
}

// ruleAcc accumulates the events of one rule. File rules on one path
// collect their permissions as a bit set and are built once, at the end.
type ruleAcc struct {
	rule         Rule   // non-file rules; for files the path and owner
	perms        uint8  // file permission bits (permOrder), exec as permExec
	reject, skip string // events of this shape are rejected or not modelled
	events       int
	denied       int
	last         time.Time
	// ruleNamesIt: the rule itself names the event's path or capability,
	// so the sample keeps no examples (they would repeat the rule).
	ruleNamesIt bool
	Sample
}

// maxReasons bounds the distinct reasons kept per activity; logs full of
// distinct garbage count under one catch-all.
const maxReasons = 32

// NewAggregator returns an empty aggregator.
func NewAggregator() *Aggregator { return &Aggregator{acts: map[actKey]*activity{}} }

// Label returns the profile label an event is filed under: the logged one,
// with a hat's `^` spelled as the kernel's `//`. Children and hats keep
// their own label; Judge decides where complain mode's null children go.
func Label(profile string) string {
	if i := strings.IndexByte(profile, '^'); i > 0 && !strings.Contains(profile, "//") {
		return profile[:i] + "//" + profile[i+1:]
	}
	return profile
}

// ProfileOf is the top-level profile of a label: the one whose file holds it.
func ProfileOf(label string) string {
	label = Label(label)
	if i := strings.Index(label, "//"); i > 0 {
		return label[:i]
	}
	return label
}

// Add folds one event in. Events that are not about a confined process
// (STATUS, HINT, ERROR, unconfined) are ignored. The event is not kept:
// what is remembered is copied.
func (a *Aggregator) Add(ev *auditlog.Event) {
	var mode string
	switch ev.Kind {
	case auditlog.Allowed:
		mode = "complain"
	case auditlog.Denied:
		mode = "enforce"
	case auditlog.Audit:
		mode = "audit"
	default:
		return
	}
	label := ev.Profile
	if label == "" || label == "unconfined" {
		return
	}
	act := a.last
	if act == nil || a.lastKey.label != label || a.lastKey.mode != mode {
		k := actKey{label, mode}
		if act = a.acts[k]; act == nil {
			l := strings.Clone(Label(label))
			act = &activity{Activity: Activity{Profile: l, Mode: mode}, rules: map[string]*ruleAcc{}}
			if a.Options != nil {
				act.opts = a.Options(ProfileOf(l))
			}
			k = actKey{strings.Clone(label), mode}
			a.acts[k] = act
		}
		a.last, a.lastKey = act, k
	}
	act.Events++
	if !ev.Time.IsZero() {
		if act.First.IsZero() || ev.Time.Before(act.First) {
			act.First = ev.Time
		}
		if ev.Time.After(act.Last) {
			act.Last = ev.Time
		}
	}
	if mode == "audit" {
		return
	}
	key := eventKeyOf(ev, act.opts)
	var bits uint8
	if key.kind == kindFile {
		var bad bool
		if bits, bad = fileMaskBits(ev); bad {
			act.count(&act.Rejected, "file: "+fieldText("requested_mask", fileMask(ev))+" is not a file permission mask")
			return
		}
	}
	a.keyBuf = key.appendTo(a.keyBuf[:0])
	acc := act.rules[string(a.keyBuf)] // no allocation for the lookup
	if acc == nil {
		// The event's strings belong to the reader's buffer: the key and
		// the rule built from it get copies of their own.
		acc = newRuleAcc(key.clone(), ev, act.opts)
		if key.kind == kindFile && !key.glob || key.kind == kindCap {
			acc.ruleNamesIt = true
		}
		act.rules[string(a.keyBuf)] = acc
	}
	switch {
	case acc.reject != "":
		act.count(&act.Rejected, acc.reject)
		return
	case acc.skip != "":
		act.count(&act.Skipped, acc.skip)
		return
	case key.kind == kindFile && bits == 0:
		act.count(&act.Rejected, "file: "+ev.Operation+" event without a permission mask")
		return
	}
	acc.perms |= bits
	acc.events++
	if ev.Kind == auditlog.Denied {
		acc.denied++
	}
	if ev.Time.After(acc.last) {
		acc.last = ev.Time
	}
	if acc.events <= sampleEvents || acc.events&(acc.events-1) == 0 {
		addSample(&acc.Operations, ev.Operation)
		addSample(&acc.Commands, ev.Command)
		if !acc.ruleNamesIt {
			addSample(&acc.Examples, ev.Name)
		}
	}
}

func (act *activity) count(m *map[string]int, reason string) {
	if *m == nil {
		*m = map[string]int{}
	}
	if _, ok := (*m)[reason]; !ok && len(*m) >= maxReasons {
		reason = "other reasons"
	}
	(*m)[reason]++
}

// newRuleAcc builds the rule for the first event of a shape: a shape whose
// values the rule model refuses is remembered as rejected, so its later
// events cost a map lookup.
func newRuleAcc(key ruleKey, ev *auditlog.Event, o RuleOptions) *ruleAcc {
	acc := &ruleAcc{}
	r, err := buildRule(key, ev, o)
	switch {
	case err == nil:
		acc.rule = r
	case isRejection(err):
		acc.reject = reasonText(ev, err)
	default:
		acc.skip = reasonText(ev, err)
	}
	return acc
}

// reasonText keeps a reason short and printable: one entry per kind of
// problem, named by the event class and operation.
func reasonText(ev *auditlog.Event, err error) string {
	op := ev.Operation
	if ev.Class != "" {
		op = ev.Class + "/" + op
	}
	msg := err.Error()
	if strings.Contains(msg, "not modelled") {
		return op + ": not modelled"
	}
	if len(msg) > 120 {
		msg = msg[:120] + "…"
	}
	return strings.ToValidUTF8(op+": "+msg, "?")
}

// Activities returns what was aggregated, sorted by profile and mode, with
// proposals sorted by rule text.
func (a *Aggregator) Activities() []Activity {
	out := make([]Activity, 0, len(a.acts))
	for _, act := range a.acts {
		res := act.Activity
		res.Proposals = make([]Proposal, 0, len(act.rules))
		byText := map[string]int{}
		for k, acc := range act.rules {
			delete(act.rules, k) // what is converted need not stay twice
			if acc.rule == nil || acc.events == 0 {
				continue
			}
			r := acc.rule
			if f, ok := r.(File); ok {
				f.Perms, f.Exec = permsOf(acc.perms)
				r = f
			}
			if acc.ruleNamesIt {
				acc.Examples = []string{ruleExample(r)}
			}
			text := r.String()
			if i, ok := byText[text]; ok { // two shapes, one rule (e.g. a path seen raw and hex-encoded)
				p := &res.Proposals[i]
				p.Events += acc.events
				p.Denied += acc.denied
				p.Last = later(p.Last, acc.last)
				p.merge(acc.Sample)
				continue
			}
			byText[text] = len(res.Proposals)
			res.Proposals = append(res.Proposals, Proposal{
				Rule: r, Text: text, Kind: RuleKind(r),
				Events: acc.events, Denied: acc.denied, Last: acc.last, Sample: acc.Sample,
			})
		}
		slices.SortFunc(res.Proposals, func(x, y Proposal) int { return strings.Compare(x.Text, y.Text) })
		out = append(out, res)
	}
	slices.SortFunc(out, func(x, y Activity) int {
		if c := strings.Compare(x.Profile, y.Profile); c != 0 {
			return c
		}
		return strings.Compare(x.Mode, y.Mode)
	})
	return out
}

// ruleExample is the path or name a rule that names its events shows as
// their example.
func ruleExample(r Rule) string {
	switch r := r.(type) {
	case File:
		return r.Path.Text()
	case Capability:
		return strings.Join(r.Names, " ")
	}
	return ""
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// RuleKind names a rule's class: file, capability, network, …
func RuleKind(r Rule) string {
	switch r.(type) {
	case File:
		return "file"
	case Capability:
		return "capability"
	case Network:
		return "network"
	case Signal:
		return "signal"
	case Ptrace:
		return "ptrace"
	case Mount, Umount, PivotRoot:
		return "mount"
	case Unix:
		return "unix"
	case DBus:
		return "dbus"
	case ChangeProfile:
		return "change_profile"
	}
	return "other"
}
