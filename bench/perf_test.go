package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// BenchmarkBench measures what `ctsec bench` does end to end in-process —
// connect, collect the whole snapshot (host included), run every check,
// render JSON — against the real engine with N running busybox containers:
//
//	go test ./bench/ -run '^$' -bench BenchmarkBench -benchtime 5x
//	go test ./bench/ -run '^$' -bench 'BenchmarkBench/containers=100$' -benchtime 5x   # per 100 containers
//
// docker-bench-security took 271 s for 50 running containers on this kind of
// machine (../shared/notes/bench.md). scripts/bench-perf.sh times the binary.
func BenchmarkBench(b *testing.B) {
	testenv.Docker(b)
	img := testenv.Busybox(b)
	for _, n := range []int{10, 50, 100, 200} {
		b.Run(fmt.Sprintf("containers=%d", n), func(b *testing.B) {
			perfContainers(b, img, n)
			b.ResetTimer()
			var seen int
			for i := 0; i < b.N; i++ {
				c, err := engine.Connect("")
				if err != nil {
					b.Fatal(err)
				}
				snap, err := Collect(context.Background(), c, Options{Root: "/"})
				if err != nil {
					b.Fatal(err)
				}
				results, score := Run(snap, Selection{})
				if err := report.Render(io.Discard, Report(NewData(snap, results, score)), report.JSON, report.Options{}); err != nil {
					b.Fatal(err)
				}
				c.Close()
				seen = len(snap.Containers)
			}
			b.ReportMetric(float64(seen), "containers")
		})
	}
}

// perfContainers makes n running containers (removed after the benchmark).
func perfContainers(b *testing.B, img string, n int) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	prefix := fmt.Sprintf("ctsec-perf-%d-", n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
				Name:       fmt.Sprintf("%s%03d", prefix, i),
				Config:     &container.Config{Image: img, Cmd: []string{"sleep", "3600"}, Labels: map[string]string{"ctsec-test": "bench-perf"}},
				HostConfig: &container.HostConfig{NetworkMode: "none"},
			})
			if err != nil {
				errs <- err
				return
			}
			ids[i] = r.ID
			if _, err := c.ContainerStart(ctx, r.ID, client.ContainerStartOptions{}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	b.Cleanup(func() {
		var wg sync.WaitGroup
		for _, id := range ids {
			if id == "" {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				c.ContainerRemove(context.Background(), id, client.ContainerRemoveOptions{Force: true})
			}()
		}
		wg.Wait()
		c.Close()
	})
	close(errs)
	for err := range errs {
		b.Fatalf("creating containers: %v", err)
	}
}
