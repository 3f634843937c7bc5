package apparmor

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctsec/ctsec/internal/report"
)

// Findings are the review's actionable results: profiles being blocked
// now, profiles that need rules, events the profiles' own deny rules
// caused, logs that lost events or do not cover the window. Ready and idle
// profiles are in the data, not findings.
func (rv *Review) Findings() []report.Finding {
	var out []report.Finding
	for _, p := range rv.Profiles {
		switch p.Verdict {
		case VerdictBreaking:
			fix := "the service is being blocked now: review the rules below, then add them (ctsec apparmor promote " + shellWord(p.Profile) + " --add-rules --write) or go back to complain mode (ctsec apparmor demote " + shellWord(p.Profile) + " --write)"
			if p.File == "" {
				fix = "the service is being blocked now; the profile is not defined in the profiles directory: add the rules below where it is defined"
			}
			out = append(out, report.Finding{
				Rule: RuleReviewBreaking, Severity: report.High, Target: p.Profile, File: p.File,
				Message: fmt.Sprintf("profile %s: %s", safeText(p.Profile), p.Reason), Fix: fix,
			})
		case VerdictNeedsRules:
			fix := "review the proposed rules, then: ctsec apparmor promote " + shellWord(p.Profile) + " --add-rules"
			switch {
			case p.File == "":
				// promote only edits files in the profiles directory
				fix = "the profile is not defined in the profiles directory: add the proposed rules where it is defined, or name that directory with --profiles-dir"
			case strings.Contains(p.Profile, "//"):
				fix = "a hat or child profile: add the proposed rules to its block in " + p.File + " by hand (promote edits top-level profiles)"
			}
			out = append(out, report.Finding{
				Rule: RuleReviewNeedsRules, Severity: report.Medium, Target: p.Profile, File: p.File,
				Message: fmt.Sprintf("profile %s: %s", safeText(p.Profile), p.Reason),
				Fix:     fix,
			})
		case VerdictBlocked:
			out = append(out, report.Finding{
				Rule: RuleReviewBlocked, Severity: report.High, Target: p.Profile, File: p.File,
				Message: fmt.Sprintf("profile %s: %s", safeText(p.Profile), p.Reason),
				Fix:     "raise the audit backlog (auditctl -b 8192) or disable printk rate limiting, then review a new window",
			})
		}
		if p.Verdict != VerdictBreaking {
			for _, g := range p.DeniedByRule {
				out = append(out, report.Finding{
					Rule: RuleReviewDenyRule, Severity: report.Medium, Target: p.Profile, File: p.File,
					Message: fmt.Sprintf("profile %s: its rule %s denied %s (enforced in complain mode too; no allow rule is proposed for it)",
						safeText(p.Profile), g.Rule, sampleText(g.Sample, g.Events)),
					Fix: "if the service needs this, narrow or remove the deny rule; otherwise nothing to do",
				})
			}
		}
	}
	if !rv.WindowCovered {
		out = append(out, report.Finding{
			Rule: RuleReviewCoverage, Severity: report.Medium,
			Message: "the logs read " + coverageText(rv) + "; profiles cannot be called ready on them",
			Fix:     "name the older logs with --log (audit.log.N, kern.log.N.gz), keep more of them (auditd num_logs, logrotate rotate), or shorten --since",
		})
	}
	return out
}

