// Package trial runs the services of a compose file on the user's engine
// as a throwaway trial beside the running stack — under a unique name, with
// fresh volumes and no published ports — to learn what each needs (ctsec
// compose learn) and to check that a hardened service still works (ctsec
// compose harden --verify). It also reads the facts an image gives without
// running it.
package trial

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/ctsec/ctsec/compose"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

const (
	labelTrial   = "ctsec.trial"
	labelService = "ctsec.trial.service"
)

// Options steer a trial.
type Options struct {
	// Duration is how long a service without a healthcheck must run
	// without a restart, and how long one with a healthcheck has to become
	// healthy. Default 20s.
	Duration time.Duration
	// Progress gets one line per step; nil discards it.
	Progress io.Writer
}

// Trial is one throwaway project on the engine.
type Trial struct {
	c        *client.Client
	project  *types.Project
	id       string
	network  string
	opts     Options
	progress io.Writer

	mu         sync.Mutex
	containers []string
	volumes    []string
	deps       map[string]string // service → running dependency container
	runs       int
}

// Open makes the trial's network. Close removes everything the trial made.
func Open(ctx context.Context, c *client.Client, p *types.Project, o Options) (*Trial, error) {
	if o.Duration <= 0 {
		o.Duration = 20 * time.Second
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	tr := &Trial{c: c, project: p, id: "ctsec-trial-" + hex.EncodeToString(b[:]), opts: o, progress: o.Progress, deps: map[string]string{}}
	if tr.progress == nil {
		tr.progress = io.Discard
	}
	tr.network = tr.id
	if _, err := c.NetworkCreate(ctx, tr.network, client.NetworkCreateOptions{Driver: "bridge", Labels: map[string]string{labelTrial: tr.id}}); err != nil {
		return nil, fmt.Errorf("creating the trial network: %w", err)
	}
	return tr, nil
}

// ID is the trial's name: its network, and the prefix of its containers and
// volumes.
func (tr *Trial) ID() string { return tr.id }

// Close removes the trial's containers, volumes and network. It runs with
// its own deadline, so it also cleans up after an interrupted trial.
func (tr *Trial) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var errs []error
	for _, id := range tr.containers {
		if _, err := tr.c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !notFound(err) {
			errs = append(errs, err)
		}
	}
	for _, v := range tr.volumes {
		if _, err := tr.c.VolumeRemove(ctx, v, client.VolumeRemoveOptions{Force: true}); err != nil && !notFound(err) {
			errs = append(errs, err)
		}
	}
	if _, err := tr.c.NetworkRemove(ctx, tr.network, client.NetworkRemoveOptions{}); err != nil && !notFound(err) {
		errs = append(errs, err)
	}
	tr.containers, tr.volumes = nil, nil
	if len(errs) > 0 {
		return fmt.Errorf("removing trial %s: %w", tr.id, errors.Join(errs...))
	}
	return nil
}

func notFound(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "No such") || strings.Contains(err.Error(), "not found"))
}

func (tr *Trial) logf(format string, args ...any) {
	fmt.Fprintf(tr.progress, "ctsec: trial %s: "+format+"\n", append([]any{tr.id}, args...)...)
}

// volume makes a fresh volume for the trial.
func (tr *Trial) volume(service, key string) (string, error) {
	name := tr.id + "-" + service + "-" + key
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := tr.c.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Labels: map[string]string{labelTrial: tr.id}}); err != nil {
		return "", fmt.Errorf("creating trial volume %s: %w", name, err)
	}
	tr.mu.Lock()
	tr.volumes = append(tr.volumes, name)
	tr.mu.Unlock()
	return name, nil
}

// result is what one run of a service showed.
type result struct {
	healthy  bool
	how      string
	failure  *compose.Failure
	changes  []container.FilesystemChange
	id       string
	memPeak  int64
	memHow   string
	pidsPeak int64
	pidsHow  string
	notes    []string
	dirs     map[string]bool       // added paths that are directories
	host     *container.HostConfig // as the engine ran it (docker inspect)
}

