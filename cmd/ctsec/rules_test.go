package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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

// Every rule id the code can report is in a table: a rule added without
// its table entry would reach SARIF without metadata and docs/rules.md
// without a line. The guard reads the source: rule-id constants and
// Rule: fields with a literal id.
func TestEveryRuleIsInATable(t *testing.T) {
	known := map[string]bool{}
	for _, area := range catalogue() {
		for _, r := range area.Rules {
			known[r.ID] = true
		}
	}
	id := regexp.MustCompile(`^(seccomp|apparmor|compose|host|bench|doctor)/[a-z0-9][a-z0-9.-]*$`)
	fset := token.NewFileSet()
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "../.." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		check := func(e ast.Expr) {
			lit, ok := e.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return
			}
			s, _ := strconv.Unquote(lit.Value)
			if id.MatchString(s) && !known[s] {
				t.Errorf("%s: rule %s is in no rule table", fset.Position(lit.Pos()), s)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for _, name := range n.Names {
					if strings.HasPrefix(name.Name, "Rule") || strings.HasPrefix(name.Name, "Lint") {
						for _, v := range n.Values {
							check(v)
						}
					}
				}
			case *ast.KeyValueExpr:
				if k, ok := n.Key.(*ast.Ident); ok && (k.Name == "Rule" || k.Name == "ID") {
					check(n.Value)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
