package bench

import (
	"fmt"
	"path"
	"strings"

	"github.com/ctsec/ctsec/internal/report"
)

// Section 1: host configuration.

func hostChecks() []Check {
	checks := []Check{
		{ID: "1.1.1", Section: "1.1", Level: 1, Automated: true, Severity: report.Low,
			Title:       "Ensure a separate partition for containers has been created",
			Remediation: "Put the Docker data root (docker info: Docker Root Dir) on its own filesystem, e.g. an LVM volume mounted there.",
			Differs:     "docker-bench runs mountpoint(1) on the data root, which always succeeds because dockerd bind-mounts the data root onto itself; ctsec reads mountinfo, ignores bind mounts (root field not /) and compares the device with the root filesystem's.",
			eval:        checkPartition},
		{ID: "1.1.2", Section: "1.1", Level: 1, Severity: report.Medium,
			Title:       "Ensure only trusted users are allowed to control Docker daemon",
			Remediation: "Remove untrusted users from the docker group (gpasswd -d USER docker); membership equals root on the host.",
			eval:        checkDockerGroup},
	}
	type audited struct {
		id, what string
		level    int
		paths    func(*Snapshot) []string
	}
	fixed := func(p ...string) func(*Snapshot) []string { return func(*Snapshot) []string { return p } }
	bin := func(name string) func(*Snapshot) []string { return fixed("/usr/bin/"+name, "/usr/sbin/"+name) }
	for _, a := range []audited{
		{"1.1.3", "the Docker daemon", 1, bin("dockerd")},
		{"1.1.4", "/run/containerd", 1, fixed("/run/containerd")},
		{"1.1.5", "the Docker data root", 1, func(s *Snapshot) []string { return []string{s.Engine.Info.DockerRootDir} }},
		{"1.1.6", "/etc/docker", 1, fixed("/etc/docker")},
		{"1.1.7", "docker.service", 2, unit("docker.service")},
		{"1.1.8", "containerd.sock", 2, func(s *Snapshot) []string { return s.Daemon.ContainerdSockets() }},
		{"1.1.9", "docker.socket", 2, unit("docker.socket")},
		{"1.1.10", "/etc/default/docker", 2, fixed("/etc/default/docker")},
		{"1.1.11", "the daemon configuration file", 2, func(s *Snapshot) []string {
			if s.Daemon != nil {
				return []string{s.Daemon.ConfigFile}
			}
			return []string{"/etc/docker/daemon.json"}
		}},
		{"1.1.12", "/etc/containerd/config.toml", 2, fixed("/etc/containerd/config.toml")},
		{"1.1.13", "/etc/sysconfig/docker", 2, fixed("/etc/sysconfig/docker")},
		{"1.1.14", "containerd", 2, bin("containerd")},
		{"1.1.15", "containerd-shim", 2, bin("containerd-shim")},
		{"1.1.16", "containerd-shim-runc-v1", 2, bin("containerd-shim-runc-v1")},
		{"1.1.17", "containerd-shim-runc-v2", 2, bin("containerd-shim-runc-v2")},
		{"1.1.18", "runc", 2, bin("runc")},
	} {
		checks = append(checks, Check{ID: a.id, Section: "1.1", Level: a.level, Automated: true, Severity: report.Low,
			Title:       "Ensure auditing is configured for " + a.what,
			Remediation: "Add an audit watch for the path, e.g. in /etc/audit/rules.d/docker.rules: -w PATH -p rwxa -k docker; then augenrules --load.",
			Differs:     "docker-bench greps the rule text for a hard-coded path (so /usr/bin/docker matches /usr/bin/dockerd, and Debian's /usr/sbin/dockerd is never found); ctsec parses -w and -F path=/dir= and requires the exact path, looking in /usr/bin and /usr/sbin.",
			eval:        auditCheck(a.paths)})
	}
	checks = append(checks,
		Check{ID: "1.2.1", Section: "1.2", Level: 1, Severity: report.Info,
			Title:       "Ensure the container host has been hardened",
			Remediation: "Follow a host hardening benchmark (ctsec host audit covers SSH, firewall, sysctl, fail2ban, updates).",
			eval: func(*Snapshot) Outcome {
				return manual("host hardening is judged against your OS benchmark; see ctsec host audit")
			}},
		Check{ID: "1.2.2", Section: "1.2", Level: 1, Severity: report.Info,
			Title:       "Ensure that the version of Docker is up to date",
			Remediation: "Keep the engine on a supported, patched release.",
			eval: func(s *Snapshot) Outcome {
				return manual(fmt.Sprintf("engine %s (API %s, %s)", s.Engine.Version, s.Engine.APIVersion, s.Engine.Info.OperatingSystem))
			}},
	)
	return checks
}