// run starts the service (its dependencies first, as written), judges its
// health, measures it, and removes the container again.
func (tr *Trial) run(ctx context.Context, s types.ServiceConfig, v variant) (*result, error) {
	if err := tr.startDeps(ctx, s, map[string]bool{s.Name: true}); err != nil {
		return &result{failure: &compose.Failure{Reason: err.Error()}}, nil
	}
	tr.mu.Lock()
	tr.runs++
	name := fmt.Sprintf("%s-%s-%d", tr.id, s.Name, tr.runs)
	tr.mu.Unlock()
	sp, err := tr.spec(s, v, strconv.Itoa(tr.runs))
	if err != nil {
		return nil, err
	}
	id, err := tr.create(ctx, sp, name)
	if err != nil {
		return nil, err
	}
	defer tr.remove(id)
	res := &result{id: id, notes: sp.notes}
	mon := tr.monitor(ctx, id)
	if _, err := tr.c.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		mon.stop()
		res.failure = &compose.Failure{Reason: "did not start: " + oneLine(err.Error())}
		return res, nil
	}
	res.healthy, res.how, res.failure = tr.judge(ctx, id, s)
	res.memPeak, res.memHow, res.pidsPeak, res.pidsHow = mon.stop()
	if ins, err := tr.c.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil {
		res.host = ins.Container.HostConfig
	}
	if d, err := tr.c.ContainerDiff(ctx, id, client.ContainerDiffOptions{}); err == nil {
		res.changes = d.Changes
	}
	// docker diff does not say what is a directory; a tmpfs goes on a
	// directory the service made, or on the directory of a file it made.
	res.dirs = map[string]bool{}
	for i, ch := range res.changes {
		if i >= 500 {
			break
		}
		if ch.Kind == container.ChangeAdd {
			if st, err := tr.c.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: ch.Path}); err == nil && isDir(st.Stat.Mode) {
				res.dirs[ch.Path] = true
			}
		}
	}
	return res, nil
}

func (tr *Trial) create(ctx context.Context, sp spec, name string) (string, error) {
	created, err := tr.c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: sp.config, HostConfig: sp.host, NetworkingConfig: sp.network, Name: name})
	if err != nil {
		return "", fmt.Errorf("creating trial container %s: %w", name, err)
	}
	tr.mu.Lock()
	tr.containers = append(tr.containers, created.ID)
	tr.mu.Unlock()
	return created.ID, nil
}

func (tr *Trial) remove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := tr.c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err == nil {
		tr.mu.Lock()
		for i, c := range tr.containers {
			if c == id {
				tr.containers = append(tr.containers[:i], tr.containers[i+1:]...)
				break
			}
		}
		tr.mu.Unlock()
	}
}

// startDeps starts what s depends on, as written, once per trial, and
// waits for each to be healthy (or running, without a healthcheck).
func (tr *Trial) startDeps(ctx context.Context, s types.ServiceConfig, seen map[string]bool) error {
	for dep := range s.DependsOn {
		if seen[dep] {
			return fmt.Errorf("dependency cycle through %s", dep)
		}
		if _, ok := tr.deps[dep]; ok {
			continue
		}
		ds, ok := tr.project.Services[dep]
		if !ok {
			continue // a disabled or missing dependency: compose would refuse, the trial goes on
		}
		if why := unsupported(ds); why != "" {
			return fmt.Errorf("dependency %s cannot run in a trial: %s", dep, why)
		}
		seen[dep] = true
		if err := tr.startDeps(ctx, ds, seen); err != nil {
			return err
		}
		delete(seen, dep)
		sp, err := tr.spec(ds, variant{}, "dep")
		if err != nil {
			return err
		}
		tr.logf("starting dependency %s (%s, as written)", dep, ds.Image)
		id, err := tr.create(ctx, sp, tr.id+"-"+dep)
		if err != nil {
			return err
		}
		if _, err := tr.c.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
			return fmt.Errorf("dependency %s did not start: %w", dep, err)
		}
		if ok, _, f := tr.judge(ctx, id, ds); !ok {
			return fmt.Errorf("dependency %s did not become healthy: %s", dep, f.Reason)
		}
		tr.deps[dep] = id
	}
	return nil
}

// healthSchedule is how long Docker takes at most to call a container with
// this healthcheck unhealthy: its start period, then retries checks an
// interval apart, each up to its timeout (Docker's defaults where unset),
// bounded to five minutes.
func healthSchedule(hc *container.HealthConfig) time.Duration {
	if hc == nil {
		return 0
	}
	or := func(d, def time.Duration) time.Duration {
		if d <= 0 {
			return def
		}
		return d
	}
	retries := hc.Retries
	if retries <= 0 {
		retries = 3
	}
	d := hc.StartPeriod + time.Duration(retries)*(or(hc.Interval, 30*time.Second)+or(hc.Timeout, 30*time.Second))
	return min(d, 5*time.Minute)
}

