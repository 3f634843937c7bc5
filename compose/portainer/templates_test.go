package portainer_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/compose/portainer"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

func TestAuditTemplatesCorpus(t *testing.T) {
	root := testenv.Shared(t, "corpus")
	for _, tt := range []struct{ file, stacks string }{
		{"portainer-templates/master/templates-2.0.json", "compose/portainer-templates/master"},
		{"portainer-templates/v3/templates.json", "compose/portainer-templates/v3"},
	} {
		p := filepath.Join(root, tt.file)
		src, err := portainer.ReadTemplates(p)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := portainer.AuditTemplates(p, src, filepath.Join(root, tt.stacks))
		if err != nil {
			t.Fatal(err)
		}
		byRule := map[string]int{}
		var sematext bool
		for _, f := range fs {
			byRule[f.Rule]++
			if f.Line == 0 {
				t.Errorf("%s: finding without line: %+v", tt.file, f)
			}
			if f.Rule == "compose/privileged" && strings.Contains(f.Message, "Sematext") {
				sematext = true
				if line := lineOf(src, f.Line); !strings.Contains(line, "{") {
					t.Errorf("line %d is not the template's opening: %q", f.Line, line)
				}
			}
		}
		if !sematext || byRule["compose/docker-socket"] < 3 || byRule["compose/db-port-exposed"] == 0 || byRule["compose/sensitive-mount"] == 0 {
			t.Errorf("%s: findings by rule %v", tt.file, byRule)
		}
		// Stack templates' compose files are audited where the corpus holds
		// them (v3 does; master's stack files are not in it) and named otherwise.
		if strings.HasPrefix(tt.file, "portainer-templates/v3") && byRule["compose/cap-drop-all"] < 10 {
			t.Errorf("%s: stack files not audited: %v", tt.file, byRule)
		}
		for _, f := range fs {
			if f.Rule == "portainer/stack-template" && (f.Severity != report.Info || !strings.Contains(f.Message, "is not in")) {
				t.Errorf("stack template finding: %+v", f)
			}
		}
	}
	if _, err := portainer.AuditTemplates("x.json", []byte(`{"services":{}}`), ""); err == nil {
		t.Error("non-templates JSON accepted")
	}
}

func lineOf(src []byte, n int) string {
	lines := strings.Split(string(src), "\n")
	if n-1 < len(lines) {
		return lines[n-1]
	}
	return ""
}
