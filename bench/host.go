package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/rootfs"
)

// Host is the host filesystem the engine runs on, read under Root.
type Host struct {
	Root string `json:"root"`
	// Files are the owners and modes of the files section 3 (and 1.1)
	// looks at, keyed by their path on the host (without Root).
	Files map[string]FileInfo `json:"files"`
	// Groups maps group names to their ids and members (/etc/group).
	Groups map[string]Group `json:"groups,omitempty"`
	// AuditRules are the audit rules in force (auditctl -l) or, when they
	// cannot be asked for, the rules files; AuditSource says which.
	AuditRules  []string `json:"audit_rules"`
	AuditSource string   `json:"audit_source"`
	Mounts      []Mount  `json:"mounts,omitempty"`
	// Units maps docker.service and docker.socket to their unit files.
	Units map[string]string `json:"units,omitempty"`
}

// FileInfo is one file's owner and permission bits.
type FileInfo struct {
	Exists bool        `json:"exists"`
	Mode   fs.FileMode `json:"mode"`
	UID    int         `json:"uid"`
	GID    int         `json:"gid"`
	// Dev and Ino identify the file: /usr/bin/runc and /usr/sbin/runc are
	// often one file through a symlink.
	Dev uint64 `json:"-"`
	Ino uint64 `json:"-"`
	Err string `json:"error,omitempty"`
}

// Group is one line of /etc/group.
type Group struct {
	GID     int      `json:"gid"`
	Members []string `json:"members,omitempty"`
}

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	Device     string `json:"device"` // major:minor
	Root       string `json:"root"`   // path inside the filesystem that is mounted (not "/" for bind mounts)
	MountPoint string `json:"mount_point"`
	FSType     string `json:"fs_type"`
}

// Binaries whose audit rules 1.1.3 and 1.1.14–1.1.18 look for. They are
// looked up in /usr/bin and /usr/sbin: Debian's docker.io installs
// /usr/sbin/dockerd, which docker-bench-security's fixed /usr/bin/dockerd misses.
var auditedBinaries = []string{"dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v1", "containerd-shim-runc-v2", "runc"}

var unitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"}

// path is where host path p is under the root (symlinks resolved inside it).
func (h *Host) path(p string) string {
	if full, err := inRoot(h.Root, p); err == nil {
		return full
	}
	return filepath.Join(h.Root, p)
}

// collectHost reads what the host checks need. The daemon (may be nil)
// says where its config, TLS files and sockets are.
func collectHost(ctx context.Context, root string, d *Daemon, dataRoot string) (*Host, []string) {
	h := &Host{Root: root, Files: map[string]FileInfo{}, Units: map[string]string{}}
	var notes []string
	for _, u := range []string{"docker.service", "docker.socket"} {
		for _, dir := range unitDirs {
			p := path.Join(dir, u)
			if _, err := os.Stat(h.path(p)); err == nil {
				h.Units[u] = p
				break
			}
		}
	}
	for _, p := range h.interestingFiles(d, dataRoot) {
		h.Files[p] = statFile(h.path(p))
	}
	var err error
	if h.Groups, err = readGroups(h.path("/etc/group")); err != nil {
		notes = append(notes, err.Error())
	}
	if h.Mounts, err = readMountinfo(h.path("/proc/self/mountinfo")); err != nil {
		notes = append(notes, err.Error())
	}
	h.AuditRules, h.AuditSource = readAuditRules(ctx, root)
	return h, notes
}