// judge waits for a verdict: a healthcheck that passes (then the service
// must keep running for a moment); or, without one, running for the
// duration without a restart, with its published ports accepting
// connections on the container's address.
func (tr *Trial) judge(ctx context.Context, id string, s types.ServiceConfig) (bool, string, *compose.Failure) {
	start := time.Now() // elapsed
	deadline := start.Add(tr.opts.Duration)
	var healthySince time.Time
	for {
		select {
		case <-ctx.Done():
			return false, "", &compose.Failure{Reason: "interrupted"}
		case <-time.After(250 * time.Millisecond):
		}
		ins, err := tr.c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return false, "", &compose.Failure{Reason: "inspecting: " + oneLine(err.Error())}
		}
		st := ins.Container.State
		if !st.Running || st.Restarting || ins.Container.RestartCount > 0 {
			return false, "", tr.failure(ctx, id, fmt.Sprintf("exited with code %d", st.ExitCode), st.ExitCode)
		}
		now := time.Now() // elapsed
		if st.Health != nil && ins.Container.Config != nil {
			// Docker calls a service unhealthy only after its healthcheck's
			// own schedule; judging it sooner (a slow or loaded host) would
			// back off edits that work.
			if d := start.Add(healthSchedule(ins.Container.Config.Healthcheck)); d.After(deadline) {
				deadline = d
			}
		}
		if st.Health != nil {
			switch st.Health.Status {
			case container.Healthy:
				if healthySince.IsZero() {
					healthySince = now
				}
				if now.Sub(healthySince) >= 2*time.Second {
					return true, fmt.Sprintf("healthcheck passed within %s", healthySince.Sub(start).Round(time.Second)), nil
				}
			case container.Unhealthy:
				return false, "", tr.failure(ctx, id, "healthcheck failed: "+lastHealth(st.Health), 0)
			default:
				healthySince = time.Time{}
			}
			if healthySince.IsZero() && now.After(deadline) {
				return false, "", tr.failure(ctx, id, fmt.Sprintf("not healthy within %s", tr.opts.Duration), 0)
			}
			continue
		}
		if now.Before(deadline) {
			continue
		}
		ip := ""
		if ns := ins.Container.NetworkSettings; ns != nil && ns.Networks[tr.network] != nil && ns.Networks[tr.network].IPAddress.IsValid() {
			ip = ns.Networks[tr.network].IPAddress.String()
		}
		how := fmt.Sprintf("ran %s without a restart", tr.opts.Duration)
		for _, p := range s.Ports {
			if p.Protocol != "" && p.Protocol != "tcp" {
				continue
			}
			if ip == "" {
				return false, "", tr.failure(ctx, id, "no address on the trial network to check its ports", 0)
			}
			addr := net.JoinHostPort(ip, strconv.Itoa(int(p.Target)))
			if err := dial(addr); err != nil {
				return false, "", tr.failure(ctx, id, fmt.Sprintf("port %d does not accept connections: %v", p.Target, err), 0)
			}
			how += fmt.Sprintf("; port %d accepted a connection", p.Target)
		}
		return true, how, nil
	}
}

func dial(addr string) error {
	var err error
	for i := 0; i < 8; i++ {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return err
}

func lastHealth(h *container.Health) string {
	if len(h.Log) == 0 {
		return "no result"
	}
	l := h.Log[len(h.Log)-1]
	return fmt.Sprintf("exit %d: %s", l.ExitCode, oneLine(l.Output))
}

// failure is a failed run with the last lines of the container's log.
func (tr *Trial) failure(ctx context.Context, id, reason string, code int) *compose.Failure {
	f := &compose.Failure{Reason: reason, ExitCode: code}
	rc, err := tr.c.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "10"})
	if err != nil {
		return f
	}
	defer rc.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, io.LimitReader(rc, 64<<10)); err != nil {
		out.Reset()
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if l := oneLine(sc.Text()); l != "" {
			f.Logs = append(f.Logs, l)
		}
	}
	return f
}

