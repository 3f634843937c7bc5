package apparmor

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"time"
)

// complainMarker is the header comment that records since when a file's
// profiles are in complain mode: the review's days-in-complain count, which
// keeps a profile from being called ready before it has been watched long
// enough. gen writes it, load keeps the installed file's, demote sets it
// and promote removes it. Without it the review falls back to the file's
// modification time, which any edit or copy resets.
const complainMarker = "ctsec: complain since "

// complainSinceHeader reads the marker from a profile's header comments.
func complainSinceHeader(p *Profile) (time.Time, bool) {
	for _, h := range p.Header {
		if v, ok := strings.CutPrefix(h, complainMarker); ok {
			if t, err := time.Parse(time.RFC3339, strings.TrimSpace(v)); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// setComplainMarker records in p's header when it entered complain mode
// (keeping an earlier record: the profile has been in complain since then),
// or removes the record when mode is not complain.
func setComplainMarker(p *Profile, mode string, now time.Time) {
	var kept []string
	had := false
	for _, h := range p.Header {
		if strings.HasPrefix(h, complainMarker) {
			had = true
			if mode == "complain" {
				kept = append(kept, h)
			}
			continue
		}
		kept = append(kept, h)
	}
	if mode == "complain" && !had {
		kept = append(kept, complainMarker+now.UTC().Format(time.RFC3339))
	}
	p.Header = kept
}

// markerLine matches the marker as a line of profile text.
var markerLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^[ \t]*#[ \t]*` + regexp.QuoteMeta(complainMarker) + `[^\n]*\n?`)
})

// ComplainSince returns the time recorded in a profile file's marker.
func ComplainSince(data []byte) (time.Time, bool) {
	m := markerLine().Find(data)
	if m == nil {
		return time.Time{}, false
	}
	_, v, _ := strings.Cut(string(m), complainMarker)
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	return t, err == nil
}

// WithComplainSince returns profile text with its marker set to t, or
// removed when t is zero. It edits the text rather than re-rendering it, so
// a hand-written file keeps its layout byte for byte. The marker is replaced
// where it is; a new one goes on the first line, where the parser reads it as
// a header comment.
func WithComplainSince(data []byte, t time.Time) []byte {
	if t.IsZero() {
		return markerLine().ReplaceAll(data, nil)
	}
	line := "# " + complainMarker + t.UTC().Format(time.RFC3339) + "\n"
	loc := markerLine().FindIndex(data)
	if loc == nil {
		return append([]byte(line), data...)
	}
	out := make([]byte, 0, len(data)+len(line))
	out = append(append(append(out, data[:loc[0]]...), line...), data[loc[1]:]...)
	return out
}

// KeepComplainSince carries the marker of the file data replaces over to
// data when both are in complain mode, so regenerating or reinstalling a
// profile neither resets its days in complain mode nor shows a change that
// is only a new date. Anything else returns data unchanged.
func KeepComplainSince(data, old []byte) []byte {
	since, ok := ComplainSince(old)
	if !ok || !inComplain(old) || !inComplain(data) {
		return data
	}
	return WithComplainSince(data, since)
}

// inComplain reports whether every profile in the text is in complain mode.
func inComplain(data []byte) bool {
	ps, err := Parse("", bytes.NewReader(data))
	if err != nil || len(ps) == 0 {
		return false
	}
	for _, p := range ps {
		if p.Mode() != "complain" {
			return false
		}
	}
	return true
}