// WriteText writes the review for a person at a terminal.
func (rv *Review) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "AppArmor review %s\n", rv.window())
	for _, warn := range rv.Warnings {
		fmt.Fprintf(w, "warning: %s\n", safeText(warn))
	}
	rv.writeSources(w, "")
	for _, p := range rv.Profiles {
		fmt.Fprintf(w, "\n%s  %s\n", strings.ToUpper(p.Verdict), safeText(p.Profile))
		fmt.Fprintf(w, "  %s\n", p.Reason)
		fmt.Fprintf(w, "  mode %s, %s, events %d (allowed %d, denied %d, audit %d), last activity %s\n",
			orDash(p.Mode), complainText(p), p.Events, p.Allowed, p.Denied, p.Audited, timeText(p.LastActivity))
		if p.File != "" {
			fmt.Fprintf(w, "  file %s\n", safeText(p.File))
		}
		if p.Trend != nil && p.Trend.Summary != "" {
			fmt.Fprintf(w, "  trend: %s\n", p.Trend.Summary)
		}
		if c := containersText(p); c != "" {
			fmt.Fprintf(w, "  %s\n", c)
		}
		for _, r := range p.Proposed {
			fmt.Fprintf(w, "  + %s   # %s\n", r.Text, proposalNote(r))
		}
		for _, g := range p.DeniedByRule {
			fmt.Fprintf(w, "  x %s   # its own deny rule denied %s: not proposed\n", g.Rule, sampleText(g.Sample, g.Events))
		}
		for _, in := range p.Inherited {
			fmt.Fprintf(w, "  < %d event(s) of %s filed here: its exec became %s\n", in.Events, safeText(in.Label), in.ExecRule)
		}
		if p.AlreadyAllowed > 0 {
			fmt.Fprintf(w, "  (%d rule(s) learnt from events are already in the profile)\n", p.AlreadyAllowed)
		}
		for _, k := range slices.Sorted(maps.Keys(p.Rejected)) {
			fmt.Fprintf(w, "  ! rejected %d event(s), a field outside its grammar: %s\n", p.Rejected[k], safeText(k))
		}
		for _, k := range slices.Sorted(maps.Keys(p.Skipped)) {
			fmt.Fprintf(w, "  ! no rule proposed for %d event(s): %s\n", p.Skipped[k], safeText(k))
		}
	}
	c := rv.Counts()
	_, err := fmt.Fprintf(w, "\n%d profile(s): %s%d ready, %d needs-rules, %d idle, %d blocked\n",
		len(rv.Profiles), breakingCount(c), c[VerdictReady], c[VerdictNeedsRules], c[VerdictIdle], c[VerdictBlocked])
	return err
}

func breakingCount(c map[string]int) string {
	if c[VerdictBreaking] == 0 {
		return ""
	}
	return fmt.Sprintf("%d BREAKING, ", c[VerdictBreaking])
}

// proposalNote is "2 event(s)", with what was denied and by whom.
func proposalNote(p Proposal) string {
	s := fmt.Sprintf("%d event(s)", p.Events)
	if p.Denied > 0 {
		s += fmt.Sprintf(", %d DENIED: %s", p.Denied, sampleText(p.Sample, p.Denied))
	} else if len(p.Commands) > 0 {
		s += " by " + safeText(strings.Join(p.Commands, ", "))
	}
	return s
}

