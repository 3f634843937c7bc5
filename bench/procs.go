package bench

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Process is one process of a container.
type Process struct {
	// Name is the kernel's name for it (/proc/PID/comm): its executable's
	// base name, whatever the program wrote into its argv.
	Name string `json:"name"`
	// Command is its command line, for the report.
	Command string `json:"command"`
}

// Limits of one container's cgroup walk: nested cgroups (a container that
// runs systemd makes them) and member processes.
const (
	maxCgroupDirs  = 1024
	maxCgroupProcs = 65536
	maxCgroupDepth = 16
)

// containerProcesses lists the processes in the cgroup of a container whose
// init is pid, read under root: every member of its cgroup and the cgroups
// below it. That includes what `docker exec` started, which runc puts in
// the container's cgroup but which is a child of the shim, not of the
// container's init. ok is false when the cgroup cannot be found (a mounted
// image without /sys, an unusual cgroup layout): the caller falls back to
// the process tree.
func containerProcesses(root string, pid int) (procs []Process, ok bool) {
	dir := cgroupDir(root, pid)
	if dir == "" {
		return nil, false
	}
	var pids []int
	dirs := []string{dir}
	depth := map[string]int{dir: 0}
	for walked := 0; len(dirs) > 0 && walked < maxCgroupDirs; walked++ {
		d := dirs[0]
		dirs = dirs[1:]
		data, err := readBounded(filepath.Join(d, "cgroup.procs"), 1<<20)
		if err != nil {
			if d == dir {
				return nil, false
			}
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil && n > 0 && len(pids) < maxCgroupProcs {
				pids = append(pids, n)
			}
		}
		if depth[d] >= maxCgroupDepth {
			continue
		}
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDir() && e.Type()&os.ModeSymlink == 0 {
				sub := filepath.Join(d, e.Name())
				depth[sub] = depth[d] + 1
				dirs = append(dirs, sub)
			}
		}
	}
	for _, p := range pids {
		if pr, ok := readProcess(root, p); ok {
			procs = append(procs, pr)
		}
	}
	return procs, true
}

// cgroupDir finds the directory of pid's cgroup under root's
// /sys/fs/cgroup from /proc/PID/cgroup: the unified hierarchy (cgroup v2),
// or a v1 hierarchy, pids first. Paths that climb out ("/.." when ctsec runs
// in another cgroup namespace) and the root cgroup are not followed.
func cgroupDir(root string, pid int) string {
	data, err := readBounded(filepath.Join(root, "proc", strconv.Itoa(pid), "cgroup"), 64<<10)
	if err != nil {
		return ""
	}
	base := filepath.Join(root, "sys", "fs", "cgroup")
	var candidates []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") || strings.Contains(parts[2], "..") {
			continue
		}
		ctrl, rel := parts[1], path.Clean(parts[2])
		if rel == "/" {
			continue // the root cgroup holds the host's processes, not a container's
		}
		switch {
		case ctrl == "":
			candidates = append([]string{filepath.Join(base, rel), filepath.Join(base, "unified", rel)}, candidates...)
		case ctrl == "pids":
			candidates = append([]string{filepath.Join(base, "pids", rel)}, candidates...)
		default:
			candidates = append(candidates, filepath.Join(base, strings.TrimPrefix(ctrl, "name="), rel))
		}
	}
	for _, c := range candidates {
		if fi, err := os.Stat(filepath.Join(c, "cgroup.procs")); err == nil && fi.Mode().IsRegular() {
			return c
		}
	}
	return ""
}

// readProcess reads one process's name and command line; ok is false when
// it has exited meanwhile.
func readProcess(root string, pid int) (Process, bool) {
	dir := filepath.Join(root, "proc", strconv.Itoa(pid))
	comm, err := readBounded(filepath.Join(dir, "comm"), 4096)
	if err != nil {
		return Process{}, false
	}
	p := Process{Name: strings.TrimSuffix(string(comm), "\n")}
	p.Command = p.Name
	if raw, err := readBounded(filepath.Join(dir, "cmdline"), 64<<10); err == nil && len(raw) > 0 {
		p.Command = strings.TrimSpace(strings.ReplaceAll(strings.TrimRight(string(raw), "\x00"), "\x00", " "))
	}
	return p, true
}

// procTable is the host's process tree, read once from <root>/proc.
// Asking the engine instead (ContainerTop) makes dockerd run ps(1) once per
// container, each listing every process on the host: with 200 containers
// that alone took most of a run.
type procTable struct {
	children map[int][]int
	procs    map[int]Process
}

func readProcTable(root string) (*procTable, error) {
	ents, err := os.ReadDir(filepath.Join(root, "proc"))
	if err != nil {
		return nil, err
	}
	t := &procTable{children: map[int][]int{}, procs: map[int]Process{}}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join(root, "proc", e.Name())
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue // the process exited meanwhile
		}
		comm, ppid, ok := parseStat(string(stat))
		if !ok {
			continue
		}
		t.children[ppid] = append(t.children[ppid], pid)
		p := Process{Name: comm, Command: comm}
		if raw, err := readBounded(filepath.Join(dir, "cmdline"), 64<<10); err == nil && len(raw) > 0 {
			p.Command = strings.TrimSpace(strings.ReplaceAll(strings.TrimRight(string(raw), "\x00"), "\x00", " "))
		}
		t.procs[pid] = p
	}
	return t, nil
}

// parseStat reads the command name and parent pid from /proc/PID/stat. The
// name is in parentheses and may itself contain ") ", so the last ")" ends it.
func parseStat(s string) (comm string, ppid int, ok bool) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return "", 0, false
	}
	return s[open+1 : end], ppid, true
}

// under lists pid and all its descendants.
func (t *procTable) under(pid int) []Process {
	if pid <= 0 {
		return nil
	}
	var out []Process
	seen := map[int]bool{}
	stack := []int{pid}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[p] {
			continue
		}
		seen[p] = true
		if c, ok := t.procs[p]; ok {
			out = append(out, c)
		}
		stack = append(stack, t.children[p]...)
	}
	return out
}
