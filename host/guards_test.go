package host

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Every lockout guard the modules raise has a fix for plan to print under
// it: a refusal says what to change, not only "--force".
func TestEveryGuardHasAFix(t *testing.T) {
	guard := regexp.MustCompile(`Guard: *"([a-z0-9-]+)"`)
	files, _ := filepath.Glob("*/*.go")
	more, _ := filepath.Glob("*.go")
	seen := 0
	for _, f := range append(files, more...) {
		if matched, _ := filepath.Match("*_test.go", filepath.Base(f)); matched {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range guard.FindAllStringSubmatch(string(b), -1) {
			seen++
			if GuardFix(m[1]) == "" {
				t.Errorf("%s: guard %s has no fix in guards.go", f, m[1])
			}
		}
	}
	if seen < 10 {
		t.Errorf("found %d guards; the pattern no longer matches the modules' code", seen)
	}
}