// interestingFiles lists every host path a check may ask about.
func (h *Host) interestingFiles(d *Daemon, dataRoot string) []string {
	files := []string{
		"/etc/docker", "/etc/default/docker", "/etc/sysconfig/docker",
		"/etc/containerd/config.toml", "/run/containerd",
		"/var/run/docker.sock", "/etc/docker/daemon.json",
	}
	files = append(files, d.ContainerdSockets()...)
	if dataRoot != "" {
		files = append(files, dataRoot)
	}
	for _, u := range h.Units {
		files = append(files, u)
	}
	for _, b := range auditedBinaries {
		files = append(files, "/usr/bin/"+b, "/usr/sbin/"+b)
	}
	if d != nil {
		files = append(files, d.ConfigFile)
		files = append(files, d.Sockets()...)
		for _, k := range []string{"tlscacert", "tlscert", "tlskey"} {
			if s, ok := d.Setting(k); ok && s.Value() != "" {
				files = append(files, s.Value())
			}
		}
	}
	// Registry certificates: /etc/docker/certs.d/<registry>/<file>.
	regs, _ := os.ReadDir(h.path("/etc/docker/certs.d"))
	for _, r := range regs {
		certs, _ := os.ReadDir(h.path(path.Join("/etc/docker/certs.d", r.Name())))
		for _, c := range certs {
			files = append(files, path.Join("/etc/docker/certs.d", r.Name(), c.Name()))
		}
	}
	sort.Strings(files)
	return files
}

func statFile(p string) FileInfo {
	fi, err := os.Stat(p)
	if err != nil {
		if os.IsNotExist(err) {
			return FileInfo{}
		}
		return FileInfo{Err: err.Error()}
	}
	info := FileInfo{Exists: true, Mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		info.UID, info.GID = int(st.Uid), int(st.Gid)
		info.Dev, info.Ino = uint64(st.Dev), st.Ino
	}
	return info
}

func readGroups(p string) (map[string]Group, error) {
	data, err := readBounded(p, 4<<20)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading groups: %w", err)
	}
	groups := map[string]Group{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 || strings.HasPrefix(line, "#") {
			continue
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		g := Group{GID: gid}
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				g.Members = append(g.Members, m)
			}
		}
		groups[f[0]] = g
	}
	return groups, nil
}

// ParseMountinfo reads /proc/<pid>/mountinfo lines.
func ParseMountinfo(data []byte) []Mount {
	var out []Mount
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= len(f) {
			continue
		}
		out = append(out, Mount{Device: f[2], Root: unescapeMount(f[3]), MountPoint: unescapeMount(f[4]), FSType: f[sep+1]})
	}
	return out
}

// unescapeMount undoes the octal escapes (\040 for space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func readMountinfo(p string) ([]Mount, error) {
	data, err := readBounded(p, 16<<20)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	return ParseMountinfo(data), nil
}

// readAuditRules asks the kernel (auditctl -l) when looking at this host,
// and falls back to the rules files, which is all a mounted image has.
func readAuditRules(ctx context.Context, root string) ([]string, string) {
	if root == "/" {
		if _, err := execx.LookPath("auditctl"); err == nil {
			res, err := (execx.Runner{Timeout: 10 * time.Second}).Run(ctx, "auditctl", "-l")
			if err == nil && res.ExitCode == 0 {
				return splitRules(string(res.Stdout)), "auditctl -l"
			}
		}
	}
	var rules []string
	var sources []string
	fsys := rootfs.New(root)
	files, _ := fsys.Glob("/etc/audit/rules.d/*.rules")
	files = append([]string{"/etc/audit/audit.rules"}, files...)
	for _, f := range files {
		data, err := fsys.ReadFile(f, 4<<20)
		if err != nil {
			continue
		}
		rules = append(rules, splitRules(string(data))...)
		sources = append(sources, f)
	}
	if len(sources) == 0 {
		return nil, "none (no auditctl, no /etc/audit rules files)"
	}
	return rules, strings.Join(sources, ", ")
}

func splitRules(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") && l != "No rules" {
			out = append(out, l)
		}
	}
	return out
}

