package compose

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// bigStack is a stack of n services of the usual shapes.
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

// BenchmarkCompose measures what `ctsec compose audit` plus `ctsec compose
// harden --policy strict` do — parse, audit, plan, patch, verify — beside
// the anchor, one compose-go model load of the same file
// (loader.LoadModelWithContext with the options ctsec passes), per stack
// size, at the GOGC and soft memory limit the CLI runs with. CPU time per
// run (user+system, all threads) is reported beside wall time: the machine
// is shared, and CPU depends less on other load. The goal is ctsec within
// 1.3× the anchor's CPU.
//
//	go test ./compose -run '^$' -bench Compose -benchtime 5x
func BenchmarkCompose(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(GCPercent))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(MemoryLimit))
	for _, n := range []int{1000, 5000} {
		src := bigStack(n)
		b.Run(fmt.Sprintf("services=%d/anchor-compose-go-load", n), func(b *testing.B) {
			measure(b, n, func() {
				if _, err := loader.LoadModelWithContext(context.Background(), types.ConfigDetails{
					WorkingDir: "/tmp", ConfigFiles: []types.ConfigFile{{Filename: "big.yml", Content: src}}, Environment: types.Mapping{},
				}, loadOptions); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(fmt.Sprintf("services=%d/ctsec-audit+harden", n), func(b *testing.B) {
			measure(b, n, func() {
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
			})
		})
	}
}

func measure(b *testing.B, services int, run func()) {
	start := cpuTime()
	for b.Loop() {
		run()
	}
	cpu := float64((cpuTime() - start).Milliseconds()) / float64(b.N)
	b.ReportMetric(cpu, "cpu-ms/op")
	b.ReportMetric(cpu*1000/float64(services), "cpu-ms/1000-services")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// worstCases are inputs under the size limits that once took compose-go
// (and ctsec) from 9 s to minutes. Each must be handled or refused
// within 2 s.
func worstCases() map[string][]byte {
	var aliases, spread, top, pairs strings.Builder
	aliases.WriteString("x-a: &a 1\nx-l: [" + strings.Repeat("*a,", 20_000) + "1]\nservices:\n  a:\n    image: x:1\n")
	spread.WriteString("x-a: &a \"1\"\nservices:\n")
	for i := 0; i < 4; i++ {
		fmt.Fprintf(&spread, "  s%d:\n    image: x:1\n    command: [%s\"1\"]\n", i, strings.Repeat("*a,", 5_000))
	}
	for i := 0; i < 50_000; i++ {
		fmt.Fprintf(&top, "x-a%d: &a%d 1\nx-b%d: *a%d\n", i, i, i, i)
	}
	top.WriteString("services:\n  a:\n    image: x:1\n")
	pairs.WriteString("services:\n")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&pairs, "  s%d:\n    image: x:1\n    labels:\n", i)
		for j := 0; j < 5_000; j++ {
			fmt.Fprintf(&pairs, "      a%d: &a%d_%d v\n      b%d: *a%d_%d\n", j, i, j, j, i, j)
		}
	}
	return map[string][]byte{
		"20000-aliases-of-one-anchor":          []byte(aliases.String()),
		"20000-aliases-in-4-services":          []byte(spread.String()),
		"100000-top-level-anchors-and-aliases": []byte(top.String()),
		"100000-anchors-and-aliases-in-labels": []byte(pairs.String()),
		"2500-deep-mapping":                    []byte("services:\n  a:\n    image: x:1\nx-d: " + strings.Repeat("{k: ", 2500) + "1" + strings.Repeat("}", 2500) + "\n"),
	}
}

// BenchmarkWorstCases: audit + harden of each worst case, or its refusal.
//
//	go test ./compose -run '^$' -bench WorstCases -benchtime 3x
func BenchmarkWorstCases(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(GCPercent))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(MemoryLimit))
	for name, src := range worstCases() {
		b.Run(name, func(b *testing.B) {
			measure(b, 1000, func() {
				d, err := Parse("worst.yml", src)
				if err != nil {
					return
				}
				Audit(d)
				if _, err := Harden(d, Options{Policy: Strict}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
