package apparmor

import (
	"context"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

func TestValidate(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	tests := []struct {
		name, text string
		multi      bool
		rule       string
		line       int
	}{
		{"good", "profile ok {\n  /x r,\n}\n", false, "", 0},
		{"unterminated", "profile a {\n  /x r\n  /y r,\n}\n", false, RuleSyntax, 2},
		{"unbalanced", "profile a {\n  /x r,\n", false, RuleSyntax, 2},
		{"permission", "profile a {\n\n  /x rwq,\n}\n", false, RuleSyntax, 3},
		{"two", "profile a {\n}\nprofile b {\n}\n", false, RuleMultipleProfiles, 1},
		{"two allowed", "profile a {\n}\nprofile b {\n}\n", true, "", 0},
		{"parser", "profile a {\n  /x r,\n  network inet6 dgram udp,\n}\n", false, RuleParser, 3},
		{"undeclared variable", "profile a {\n  @{NOPE}/x r,\n}\n", false, RuleParser, 0},
		// without `abi <abi/3.0>,` the policy's features are not the pinned
		// ones and the parser would not enforce the rule
		{"not enforced", "profile a {\n  dbus (send) bus=system,\n}\n", false, RuleParser, 0},
	}
	for _, tt := range tests {
		fs, err := Validate(context.Background(), tt.name+".profile", []byte(tt.text), ValidateOptions{AllowMultiple: tt.multi})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if tt.rule == "" {
			if len(fs) > 0 {
				t.Errorf("%s: unexpected findings %+v", tt.name, fs)
			}
			continue
		}
		if len(fs) == 0 || fs[0].Rule != tt.rule || fs[0].Line != tt.line || fs[0].File != tt.name+".profile" {
			t.Errorf("%s: findings %+v, want %s at line %d", tt.name, fs, tt.rule, tt.line)
		}
		if strings.Contains(fs[0].Message, "exited") {
			t.Errorf("%s: the parser's reason is missing: %q", tt.name, fs[0].Message)
		}
		if strings.Contains(fs[0].Message, "\n") {
			t.Errorf("%s: multi-line message %q", tt.name, fs[0].Message)
		}
	}
}
