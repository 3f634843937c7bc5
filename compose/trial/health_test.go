package trial

import (
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

// A service was judged "not healthy within 3s" on a loaded host while
// Docker still had it starting, and --verify backed off edits that worked:
// the verdict waits for the healthcheck's own schedule.
func TestHealthSchedule(t *testing.T) {
	tests := []struct {
		hc   *container.HealthConfig
		want time.Duration
	}{
		{nil, 0},
		{&container.HealthConfig{}, 3 * 60 * time.Second}, // Docker's defaults: 3 × (30 s + 30 s)
		{&container.HealthConfig{Interval: time.Second, Timeout: 2 * time.Second, Retries: 5}, 15 * time.Second},
		{&container.HealthConfig{Interval: time.Second, Timeout: time.Second, Retries: 2, StartPeriod: 10 * time.Second}, 14 * time.Second},
		{&container.HealthConfig{Interval: time.Hour}, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := healthSchedule(tt.hc); got != tt.want {
			t.Errorf("healthSchedule(%+v) = %s, want %s", tt.hc, got, tt.want)
		}
	}
}
