package compose

import (
	"fmt"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bigStack is a 1,000-service stack of the usual shapes.
func bigStack(n int) []byte {
	var b strings.Builder
	b.WriteString("# generated benchmark stack\nx-common: &common\n  restart: unless-stopped\n\nservices:\n")
	images := []string{"nginx:1.27", "postgres:16", "redis:7", "example/app:1.0", "mariadb:11"}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  svc%d:\n    <<: *common\n    image: %s\n    ports:\n      - \"%d:80\"\n    volumes:\n      - ./data/%d:/data\n    environment:\n      MODE: production\n    security_opt:\n      - label:disable\n\n",
			i, images[i%len(images)], 10000+i, i)
	}
	return []byte(b.String())
}

// BenchmarkAuditHarden1000 measures what `ctsec compose audit` plus
// `ctsec compose harden` do on a 1,000-service stack: parse, audit, plan,
// patch, and the compose-go reload that verifies the result.
func BenchmarkAuditHarden1000(b *testing.B) {
	b.Run("GOGC=100", func(b *testing.B) { benchAuditHarden(b) })
	b.Run(fmt.Sprintf("GOGC=%d-as-cli", GCPercent), func(b *testing.B) {
		defer debug.SetGCPercent(debug.SetGCPercent(GCPercent))
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(MemoryLimit))
		benchAuditHarden(b)
	})
}

func benchAuditHarden(b *testing.B) {
	src := bigStack(1000)
	b.SetBytes(int64(len(src)))
	// The machine is shared: CPU time per run (user+system, all threads) is
	// reported beside wall time, as it depends less on other load.
	start := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(b.N), "cpu-ms/op") }()
	for b.Loop() {
		d, err := Parse("big.yml", src)
		if err != nil {
			b.Fatal(err)
		}
		if len(Audit(d)) == 0 {
			b.Fatal("no findings")
		}
		res, err := Harden(d, Options{Policy: Strict})
		if err != nil {
			b.Fatal(err)
		}
		if !res.Changed() {
			b.Fatal("nothing hardened")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
