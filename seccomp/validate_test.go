package seccomp

import (
	"testing"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

func TestValidateDefaultSmoke(t *testing.T) {
	p, schema, err := Load(testenv.Shared(t, "conformance", "moby-seccomp", "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	v := Validate(p, schema, DefaultTarget(), NewResolver())
	for _, f := range v.Findings {
		t.Logf("%s %s %s %s", f.Where(), f.Severity, f.Rule, f.Message)
	}
	if v.Errors() != 0 {
		t.Errorf("errors: %d", v.Errors())
	}
	_ = report.High
}