// oneLine keeps text from a container to one printable line.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// monitor samples the container's peaks while it runs: the cgroup's own
// peak memory (memory.peak on cgroup v2, memory.max_usage_in_bytes on v1)
// when this host can read the container's cgroup, the engine's stats
// otherwise; the most pids, sampled (or pids.peak).
type monitor struct {
	done     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	mem      int64
	memHow   string
	pids     int64
	pidsHow  string
	cgroup   cgroupFiles
	hasFiles bool
}

func (tr *Trial) monitor(ctx context.Context, id string) *monitor {
	m := &monitor{done: make(chan struct{})}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for {
			m.sample(ctx, tr.c, id)
			select {
			case <-m.done:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return m
}

func (m *monitor) sample(ctx context.Context, c *client.Client, id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.hasFiles {
		if ins, err := c.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil && ins.Container.State != nil && ins.Container.State.Pid > 0 {
			if cg, ok := findCgroup(ins.Container.State.Pid); ok {
				m.cgroup, m.hasFiles = cg, true
			}
		}
	}
	if m.hasFiles {
		if v, how, ok := m.cgroup.memoryPeak(); ok && v > m.mem {
			m.mem, m.memHow = v, how
		}
		if v, how, ok := m.cgroup.pids(); ok && v > m.pids {
			m.pids, m.pidsHow = v, how
		}
		return
	}
	st, err := c.ContainerStats(ctx, id, client.ContainerStatsOptions{Stream: false, IncludePreviousSample: false})
	if err != nil {
		return
	}
	defer st.Body.Close()
	var s container.StatsResponse
	if err := jsonDecode(st.Body, &s); err != nil {
		return
	}
	if u := int64(max(s.MemoryStats.MaxUsage, s.MemoryStats.Usage)); u > m.mem {
		m.mem, m.memHow = u, "engine stats, sampled every 200 ms"
	}
	if p := int64(s.PidsStats.Current); p > m.pids {
		m.pids, m.pidsHow = p, "engine stats, sampled every 200 ms"
	}
}

func (m *monitor) stop() (int64, string, int64, string) {
	close(m.done)
	m.wg.Wait()
	return m.mem, m.memHow, m.pids, m.pidsHow
}

// cgroupFiles are a container's cgroup files as this host sees them.
type cgroupFiles struct {
	memDir, pidsDir string
	v2              bool
}

// findCgroup reads /proc/PID/cgroup of the container's first process.
func findCgroup(pid int) (cgroupFiles, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return cgroupFiles{}, false
	}
	var cg cgroupFiles
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			dir := filepath.Join("/sys/fs/cgroup", parts[2])
			if _, err := os.Stat(filepath.Join(dir, "memory.current")); err == nil {
				return cgroupFiles{memDir: dir, pidsDir: dir, v2: true}, true
			}
		case strings.Contains(","+parts[1]+",", ",memory,"):
			cg.memDir = filepath.Join("/sys/fs/cgroup/memory", parts[2])
		case strings.Contains(","+parts[1]+",", ",pids,"):
			cg.pidsDir = filepath.Join("/sys/fs/cgroup/pids", parts[2])
		}
	}
	if cg.memDir == "" {
		return cgroupFiles{}, false
	}
	_, err = os.Stat(filepath.Join(cg.memDir, "memory.max_usage_in_bytes"))
	return cg, err == nil
}

func (cg cgroupFiles) memoryPeak() (int64, string, bool) {
	if cg.v2 {
		if v, ok := readInt(filepath.Join(cg.memDir, "memory.peak")); ok {
			return v, "cgroup v2 memory.peak", true
		}
		v, ok := readInt(filepath.Join(cg.memDir, "memory.current"))
		return v, "cgroup v2 memory.current, sampled every 200 ms", ok
	}
	v, ok := readInt(filepath.Join(cg.memDir, "memory.max_usage_in_bytes"))
	return v, "cgroup v1 memory.max_usage_in_bytes", ok
}

func (cg cgroupFiles) pids() (int64, string, bool) {
	if cg.pidsDir == "" {
		return 0, "", false
	}
	if v, ok := readInt(filepath.Join(cg.pidsDir, "pids.peak")); ok {
		return v, "cgroup pids.peak", true
	}
	v, ok := readInt(filepath.Join(cg.pidsDir, "pids.current"))
	return v, "cgroup pids.current, sampled every 200 ms", ok
}

func readInt(p string) (int64, bool) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(v) }
