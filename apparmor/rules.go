package apparmor

import "github.com/ctsec/ctsec/internal/report"

// Rule ids of status, promote and demote (validate's and review's are
// beside them).
const (
	RuleContainerProfileNotLoaded = "apparmor/container-profile-not-loaded"
	RuleProfileUnreadable         = "apparmor/profile-unreadable"
	RuleProfileNotLoaded          = "apparmor/profile-not-loaded"
	RulePromoteFailed             = "apparmor/promote-failed"
	RuleDemoteFailed              = "apparmor/demote-failed"
)

// Rules is every AppArmor rule, for SARIF, --help and docs/rules.md.
var Rules = report.Rules{
	{ID: RuleSyntax, Severity: report.High, Title: "profile syntax error",
		Description: "ctsec's own parser found an unbalanced brace, a rule without its comma, an unknown permission, exec mode, flag or keyword.",
		Help:        "fix the line named; apparmor_parser would refuse the file"},
	{ID: RuleMultipleProfiles, Severity: report.High, Title: "several profiles in one file",
		Description: "ctsec installs one profile per file, named after it, so load, promote and rollback act on exactly one profile.",
		Help:        "split the file, or pass --allow-multiple"},
	{ID: RuleParser, Severity: report.High, Title: "apparmor_parser refuses the profile",
		Description: "apparmor_parser -QK compiled the profile against the pinned AppArmor 3.0 feature ABI and failed.",
		Help:        "fix the line apparmor_parser names"},
	{ID: RuleParserMissing, Severity: report.Low, Title: "apparmor_parser is not installed",
		Description: "Only ctsec's structural checks ran; the kernel's own compiler did not see the profile.",
		Help:        "apt-get install apparmor"},
	{ID: RuleContainerProfileNotLoaded, Severity: report.High, Title: "a container's AppArmor profile is not loaded",
		Description: "Docker refuses to start a container whose profile the kernel does not have: it fails at its next start.",
		Help:        "load the profile: ctsec apparmor load --write FILE"},
	{ID: RuleProfileUnreadable, Severity: report.Medium, Title: "a profile file does not parse",
		Help: "fix the file: ctsec apparmor validate FILE"},
	{ID: RuleProfileNotLoaded, Severity: report.Low, Title: "a profile on disk is not loaded",
		Help: "ctsec apparmor load --write FILE, or remove the file"},
	{ID: RuleReviewBreaking, Severity: report.High, Title: "an enforce-mode profile is denying what the service does",
		Description: "The service is being blocked now: the logs show denials of an enforcing profile in the window.",
		Help:        "add the proposed rules (ctsec apparmor promote PROFILE --add-rules --write) or go back to complain mode (ctsec apparmor demote PROFILE --write)"},
	{ID: RuleReviewNeedsRules, Severity: report.Medium, Title: "complain-mode profile would have denied events",
		Description: "Events in the window are not allowed by the profile yet: enforcing it now would block them.",
		Help:        "review the proposed rules, then ctsec apparmor promote PROFILE --add-rules"},
	{ID: RuleReviewBlocked, Severity: report.High, Title: "the logs lost events in the review window",
		Description: "A log that dropped records proves nothing: a quiet profile may have been busy.",
		Help:        "raise the audit backlog (auditctl -b 8192) or disable printk rate limiting, then review a new window"},
	{ID: RuleReviewDenyRule, Severity: report.Medium, Title: "the profile's own deny rule denied an access",
		Description: "Deny rules are enforced in complain mode too, so no allow rule is proposed for what they denied.",
		Help:        "if the service needs it, narrow or remove the deny rule; otherwise nothing to do"},
	{ID: RuleReviewCoverage, Severity: report.Medium, Title: "the logs do not cover the review window",
		Description: "The logs read start after the window does (rotated away, or a journal that keeps less), so quiet days may be unrecorded.",
		Help:        "name the older logs with --log (audit.log.N, kern.log.N.gz), keep more of them, or shorten --since"},
	{ID: RulePromoteFailed, Severity: report.High, Title: "promote failed and the profile was restored",
		Help: "fix the profile file; it was restored from its backup"},
	{ID: RuleDemoteFailed, Severity: report.High, Title: "demote failed and the profile was restored",
		Help: "fix the profile file; it was restored from its backup"},
}

// ValidateRules are the rules validate evaluates.
func ValidateRules() report.Rules {
	return pick(RuleSyntax, RuleMultipleProfiles, RuleParser, RuleParserMissing)
}

// StatusRules are the rules status evaluates.
func StatusRules() report.Rules {
	return pick(RuleContainerProfileNotLoaded, RuleProfileUnreadable, RuleProfileNotLoaded)
}

// ReviewRules are the rules review evaluates.
func ReviewRules() report.Rules {
	return pick(RuleReviewBreaking, RuleReviewNeedsRules, RuleReviewBlocked, RuleReviewDenyRule, RuleReviewCoverage)
}

func pick(ids ...string) report.Rules {
	var out report.Rules
	for _, id := range ids {
		if r, ok := Rules.Lookup(id); ok {
			out = append(out, r)
		}
	}
	return out
}
