package bench

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/ctsec/ctsec/internal/report"
)

// Section 3: daemon configuration files. Modes are compared as bitmasks:
// a file passes "644 or more restrictive" when it has no permission bit
// outside 0644 (and no setuid/setgid/sticky bit). docker-bench-security
// compared the octal digits as a decimal number, so 622 and 606 (group- or
// world-writable) passed "-le 644".

// ModeWithin reports whether mode has no permission bits beyond max.
func ModeWithin(mode fs.FileMode, max fs.FileMode) bool {
	bits := mode.Perm()
	if mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		return false
	}
	return bits&^max == 0
}

// unixMode renders a mode as the octal people write with chmod.
func unixMode(m fs.FileMode) string {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return fmt.Sprintf("%04o", v)
}

type fileSet struct {
	what  string
	paths func(*Snapshot) []string
}

func fixedFiles(what string, p ...string) fileSet {
	return fileSet{what, func(*Snapshot) []string { return p }}
}

func containerdSockets() fileSet {
	return fileSet{"containerd socket", func(s *Snapshot) []string { return s.Daemon.ContainerdSockets() }}
}

func unitFile(name string) fileSet { return fileSet{name + " file", unit(name)} }

func daemonSetting(what, key string) fileSet {
	return fileSet{what, func(s *Snapshot) []string {
		if st, ok := s.Daemon.Setting(key); ok && st.Value() != "" {
			return []string{st.Value()}
		}
		return nil
	}}
}

func registryCerts() fileSet {
	return fileSet{"registry certificate files", func(s *Snapshot) []string {
		var out []string
		for p := range s.Host.Files {
			if strings.HasPrefix(p, "/etc/docker/certs.d/") && strings.Count(p, "/") == 5 {
				out = append(out, p)
			}
		}
		sort.Strings(out)
		return out
	}}
}

func daemonJSON() fileSet {
	return fileSet{"daemon.json", func(s *Snapshot) []string {
		if s.Daemon != nil {
			return []string{s.Daemon.ConfigFile}
		}
		return []string{"/etc/docker/daemon.json"}
	}}
}

func dockerSockets() fileSet {
	return fileSet{"Docker socket", func(s *Snapshot) []string {
		if s.Daemon != nil {
			return s.Daemon.Sockets()
		}
		return []string{"/var/run/docker.sock"}
	}}
}

