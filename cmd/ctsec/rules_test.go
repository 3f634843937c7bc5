package main

import (
	"bytes"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// docs/rules.md is made from the rule tables; a table changed without
// the page fails here (go test ./cmd/ctsec -run TestRulesDoc -update).
func TestRulesDoc(t *testing.T) {
	var b bytes.Buffer
	writeRulesDoc(&b)
	testenv.Golden(t, "../../docs/rules.md", b.Bytes())
}

// Every table follows the one scheme, and no id is in two tables.
func TestRuleTables(t *testing.T) {
	seen := map[string]string{}
	for _, area := range catalogue() {
		if err := area.Rules.Check(); err != nil {
			t.Errorf("%s: %v", area.Name, err)
		}
		for _, r := range area.Rules {
			if other, ok := seen[r.ID]; ok {
				t.Errorf("%s is in the %s and the %s table", r.ID, other, area.Name)
			}
			seen[r.ID] = area.Name
			if got := r.ID[:len(area.Name)+1]; got != area.Name+"/" {
				t.Errorf("%s is in the %s table", r.ID, area.Name)
			}
		}
	}
}
