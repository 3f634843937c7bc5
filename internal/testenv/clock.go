package testenv

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
)

// NowEnv moves the instant tests run at: CTSEC_TEST_NOW=2036-12-02 (or an
// RFC 3339 time) runs the suite as if on that day, to prove that no test
// depends on the day it really runs. Only the test helpers read it; the
// ctsec binary never does.
const NowEnv = "CTSEC_TEST_NOW"

// DefaultNow is the instant tests run at when NowEnv is not set.
var DefaultNow = time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)

var (
	testClockOnce sync.Once
	testClock     *clock.Step
	testClockErr  error
)

// Now is the instant the tests run at: DefaultNow, or NowEnv's value.
// Tests that build dated inputs (complain-since headers, windows, backups)
// build them from Now, never from the wall clock.
func Now(t testing.TB) time.Time {
	t.Helper()
	now, err := pinnedNow()
	if err != nil {
		t.Fatal(err)
	}
	return now
}

func pinnedNow() (time.Time, error) {
	v := os.Getenv(NowEnv)
	if v == "" {
		return DefaultNow, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s=%q: want a date (2036-12-02) or an RFC 3339 time", NowEnv, v)
}

// Clock is the clock code under test reads: it starts at Now and moves on
// by a microsecond at every reading, so changes made one after another
// still get distinct, ordered times, while every date and second stays
// what Now says. One clock serves the whole test binary.
func Clock(t testing.TB) clock.Clock {
	t.Helper()
	testClockOnce.Do(func() {
		var now time.Time
		now, testClockErr = pinnedNow()
		testClock = clock.NewStep(now, time.Microsecond)
	})
	if testClockErr != nil {
		t.Fatal(testClockErr)
	}
	return testClock
}
