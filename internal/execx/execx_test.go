package execx

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		tool     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"ok", "sh", []string{"-c", "echo hi"}, 0, "hi\n", ""},
		{"exit code is an answer", "sh", []string{"-c", "echo no >&2; exit 3"}, 3, "", ""},
		{"missing tool", "ctsec-no-such-tool", nil, 0, "", "not found in PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Runner{}.Run(context.Background(), tt.tool, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				var nf *NotFoundError
				if !errors.As(err, &nf) {
					t.Errorf("err is not a NotFoundError: %T", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != tt.wantCode || string(res.Stdout) != tt.wantOut {
				t.Errorf("got %d %q", res.ExitCode, res.Stdout)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	_, err := Runner{Timeout: 50 * time.Millisecond}.Run(context.Background(), "sleep", "5")
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v", err)
	}
}

func TestOutputErrorCarriesStderr(t *testing.T) {
	_, err := Runner{}.Output(context.Background(), "sh", "-c", "echo 'bad thing' >&2; exit 1")
	if err == nil || !strings.Contains(err.Error(), "bad thing") {
		t.Fatalf("err = %v", err)
	}
	if (&NotFoundError{Tool: "sshd"}).Error() != "sshd not found in PATH (install the Debian package openssh-server)" {
		t.Error("hint missing")
	}
}
