package seccomp

import "testing"

func TestRulesTable(t *testing.T) {
	if err := Rules.Check(); err != nil {
		t.Fatal(err)
	}
	if len(ValidateRules())+len(LintRules()) <= len(Rules) {
		t.Error("validate and lint share the schema rules")
	}
}
