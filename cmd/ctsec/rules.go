package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/bench"
	"github.com/ctsec/ctsec/cert"
	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/ctsec/ctsec/seccomp"
	"github.com/ctsec/ctsec/status"
	"github.com/spf13/cobra"
)

// ruleArea is one package's rule table as docs/rules.md lists it.
type ruleArea struct {
	Name, Commands string
	Rules          report.Rules
}

// catalogue is every rule table, in the order docs/rules.md lists them.
func catalogue() []ruleArea {
	return []ruleArea{
		{"seccomp", "seccomp validate, seccomp lint", seccomp.Rules},
		{"apparmor", "apparmor validate, status, review, promote, demote", apparmor.Rules},
		composeRuleArea(),
		{"host", "host audit", host.Rules},
		{"bench", "bench (one rule per CIS Docker Benchmark v1.6.0 check)", bench.Rules()},
		{"doctor", "doctor", doctorRules},
		{"status", "status (one rule per checkpoint item; its findings are the item's failures)", status.Rules},
		{"tls", "tls deploy (warnings; a pair that must not be deployed is refused)", cert.Rules},
	}
}

const rulesAnnotation = "ctsec/rules"

// withRules lists the rules a command evaluates at the end of its --help
// (from the same table SARIF's metadata comes from).
func withRules(cmd *cobra.Command, area string) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[rulesAnnotation] = area
	return cmd
}

// helpRules is the rules of a command as its --help shows them.
func helpRules(cmd *cobra.Command) report.Rules {
	switch cmd.Annotations[rulesAnnotation] {
	case "seccomp validate":
		return seccomp.ValidateRules()
	case "seccomp lint":
		return seccomp.LintRules()
	case "apparmor validate":
		return apparmor.ValidateRules()
	case "apparmor status":
		return apparmor.StatusRules()
	case "apparmor review":
		return apparmor.ReviewRules()
	case "compose audit":
		return composeAuditRules()
	case "host audit":
		return host.Rules
	case "doctor":
		return doctorRules
	case "status":
		return status.Rules
	}
	return nil
}

func writeRulesHelp(w io.Writer, cmd *cobra.Command, width int) {
	rules := helpRules(cmd)
	if len(rules) == 0 {
		return
	}
	fmt.Fprintf(w, "\n\nRules (docs/rules.md):\n")
	var b strings.Builder
	t := term.NewTable(&b, width)
	t.Indent = "  "
	t.MinWrap = 24
	for _, r := range rules {
		t.Row(r.ID, r.Severity.String(), r.Title)
	}
	t.Flush()
	fmt.Fprint(w, strings.TrimRight(b.String(), "\n"))
}

// writeRulesDoc writes docs/rules.md from the tables.
func writeRulesDoc(w io.Writer) {
	fmt.Fprint(w, rulesDocHead)
	for _, area := range catalogue() {
		fmt.Fprintf(w, "\n## %s\n\nReported by: %s.\n\n", area.Name, area.Commands)
		fmt.Fprintln(w, "| rule | severity | what it finds | what to do |")
		fmt.Fprintln(w, "|---|---|---|---|")
		for _, r := range area.Rules {
			what := r.Title
			if r.Description != "" {
				what += ". " + r.Description
			}
			fmt.Fprintf(w, "| <a id=\"%s\"></a>`%s` | %s | %s | %s |\n", r.Anchor(), r.ID, r.Severity, mdText(what), mdText(r.Help))
		}
	}
}

func mdText(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) }

const rulesDocHead = `# Rules

<!-- Generated from the rule tables (seccomp/rules.go, apparmor/rules.go, compose/rules.go,
host/rules.go, bench's checks, cmd/ctsec/doctor.go, status/rules.go, cert/rules.go) by go test ./cmd/ctsec -run TestRulesDoc -update.
Do not edit by hand. -->

Every finding ctsec reports names its rule. Rule ids have one scheme, **area/rule**:

- the **area** is the package or command family that reports it: ` + "`seccomp`, `apparmor`, `compose`, `host`, `bench`, `doctor`, `status`, `tls`" + `;
- the **rule** is a lower-case, kebab-case name of the check (` + "`seccomp/unknown-syscall`, `compose/cap-drop-all`" + `);
- a CIS Docker Benchmark recommendation keeps its number: ` + "`bench/cis-5.5`" + ` is CIS 5.5;
- a rule is a check, not a value: what it looked at (an sshd option, a sysctl key, a container) is the
  finding's **target** (` + "`host/ssh-option`" + ` with target ` + "`sshd permitrootlogin`" + `), so a rule
  table is finite and SARIF, JUnit and this page can list every rule.

Each table gives the rule's default severity (a finding may be more or less severe: a read-only
sensitive mount is medium, a writable one high), what it finds and what to do. SARIF output carries
the same text as each rule's shortDescription, fullDescription and help, its helpUri points here,
and its defaultConfiguration level follows the severity (high and critical: error, medium: warning,
low and info: note). JUnit output has one test case per rule a command evaluated (passed, failed,
or skipped with the reason), and ` + "`--help`" + ` of an auditing command lists its rules.

## Where a finding points

One location model across areas (` + "`internal/report.Finding`" + `):

| field | meaning |
|---|---|
| ` + "`file`, `line`, `column`" + ` | the file the finding is in: the input audited (a profile, a compose file), or the host file a value comes from (` + "`/etc/ssh/sshd_config:62`" + `) |
| ` + "`path`" + ` | a JSON or YAML path inside that file (` + "`services.web.cap_add`" + `) |
| ` + "`target`" + ` | what was inspected when it is not a file position: a container, a loaded profile, a host setting, a jail option — never a file:line |

Text output shows ` + "`file:line:column`" + ` when there is a file, else the target; JSON keeps every field;
SARIF puts the file in a physicalLocation and the target and path in logicalLocations.
`
