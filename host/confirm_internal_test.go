package host

import (
	"regexp"
	"slices"
	"testing"
	"time"
)

// The systemd path of --confirm-within cannot run here (systemd is not PID
// 1), so this pins what it hands systemd-run: one transient timer per change,
// named so confirm can stop it, firing no earlier than the deadline, running
// exactly the rollback command.
func TestTimerArgs(t *testing.T) {
	cmd := []string{"/usr/local/bin/ctsec", "host", "rollback", "--state-dir", "/var/lib/my state", "--if-unconfirmed", "20260101T020000Z-a1b2c3"}
	tests := []struct {
		within time.Duration
		active string
	}{
		{5 * time.Minute, "--on-active=300s"},
		{1500 * time.Millisecond, "--on-active=2s"},
		{time.Second, "--on-active=1s"},
	}
	for _, tt := range tests {
		unit, args := timerArgs("20260101T020000Z-a1b2c3", tt.within, cmd)
		if unit != "ctsec-rollback-20260101T020000Za1b2c3" {
			t.Errorf("unit = %q", unit)
		}
		// systemd unit names: ASCII letters, digits, ":_.\-", at most 255.
		if !regexp.MustCompile(`^[A-Za-z0-9:_.\\-]{1,240}$`).MatchString(unit) {
			t.Errorf("%q is not a valid unit name", unit)
		}
		want := append([]string{"--unit=" + unit, tt.active, "--timer-property=AccuracySec=1s",
			"--description=ctsec host rollback unless confirmed", "--"}, cmd...)
		if !slices.Equal(args, want) {
			t.Errorf("within %v: systemd-run %q\nwant %q", tt.within, args, want)
		}
	}
}