func unit(name string) func(*Snapshot) []string {
	return func(s *Snapshot) []string {
		if s.Host == nil || s.Host.Units[name] == "" {
			return nil
		}
		return []string{s.Host.Units[name]}
	}
}

func needHost(s *Snapshot) (Outcome, bool) {
	if s.Host == nil {
		return skip("host not inspected: the engine is remote (run ctsec bench on that host, or pass --root)"), false
	}
	return Outcome{}, true
}

func auditCheck(paths func(*Snapshot) []string) func(*Snapshot) Outcome {
	return func(s *Snapshot) Outcome {
		if o, ok := needHost(s); !ok {
			return o
		}
		var present []string
		for _, p := range paths(s) {
			if p != "" && s.Host.Files[p].Exists {
				present = append(present, p)
			}
		}
		if len(present) == 0 {
			return skip("not present on this host")
		}
		watched := WatchedPaths(s.Host.AuditRules)
		// Paths that are one file (a symlink and its target) need one
		// rule between them.
		type fileID struct{ dev, ino uint64 }
		groups := map[fileID][]string{}
		var order []fileID
		for i, p := range present {
			fi := s.Host.Files[p]
			id := fileID{fi.Dev, fi.Ino}
			if fi.Ino == 0 {
				id = fileID{0, uint64(i + 1)}
			}
			if _, ok := groups[id]; !ok {
				order = append(order, id)
			}
			groups[id] = append(groups[id], p)
		}
		var items []Item
		for _, id := range order {
			ok := false
			for _, p := range groups[id] {
				ok = ok || watched[strings.TrimRight(p, "/")]
			}
			if !ok {
				p := strings.Join(groups[id], " = ")
				items = append(items, Item{Target: groups[id][0], Detail: "no audit rule watches " + p + " (rules from " + s.Host.AuditSource + ")"})
			}
		}
		return failIf(items, "not audited", "audited: "+strings.Join(present, ", "))
	}
}

func checkPartition(s *Snapshot) Outcome {
	if o, ok := needHost(s); !ok {
		return o
	}
	dataRoot := s.Engine.Info.DockerRootDir
	if dataRoot == "" || len(s.Host.Mounts) == 0 {
		return skip("no mount table under %s", s.Host.Root)
	}
	var rootDev string
	var best Mount
	for _, m := range s.Host.Mounts {
		if m.MountPoint == "/" {
			rootDev = m.Device
		}
		// Bind mounts (root field other than /) do not make a partition:
		// dockerd bind-mounts its data root onto itself.
		if m.Root != "/" || !within(dataRoot, m.MountPoint) {
			continue
		}
		if len(m.MountPoint) >= len(best.MountPoint) {
			best = m
		}
	}
	if best.MountPoint == "" || best.MountPoint == "/" || best.Device == rootDev {
		return fail("the data root shares the root filesystem", Item{Target: dataRoot, Detail: fmt.Sprintf("%s is on the root filesystem", dataRoot)})
	}
	return pass("%s is on its own filesystem mounted at %s (%s, device %s)", dataRoot, best.MountPoint, best.FSType, best.Device)
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	p, dir = path.Clean(p), path.Clean(dir)
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

func checkDockerGroup(s *Snapshot) Outcome {
	if o, ok := needHost(s); !ok {
		return o
	}
	g, ok := s.Host.Groups["docker"]
	if !ok {
		return manual("no docker group: only root can use the socket")
	}
	if len(g.Members) == 0 {
		return manual("the docker group has no members")
	}
	var items []Item
	for _, m := range g.Members {
		items = append(items, Item{Target: "user " + m, Detail: m + " is in the docker group (root-equivalent)"})
	}
	return manual("docker group members: "+strings.Join(g.Members, ", "), items...)
}
