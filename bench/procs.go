package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procTable is the host's process tree, read once from <root>/proc.
// Asking the engine instead (ContainerTop) makes dockerd run ps(1) once per
// container, each listing every process on the host: with 200 containers
// that alone took most of a run.
type procTable struct {
	children map[int][]int
	cmd      map[int]string
}

func readProcTable(root string) (*procTable, error) {
	ents, err := os.ReadDir(filepath.Join(root, "proc"))
	if err != nil {
		return nil, err
	}
	t := &procTable{children: map[int][]int{}, cmd: map[int]string{}}
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
		cmd := comm
		if raw, err := readBounded(filepath.Join(dir, "cmdline"), 64<<10); err == nil && len(raw) > 0 {
			cmd = strings.TrimSpace(strings.ReplaceAll(strings.TrimRight(string(raw), "\x00"), "\x00", " "))
		}
		t.cmd[pid] = cmd
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

// under lists the command lines of pid and all its descendants.
func (t *procTable) under(pid int) []string {
	if pid <= 0 {
		return nil
	}
	var out []string
	seen := map[int]bool{}
	stack := []int{pid}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[p] {
			continue
		}
		seen[p] = true
		if c, ok := t.cmd[p]; ok {
			out = append(out, c)
		}
		stack = append(stack, t.children[p]...)
	}
	return out
}
