package apparmor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ctsec/ctsec/apparmor/internal/loggen"
	"github.com/ctsec/ctsec/internal/clock"
)

// BenchmarkReview measures the streaming review (read, parse, dedup,
// aggregate into rules, judge) of a varied synthetic audit.log (loggen: 30
// profiles, nearly every AppArmor record a distinct shape) in which 10% of
// the lines are AppArmor events. The 1 GiB figures beside grep and peak RSS
// come from the documented command in docs/apparmor-review.md.
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

// BenchmarkReviewScaling reviews 64 MiB, 256 MiB and 1 GiB of the same
// varied log from a file, as the command does: time per GiB should stay
// level, and the heap follow the rules proposed, not the log's size or its
// number of event shapes. heap-MiB is the heap the runtime obtained (its
// high-water mark); rules the proposals of the last review.
func BenchmarkReviewScaling(b *testing.B) {
	dir := b.TempDir()
	for _, size := range []int64{64 << 20, 256 << 20, 1 << 30} {
		name := fmt.Sprintf("%dMiB", size>>20)
		path := filepath.Join(dir, name+".log")
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := loggen.Generate(f, loggen.Options{Size: size}); err != nil {
			b.Fatal(err)
		}
		f.Close()
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			rules := 0
			runtime.GC()
			for b.Loop() {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				rv, err := ReviewLogs([]Input{{Name: name, Reader: f}}, "", ReviewOptions{Clock: clock.Fixed(reviewNow)})
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
				rules = 0
				for _, p := range rv.Profiles {
					rules += len(p.Proposed)
				}
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-MiB")
			b.ReportMetric(float64(rules), "rules")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*float64(1<<30)/float64(size), "s/GiB")
		})
	}
}