// WriteMarkdown writes the review for a weekly ticket.
func (rv *Review) WriteMarkdown(w io.Writer) error {
	fmt.Fprintf(w, "## AppArmor review %s\n\n", rv.window())
	c := rv.Counts()
	fmt.Fprintf(w, "%d profile(s): %s**%d ready**, %d needs-rules, %d idle, %d blocked\n\n",
		len(rv.Profiles), breakingCount(c), c[VerdictReady], c[VerdictNeedsRules], c[VerdictIdle], c[VerdictBlocked])
	rv.writeSources(w, "- ")
	for _, warn := range rv.Warnings {
		fmt.Fprintf(w, "- warning: %s\n", mdText(warn))
	}
	fmt.Fprintln(w)
	if len(rv.Profiles) > 0 {
		fmt.Fprintln(w, "| profile | verdict | mode | days in complain | events | proposed rules | last activity |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
		for _, p := range rv.Profiles {
			fmt.Fprintf(w, "| `%s` | %s | %s | %s | %d | %d | %s |\n", mdText(p.Profile), p.Verdict, orDash(p.Mode),
				complainDays(p), p.Events, len(p.Proposed), timeText(p.LastActivity))
		}
	}
	for _, p := range rv.Profiles {
		fmt.Fprintf(w, "\n### `%s` — %s\n\n%s\n", mdText(p.Profile), p.Verdict, p.Reason)
		if p.Trend != nil && p.Trend.Summary != "" {
			fmt.Fprintf(w, "\nTrend: %s\n", mdText(p.Trend.Summary))
		}
		if c := containersText(p); c != "" {
			fmt.Fprintf(w, "\n%s\n", mdText(c))
		}
		if len(p.Proposed) > 0 {
			fmt.Fprintln(w, "\n```")
			for _, r := range p.Proposed {
				// Rule text is escaped by the renderer and holds no newline;
				// a backtick run cannot close the fence on its own line.
				fmt.Fprintf(w, "%s  # %s\n", r.Text, strings.ReplaceAll(proposalNote(r), "`", "'"))
			}
			fmt.Fprintln(w, "```")
		}
		for _, g := range p.DeniedByRule {
			fmt.Fprintf(w, "\n- denied by its own rule `%s`: %s (not proposed)\n", mdText(g.Rule), mdText(sampleText(g.Sample, g.Events)))
		}
		for _, in := range p.Inherited {
			fmt.Fprintf(w, "- %d event(s) of `%s` filed here: its exec became `%s`\n", in.Events, mdText(in.Label), mdText(in.ExecRule))
		}
		for _, k := range slices.Sorted(maps.Keys(p.Rejected)) {
			fmt.Fprintf(w, "- rejected %d event(s), a field outside its grammar: %s\n", p.Rejected[k], mdText(k))
		}
	}
	return nil
}

func (rv *Review) writeSources(w io.Writer, bullet string) {
	for _, s := range rv.Sources {
		fmt.Fprintf(w, "%s%s: %d lines, %d AppArmor events", bullet, safeText(s.Name), s.Lines, s.Events)
		if s.Malformed > 0 || s.Oversized > 0 {
			fmt.Fprintf(w, ", %d malformed, %d oversized", s.Malformed, s.Oversized)
		}
		fmt.Fprintln(w)
	}
	if rv.Duplicates > 0 {
		fmt.Fprintf(w, "%s%d duplicate event(s) seen through a second transport were dropped\n", bullet, rv.Duplicates)
	}
	if rv.LostEvents {
		fmt.Fprintf(w, "%sWARNING: events were lost: %s\n", bullet, lossSummary(rv.Loss))
	}
	if !rv.WindowCovered {
		fmt.Fprintf(w, "%sWARNING: the logs read %s\n", bullet, coverageText(rv))
	}
	if rv.Loss.Unrelated > 0 {
		fmt.Fprintf(w, "%s%d messages rate-limited outside audit (not blocking)\n", bullet, rv.Loss.Unrelated)
	}
}

func (rv *Review) window() string {
	if rv.Since.IsZero() {
		return "up to " + rv.Until.UTC().Format(time.RFC3339)
	}
	return rv.Since.UTC().Format(time.RFC3339) + " – " + rv.Until.UTC().Format(time.RFC3339)
}

func complainText(p ProfileReview) string {
	if p.Mode != "complain" {
		return "not in complain mode"
	}
	return complainDays(p) + " day(s) in complain mode"
}

func complainDays(p ProfileReview) string {
	if p.Mode != "complain" {
		return "-"
	}
	if p.ComplainSince.IsZero() {
		return "unknown"
	}
	return strconv.Itoa(p.DaysInComplain)
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// safeText keeps names that came from logs from writing control sequences
// to a terminal: anything unprintable is shown quoted.
func safeText(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\ufffd' {
			return strconv.Quote(s)
		}
	}
	return s
}

func mdText(s string) string {
	return strings.NewReplacer("`", "'", "|", `\|`, "<", "&lt;", ">", "&gt;").Replace(safeText(s))
}

// shellWord quotes a profile name for a copy-pasted command.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// containersText says which containers the profile's events come from.
func containersText(p ProfileReview) string {
	switch len(p.Containers) {
	case 0:
		return ""
	case 1:
		c := p.Containers[0]
		return fmt.Sprintf("events of container %s (%.12s, %s): the only one under this profile", safeText(c.Container), c.ID, c.State)
	}
	var names []string
	for _, c := range p.Containers {
		names = append(names, safeText(c.Container))
	}
	return fmt.Sprintf("shared by %d containers (%s): the log cannot tell their events apart; give each its own profile", len(names), strings.Join(names, ", "))
}
