package apparmor

import "testing"

func TestRulesTable(t *testing.T) {
	if err := Rules.Check(); err != nil {
		t.Fatal(err)
	}
	for _, rs := range [][]string{{RuleSyntax}, {RuleReviewBlocked}} {
		if _, ok := Rules.Lookup(rs[0]); !ok {
			t.Errorf("%s not in the table", rs[0])
		}
	}
}
