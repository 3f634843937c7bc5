package apparmor

import (
	"bytes"
	"testing"

	"github.com/ctsec/ctsec/apparmor/internal/loggen"
	"github.com/ctsec/ctsec/internal/clock"
)

// BenchmarkReview measures the streaming review (read, parse, dedup,
// aggregate into rules, judge) of a synthetic audit.log in which 10% of the
// lines are AppArmor events. The 1 GB figure and peak RSS come from the
// documented command in docs/apparmor-review.md.
func BenchmarkReview(b *testing.B) {
	data, lines := loggen.Data(64<<20, 10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rv, err := ReviewLogs([]Input{{Name: "bench", Reader: bytes.NewReader(data)}}, "",
			ReviewOptions{Clock: clock.Fixed(reviewNow)})
		if err != nil {
			b.Fatal(err)
		}
		if len(rv.Profiles) == 0 {
			b.Fatal("no profiles")
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
