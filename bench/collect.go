package bench

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/moby/moby/api/types/network"
)

// Options say what to collect.
type Options struct {
	// Root is the host root directory for the host checks (sections 1–3 and
	// the daemon configuration). Empty means the engine is not on a host
	// ctsec can read (a remote engine): those checks are skipped.
	Root string
	// Concurrency bounds the engine requests in flight (default 16).
	Concurrency int
	// EngineName names the engine in the snapshot and in errors (default:
	// the client's address; an ssh:// URL is clearer than the placeholder
	// address the client dials through).
	EngineName string
	// Progress, when set, is told how many objects have been collected;
	// calls never overlap.
	Progress func(done, total int)
	// Clock dates the snapshot; nil is the system clock.
	Clock clock.Clock
}

// Collect takes the snapshot: a handful of list calls, then every container,
// image and network inspected concurrently.
func Collect(ctx context.Context, c *engine.Client, o Options) (*Snapshot, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	name := o.EngineName
	if name == "" {
		name = c.DaemonHost()
	}
	s := &Snapshot{Taken: clock.Or(o.Clock).Now().UTC(), ContentTrust: os.Getenv("DOCKER_CONTENT_TRUST")}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("asking the Docker engine at %s for its info: %w", name, err)
	}
	ver, err := c.ServerVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("asking the Docker engine at %s for its version: %w", name, err)
	}
	s.Engine = Engine{Host: name, APIVersion: c.APIVersion(), Version: ver.Version, Info: info}

	list, err := c.ContainerList(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	imgs, err := c.ImageList(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	nets, err := c.NetworkList(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing networks: %w", err)
	}

	total := len(list) + len(imgs) + len(nets)
	// Progress calls are serialised, so the callback needs no locking.
	var done int
	var progressMu sync.Mutex
	progress := func() {
		progressMu.Lock()
		defer progressMu.Unlock()
		done++
		if o.Progress != nil {
			o.Progress(done, total)
		}
	}
	s.Containers = make([]Container, len(list))
	s.Images = make([]Image, len(imgs))
	s.Networks = make([]network.Inspect, len(nets))
	keep := make([]bool, total)
	var mu sync.Mutex
	note := func(format string, args ...any) {
		mu.Lock()
		s.Notes = append(s.Notes, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	sem := make(chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := f(); err != nil {
				errOnce.Do(func() { firstErr = err })
			}
			progress()
		}()
	}
	for i, item := range list {
		run(func() error {
			r, err := c.ContainerInspect(ctx, item.ID)
			if err != nil {
				if engine.IsNotFound(err) {
					note("container %s was removed while being inspected", shortID(item.ID))
					return nil
				}
				return fmt.Errorf("inspecting container %s: %w", shortID(item.ID), err)
			}
			s.Containers[i] = Container{ContainerInspect: r}
			keep[i] = true
			return nil
		})
	}
	for i, item := range imgs {
		run(func() error {
			r, err := c.ImageInspect(ctx, item.ID)
			if err != nil {
				if engine.IsNotFound(err) {
					note("image %s was removed while being inspected", shortID(item.ID))
					return nil
				}
				return fmt.Errorf("inspecting image %s: %w", shortID(item.ID), err)
			}
			img := Image{ImageInspect: r}
			h, err := c.ImageHistory(ctx, item.ID)
			if err != nil {
				note("history of image %s: %v", shortID(item.ID), err)
			} else {
				img.History = h
			}
			s.Images[i] = img
			keep[len(list)+i] = true
			return nil
		})
	}
	for i, item := range nets {
		run(func() error {
			r, err := c.NetworkInspect(ctx, item.ID)
			if err != nil {
				if engine.IsNotFound(err) {
					return nil
				}
				return fmt.Errorf("inspecting network %s: %w", item.Name, err)
			}
			s.Networks[i] = r
			keep[len(list)+len(imgs)+i] = true
			return nil
		})
	}

	// The host is read while the engine answers.
	var hostNotes []string
	if o.Root != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hostNotes = s.collectHost(ctx, o.Root)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	s.Notes = append(s.Notes, hostNotes...)
	s.Containers = compact(s.Containers, keep[:len(list)])
	s.collectProcesses(ctx, c, o)
	s.Images = compact(s.Images, keep[len(list):len(list)+len(imgs)])
	s.Networks = compact(s.Networks, keep[len(list)+len(imgs):])
	sort.Slice(s.Containers, func(i, j int) bool { return s.Containers[i].Name < s.Containers[j].Name })
	sort.Slice(s.Images, func(i, j int) bool { return s.Images[i].DisplayName() < s.Images[j].DisplayName() })
	sort.Slice(s.Networks, func(i, j int) bool { return s.Networks[i].Name < s.Networks[j].Name })
	sort.Strings(s.Notes)
	return s, nil
}

func (s *Snapshot) collectHost(ctx context.Context, root string) []string {
	var notes []string
	socket := strings.TrimPrefix(s.Engine.Host, "unix://")
	if strings.HasPrefix(s.Engine.Host, "unix://") {
		d, err := findDaemon(root, socket)
		if err != nil {
			notes = append(notes, "daemon configuration not checked: "+err.Error())
		} else {
			loadDaemonConfig(root, d)
			if d.ConfigErr != "" {
				notes = append(notes, "daemon.json: "+d.ConfigErr)
			}
			s.Daemon = d
		}
	} else {
		notes = append(notes, fmt.Sprintf("engine %s is not a local socket: the dockerd command line is not checked", s.Engine.Host))
	}
	h, hn := collectHost(ctx, root, s.Daemon, s.Engine.Info.DockerRootDir)
	s.Host = h
	return append(notes, hn...)
}

// collectProcesses fills in the processes of running containers (5.7):
// when the engine is local, from each container's cgroup (exec'd processes
// included) under the host's /proc and /sys, or, where no cgroup is found,
// from the process tree under its init; otherwise through the engine's top
// endpoint.
func (s *Snapshot) collectProcesses(ctx context.Context, c *engine.Client, o Options) {
	if o.Root != "" && strings.HasPrefix(s.Engine.Host, "unix://") {
		var tree *procTable
		var treeErr error
		for i, ct := range s.Containers {
			if ct.State == nil || !ct.State.Running {
				continue
			}
			if procs, ok := containerProcesses(o.Root, ct.State.Pid); ok {
				s.Containers[i].Processes = procs
				continue
			}
			if tree == nil && treeErr == nil {
				tree, treeErr = readProcTable(o.Root)
			}
			if tree != nil {
				s.Containers[i].Processes = tree.under(ct.State.Pid)
			}
		}
		if treeErr == nil {
			return
		}
	}
	sem := make(chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	for i, ct := range s.Containers {
		if ct.State == nil || !ct.State.Running {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			s.Containers[i].Processes = top(ctx, c, ct.ID)
		}()
	}
	wg.Wait()
}

// top lists the processes running in a container. A container that stops
// meanwhile simply has none. ps gives the command line only, so the name is
// its first word's base name.
func top(ctx context.Context, c *engine.Client, id string) []Process {
	r, err := c.ContainerTop(ctx, id)
	if err != nil {
		return nil
	}
	col := -1
	for i, t := range r.Titles {
		if t == "CMD" || t == "COMMAND" {
			col = i
		}
	}
	if col < 0 {
		return nil
	}
	var out []Process
	for _, p := range r.Processes {
		if col < len(p) {
			out = append(out, Process{Name: procName(p[col]), Command: p[col]})
		}
	}
	return out
}

func compact[T any](items []T, keep []bool) []T {
	out := items[:0]
	for i, it := range items {
		if keep[i] {
			out = append(out, it)
		}
	}
	return out
}
