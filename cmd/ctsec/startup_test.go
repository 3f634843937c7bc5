package main

import (
	"context"
	"io"
	"testing"

	"github.com/ctsec/ctsec/internal/clock"
)

// BenchmarkVersion is the in-process part of a command's start-up: the
// command tree built and the smallest command run (docs/startup.md has the
// whole-process figures).
func BenchmarkVersion(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if code := run(context.Background(), clock.System{}, []string{"version"}, nil, io.Discard, io.Discard); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}

// BenchmarkRootCmd is the command tree alone.
func BenchmarkRootCmd(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		newRootCmd(&app{clock: clock.System{}})
	}
}