// WatchedPaths are the paths audit rules watch: "-w PATH" and the
// "-F path=PATH" / "-F dir=PATH" fields of syscall rules.
func WatchedPaths(rules []string) map[string]bool {
	paths := map[string]bool{}
	for _, r := range rules {
		f := strings.Fields(r)
		for i := 0; i < len(f); i++ {
			switch {
			case f[i] == "-w" && i+1 < len(f):
				paths[strings.TrimRight(f[i+1], "/")] = true
			case f[i] == "-F" && i+1 < len(f):
				if k, v, ok := strings.Cut(f[i+1], "="); ok && (k == "path" || k == "dir") {
					paths[strings.TrimRight(v, "/")] = true
				}
			case strings.HasPrefix(f[i], "-F") && len(f[i]) > 2:
				if k, v, ok := strings.Cut(f[i][2:], "="); ok && (k == "path" || k == "dir") {
					paths[strings.TrimRight(v, "/")] = true
				}
			}
		}
	}
	return paths
}

// findDaemon finds the dockerd process that serves socket, by process name
// (not by any command line containing "dockerd", which also matches
// editors, shells and docker-in-docker containers) and by its --host.
func findDaemon(root, socket string) (*Daemon, error) {
	procs, err := os.ReadDir(filepath.Join(root, "proc"))
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var candidates []*Daemon
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join(root, "proc", p.Name())
		comm, err := os.ReadFile(filepath.Join(dir, "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "dockerd" {
			continue
		}
		raw, err := readBounded(filepath.Join(dir, "cmdline"), 1<<20)
		if err != nil || len(raw) == 0 {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		flags, err := ParseFlags(argv[1:])
		if err != nil {
			return nil, fmt.Errorf("reading dockerd (pid %d) command line: %w", pid, err)
		}
		d := &Daemon{PID: pid, Args: argv[1:], Flags: flags, UID: procUID(filepath.Join(dir, "status"))}
		candidates = append(candidates, d)
	}
	var match []*Daemon
	for _, d := range candidates {
		for _, s := range d.Sockets() {
			if samePath(s, socket) {
				match = append(match, d)
				break
			}
		}
	}
	switch {
	case len(match) == 1:
		return match[0], nil
	case len(match) > 1:
		return nil, fmt.Errorf("%d dockerd processes listen on %s", len(match), socket)
	case len(candidates) == 0:
		return nil, fmt.Errorf("no dockerd process found under %s", filepath.Join(root, "proc"))
	}
	return nil, fmt.Errorf("none of the %d dockerd processes listens on %s", len(candidates), socket)
}

func procUID(status string) int {
	data, err := os.ReadFile(status)
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Uid:" {
			if n, err := strconv.Atoi(f[1]); err == nil {
				return n
			}
		}
	}
	return -1
}

// loadDaemonConfig reads daemon.json under root.
func loadDaemonConfig(root string, d *Daemon) {
	d.ConfigFile = ConfigFilePath(d.Flags)
	full, err := inRoot(root, d.ConfigFile)
	if err != nil {
		d.ConfigErr = err.Error()
		return
	}
	data, err := readBounded(full, 4<<20)
	if err != nil {
		if !os.IsNotExist(err) {
			d.ConfigErr = err.Error()
		}
		return
	}
	cfg, err := ParseDaemonConfig(data)
	if err != nil {
		d.ConfigErr = fmt.Sprintf("%s: %v", d.ConfigFile, err)
		return
	}
	d.Config = cfg
}

// ParseDaemonConfig parses daemon.json.
func ParseDaemonConfig(data []byte) (map[string]any, error) {
	var cfg map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cfg); err != nil {
		if se, ok := err.(*json.SyntaxError); ok {
			line, col := position(data, se.Offset)
			return nil, fmt.Errorf("line %d, column %d: %v", line, col, err)
		}
		return nil, err
	}
	if cfg == nil {
		cfg = map[string]any{}
	}
	return cfg, nil
}

func position(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

// readBounded reads a regular file, at most limit bytes; a FIFO or device
// (a hostile or broken root) is refused without blocking on it.
func readBounded(p string, limit int64) ([]byte, error) {
	return rootfs.ReadRegular(p, limit)
}
