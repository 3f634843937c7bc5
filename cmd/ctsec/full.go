//go:build !lean

package main

import (
	"github.com/ctsec/ctsec/compose"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/spf13/cobra"
)

// The default build links the commands that read compose files (compose,
// portainer) and man, whose libraries cost every command start-up time
// (docs/startup.md); a build with -tags lean runs them through this build,
// installed as ctsec-compose (lean.go).

func composeCmds() []topCmd {
	return []topCmd{
		{"compose", newComposeCmd},
		{"portainer", newPortainerCmd},
		{"man", func(a *app) *cobra.Command { return newManCmd(a, nil) }},
	}
}

// delegated is nil: everything runs here.
func delegated(*cobra.Command, []string) *cobra.Command { return nil }

func (a *app) delegate(*cobra.Command, []string) error { return nil }

func (a *app) composeCheck() doctorCheck {
	return doctorCheck{Rule: "doctor/compose-commands", Name: "compose commands", OK: true,
		Detail: "linked into this build", Needed: "compose, portainer, man"}
}

func composeRuleArea() ruleArea {
	return ruleArea{"compose", "compose audit, compose harden (warnings), portainer audit, portainer templates", compose.Rules}
}

func composeAuditRules() report.Rules { return compose.AuditRules() }