func fileChecks() []Check {
	const differsMode = "modes are compared as bitmasks, not as decimal numbers (docker-bench passed 622 and 606 against 644)"
	owner := func(id string, level int, automated bool, f fileSet, group string) Check {
		return Check{ID: id, Section: "3", Level: level, Automated: automated, Severity: report.Medium,
			Title:       fmt.Sprintf("Ensure that %s ownership is set to root:%s", f.what, group),
			Remediation: fmt.Sprintf("chown root:%s on the file.", group),
			eval:        ownerCheck(f, group)}
	}
	perm := func(id string, level int, automated bool, f fileSet, max fs.FileMode, sev report.Severity) Check {
		return Check{ID: id, Section: "3", Level: level, Automated: automated, Severity: sev,
			Title:       fmt.Sprintf("Ensure that %s permissions are set to %o or more restrictive", f.what, max),
			Remediation: fmt.Sprintf("chmod %o on the file (or remove the extra bits: chmod go-w,a-s).", max),
			Differs:     differsMode,
			eval:        modeCheck(f, max)}
	}
	return []Check{
		owner("3.1", 1, true, unitFile("docker.service"), "root"),
		perm("3.2", 1, true, unitFile("docker.service"), 0o644, report.Medium),
		owner("3.3", 1, true, unitFile("docker.socket"), "root"),
		perm("3.4", 1, true, unitFile("docker.socket"), 0o644, report.Medium),
		owner("3.5", 1, true, fixedFiles("/etc/docker directory", "/etc/docker"), "root"),
		perm("3.6", 1, true, fixedFiles("/etc/docker directory", "/etc/docker"), 0o755, report.Medium),
		owner("3.7", 1, true, registryCerts(), "root"),
		perm("3.8", 1, true, registryCerts(), 0o444, report.Medium),
		owner("3.9", 1, true, daemonSetting("TLS CA certificate file", "tlscacert"), "root"),
		perm("3.10", 1, true, daemonSetting("TLS CA certificate file", "tlscacert"), 0o444, report.Medium),
		owner("3.11", 1, true, daemonSetting("Docker server certificate file", "tlscert"), "root"),
		perm("3.12", 1, true, daemonSetting("Docker server certificate file", "tlscert"), 0o444, report.Medium),
		owner("3.13", 1, true, daemonSetting("Docker server certificate key file", "tlskey"), "root"),
		perm("3.14", 1, true, daemonSetting("Docker server certificate key file", "tlskey"), 0o400, report.High),
		owner("3.15", 1, true, dockerSockets(), "docker"),
		perm("3.16", 1, true, dockerSockets(), 0o660, report.Critical),
		owner("3.17", 2, true, daemonJSON(), "root"),
		perm("3.18", 2, true, daemonJSON(), 0o644, report.Medium),
		owner("3.19", 2, true, fixedFiles("/etc/default/docker file", "/etc/default/docker"), "root"),
		perm("3.20", 2, true, fixedFiles("/etc/default/docker file", "/etc/default/docker"), 0o644, report.Medium),
		perm("3.21", 2, true, fixedFiles("/etc/sysconfig/docker file", "/etc/sysconfig/docker"), 0o644, report.Medium),
		owner("3.22", 2, true, fixedFiles("/etc/sysconfig/docker file", "/etc/sysconfig/docker"), "root"),
		owner("3.23", 1, true, containerdSockets(), "root"),
		perm("3.24", 1, true, containerdSockets(), 0o660, report.Critical),
	}
}

// present returns the set's files that exist, or an outcome when there is
// nothing to look at.
func present(s *Snapshot, f fileSet) ([]string, Outcome, bool) {
	if o, ok := needHost(s); !ok {
		return nil, o, false
	}
	var out []string
	for _, p := range f.paths(s) {
		fi, ok := s.Host.Files[p]
		if ok && fi.Err != "" {
			return nil, skip("%s: %s", p, fi.Err), false
		}
		if ok && fi.Exists {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, skip("no %s on this host", f.what), false
	}
	return out, Outcome{}, true
}

func ownerCheck(f fileSet, group string) func(*Snapshot) Outcome {
	return func(s *Snapshot) Outcome {
		files, o, ok := present(s, f)
		if !ok {
			return o
		}
		wantGID := 0
		if group != "root" {
			g, ok := s.Host.Groups[group]
			if !ok {
				return fail("", Item{Target: files[0], Detail: "no " + group + " group on this host"})
			}
			wantGID = g.GID
		}
		var items []Item
		for _, p := range files {
			fi := s.Host.Files[p]
			if fi.UID != 0 || fi.GID != wantGID {
				items = append(items, Item{Target: p, Detail: fmt.Sprintf("%s is owned by %d:%d, want root:%s (0:%d)", p, fi.UID, fi.GID, group, wantGID)})
			}
		}
		return failIf(items, "wrong owner", fmt.Sprintf("root:%s: %s", group, strings.Join(files, ", ")))
	}
}

func modeCheck(f fileSet, max fs.FileMode) func(*Snapshot) Outcome {
	return func(s *Snapshot) Outcome {
		files, o, ok := present(s, f)
		if !ok {
			return o
		}
		var items []Item
		var seen []string
		for _, p := range files {
			fi := s.Host.Files[p]
			seen = append(seen, p+" "+unixMode(fi.Mode))
			if !ModeWithin(fi.Mode, max) {
				items = append(items, Item{Target: p, Detail: fmt.Sprintf("%s has mode %s, allows more than %04o", p, unixMode(fi.Mode), uint32(max))})
			}
		}
		return failIf(items, "too permissive", strings.Join(seen, ", "))
	}
}
