package host

import "testing"

func TestRulesTable(t *testing.T) {
	if err := Rules.Check(); err != nil {
		t.Fatal(err)
	}
}
