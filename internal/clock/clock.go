// Package clock is where ctsec reads the time of day. Every date it writes
// (complain-since headers, backup and change ids, journal entries, report
// timestamps) and every window or deadline it computes from "now" comes from
// a Clock passed in, so tests pin it and the suite does not depend on the
// day it runs.
//
// Elapsed-time measurements that never become a date (timeouts, progress
// throttling) may use the time package directly; everything else takes a
// Clock.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current time.
type Clock interface {
	Now() time.Time
}

// System is the machine's wall clock, what the ctsec binary uses.
type System struct{}

// Now is time.Now.
func (System) Now() time.Time { return time.Now() }

// Or returns c, or the system clock when c is nil: the zero value of an
// options struct keeps working for library callers.
func Or(c Clock) Clock {
	if c == nil {
		return System{}
	}
	return c
}

// Fixed is a clock stopped at one instant.
type Fixed time.Time

// Now returns the instant.
func (f Fixed) Now() time.Time { return time.Time(f) }

// Step is a clock that starts at an instant and moves on by a fixed step
// each time it is read, so that things made one after another in a test
// still have distinct, ordered times while every date stays predictable.
// It is safe for concurrent use.
type Step struct {
	mu   sync.Mutex
	next time.Time
	step time.Duration
}

// NewStep returns a Step clock whose first reading is start.
func NewStep(start time.Time, step time.Duration) *Step {
	return &Step{next: start, step: step}
}

// Now returns the current reading and advances the clock.
func (s *Step) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.next
	s.next = s.next.Add(s.step)
	return t
}
