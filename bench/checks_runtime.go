package bench

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/moby/moby/api/types/network"
)

// Section 5: container runtime. Every container is checked, running or
// not: a stopped privileged container is one `docker start` away
// (docker-bench-security checks running containers only).

// perContainer fails with one item per container for which bad returns a
// reason.
func perContainer(bad func(Container) string, failDetail, okDetail string) func(*Snapshot) Outcome {
	return func(s *Snapshot) Outcome {
		if len(s.Containers) == 0 {
			return noContainers()
		}
		var items []Item
		for _, c := range s.Containers {
			if why := bad(c); why != "" {
				items = append(items, Item{Target: c.DisplayName(), Detail: why + state(c)})
			}
		}
		return failIf(items, failDetail, fmt.Sprintf("%s (%d containers)", okDetail, len(s.Containers)))
	}
}

// noContainers is the outcome of a container check with nothing to look
// at: a PASS would count towards the score for something never checked.
func noContainers() Outcome { return skip("no containers to check") }

// listContainers is perContainer for manual checks: the containers for
// which what returns something are listed for review, never failed.
func listContainers(what func(Container) string, summary string) func(*Snapshot) Outcome {
	return func(s *Snapshot) Outcome {
		var items []Item
		for _, c := range s.Containers {
			if d := what(c); d != "" {
				items = append(items, Item{Target: c.DisplayName(), Detail: d})
			}
		}
		return manual(fmt.Sprintf(summary, len(items)), items...)
	}
}

func state(c Container) string {
	if c.State == nil || c.State.Running {
		return ""
	}
	return " [" + string(c.State.Status) + "]"
}

func hc(c Container) *engine.HostConfig {
	if c.HostConfig == nil {
		return &engine.HostConfig{}
	}
	return c.HostConfig
}

// defaultCaps is Docker's default capability set; adding one of these back
// (after --cap-drop ALL) grants nothing new.
var defaultCaps = map[string]bool{
	"CHOWN": true, "DAC_OVERRIDE": true, "FSETID": true, "FOWNER": true, "MKNOD": true,
	"NET_RAW": true, "SETGID": true, "SETUID": true, "SETFCAP": true, "SETPCAP": true,
	"NET_BIND_SERVICE": true, "SYS_CHROOT": true, "KILL": true, "AUDIT_WRITE": true,
}

func normCap(c string) string {
	return strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(c)), "CAP_")
}

// sensitiveDirs are the host directories CIS 5.6 names. Mounting one of
// them, even read-only, exposes the host; mounting anything below them
// read-write does too.
var sensitiveDirs = []string{"/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr"}

func secOpt(c Container, key string) (string, bool) {
	for _, o := range hc(c).SecurityOpt {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, ok = strings.Cut(o, ":")
		}
		if k == key {
			if !ok {
				v = "true"
			}
			return v, true
		}
	}
	return "", false
}

// portBindings is what a container publishes, by container port. For a
// running container the engine's NetworkSettings.Ports are the bindings
// it made (a random host port resolved, an empty host IP split into
// 0.0.0.0 and ::); HostConfig.PortBindings are only the request and say
// the same thing again, less precisely, so they count only for ports the
// engine shows nothing for (created and stopped containers).
func portBindings(c Container) map[string][]network.PortBinding {
	out := map[string][]network.PortBinding{}
	var actual network.PortMap
	if c.NetworkSettings != nil {
		actual = c.NetworkSettings.Ports
	}
	for p, bs := range actual {
		if len(bs) > 0 {
			out[p.String()] = append(out[p.String()], bs...)
		}
	}
	for p, bs := range hc(c).PortBindings {
		if _, made := out[p.String()]; !made {
			out[p.String()] = append(out[p.String()], bs...)
		}
	}
	return out
}

// hostPorts lists the bindings pick selects as HOST:PORT->CONTAINER-PORT,
// each once. "*" is every interface: no host IP, or the pair 0.0.0.0 and
// :: the engine makes of it; a host port the engine has yet to choose is
// "random".
func hostPorts(c Container, pick func(network.PortBinding) bool) []string {
	pb := portBindings(c)
	var out []string
	for _, k := range sortedKeys(pb) {
		var picked []network.PortBinding
		v4any, v6any := map[string]bool{}, map[string]bool{}
		for _, b := range pb[k] {
			if !pick(b) {
				continue
			}
			picked = append(picked, b)
			if b.HostIP.IsValid() && b.HostIP.IsUnspecified() {
				if b.HostIP.Is4() {
					v4any[b.HostPort] = true
				} else {
					v6any[b.HostPort] = true
				}
			}
		}
		seen := map[string]bool{}
		for _, b := range picked {
			ip := "*"
			switch {
			case !b.HostIP.IsValid():
			case b.HostIP.IsUnspecified() && v4any[b.HostPort] && v6any[b.HostPort]:
			case b.HostIP.Is6():
				ip = "[" + b.HostIP.String() + "]"
			default:
				ip = b.HostIP.String()
			}
			port := b.HostPort
			if port == "" || port == "0" {
				port = "random"
			}
			if s := fmt.Sprintf("%s:%s->%s", ip, port, k); !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func runtimeChecks() []Check {
	m := func(id string, level int, title, fix string, eval func(*Snapshot) Outcome) Check {
		return Check{ID: id, Section: "5", Level: level, Severity: report.Info, Title: title, Remediation: fix, eval: eval}
	}
	a := func(id string, level int, sev report.Severity, title, fix, differs string, eval func(*Snapshot) Outcome) Check {
		return Check{ID: id, Section: "5", Level: level, Automated: true, Severity: sev, Title: title, Remediation: fix, Differs: differs, eval: eval}
	}
	return []Check{
		a("5.1", 1, report.Low, "Ensure swarm mode is not enabled, if not needed", "docker swarm leave, if this node does not need swarm.", "", func(s *Snapshot) Outcome {
			if swarmActive(s) {
				return fail("", Item{Target: "engine", Detail: "swarm mode is " + string(s.Engine.Info.Swarm.LocalNodeState) + ": it opens ports 2377/7946/4789 and needs its own review"})
			}
			return pass("swarm mode %s", orDefault(string(s.Engine.Info.Swarm.LocalNodeState), "inactive"))
		}),
		a("5.2", 1, report.High, "Ensure that, if applicable, an AppArmor profile is enabled", "Run containers with the docker-default or a dedicated profile (ctsec profile gen).",
			"skipped when the engine has no AppArmor (docker-bench fails every container there)", func(s *Snapshot) Outcome {
				if !hasSecOpt(s, "apparmor") {
					return skip("the engine does not support AppArmor on this host")
				}
				return perContainer(func(c Container) string {
					if hc(c).Privileged {
						return "privileged: runs unconfined"
					}
					if p := c.AppArmorProfile; p == "" || p == "unconfined" {
						return "no AppArmor profile"
					}
					return ""
				}, "containers without AppArmor", "every container has an AppArmor profile")(s)
			}),
		a("5.3", 2, report.High, "Ensure that, if applicable, SELinux security options are set", "Run with SELinux enabled in the daemon and a label (--security-opt label=type:...).",
			"docker-bench passes any container with any security option (seccomp=unconfined, even the label=disable Docker adds itself); ctsec looks for labelling being disabled, and skips when SELinux is off", func(s *Snapshot) Outcome {
				if !hasSecOpt(s, "selinux") {
					return skip("the engine does not run with SELinux")
				}
				return perContainer(func(c Container) string {
					if v, ok := secOpt(c, "label"); ok && v == "disable" {
						return "SELinux labelling disabled (label=disable)"
					}
					if hc(c).Privileged {
						return "privileged: no SELinux separation"
					}
					if c.ProcessLabel == "" {
						return "no SELinux process label"
					}
					return ""
				}, "containers without SELinux separation", "every container is labelled")(s)
			}),
		a("5.4", 1, report.High, "Ensure that Linux kernel capabilities are restricted within containers", "Drop what is not needed: --cap-drop ALL --cap-add only what the service uses.",
			"capability names are compared without the CAP_ prefix Docker 20.10 stores", perContainer(func(c Container) string {
				var extra []string
				for _, cp := range hc(c).CapAdd {
					if n := normCap(cp); n == "ALL" || !defaultCaps[n] {
						extra = append(extra, n)
					}
				}
				if len(extra) > 0 {
					sort.Strings(extra)
					return "adds capabilities " + strings.Join(extra, ", ")
				}
				return ""
			}, "containers with added capabilities", "no container adds capabilities beyond Docker's default set")),
		a("5.5", 1, report.Critical, "Ensure that privileged containers are not used", "Remove --privileged; grant the specific capability or device instead.",
			"created and stopped containers are checked too (docker-bench passes a privileged container that is not running)", perContainer(func(c Container) string {
				if hc(c).Privileged {
					return "privileged: every capability, every device, no seccomp/AppArmor"
				}
				return ""
			}, "privileged containers", "no privileged container")),
		a("5.6", 1, report.High, "Ensure sensitive host system directories are not mounted on containers", "Mount only the specific files or directories a service needs, read-only where possible.",
			"read-only mounts of the sensitive directories are flagged too (CIS: not mounted; read-write is 'especially' bad), and paths below them when writable; docker-bench flags exact read-write matches only", checkSensitiveMounts),
		a("5.7", 1, report.Medium, "Ensure sshd is not run within containers", "Remove sshd from the image; use docker exec.",
			"reads every process in the container's cgroup, docker exec'd ones included (no ps needed in the image), and matches the kernel's process name (/proc/PID/comm), not what a program writes into its argv; docker-bench's host-side grep matched itself on --pid=host containers", func(s *Snapshot) Outcome {
				running := 0
				var items []Item
				for _, c := range s.Containers {
					if c.State == nil || !c.State.Running {
						continue
					}
					running++
					for _, p := range c.Processes {
						if p.Name == "sshd" {
							items = append(items, Item{Target: c.DisplayName(), Detail: "runs sshd: " + truncate(p.Command, 80)})
							break
						}
					}
				}
				if running == 0 {
					return skip("no running containers: processes are only seen in running ones")
				}
				return failIf(items, "containers running sshd", fmt.Sprintf("no sshd in %d running containers", running))
			}),
		a("5.8", 1, report.Medium, "Ensure privileged ports are not mapped within containers", "Publish on ports above 1023 and let the service listen there.",
			"reads the configured port bindings, so created and stopped containers count, and IPv6 bindings are not skipped", perContainer(func(c Container) string {
				p := hostPorts(c, func(b network.PortBinding) bool {
					n, err := strconv.Atoi(b.HostPort)
					return err == nil && n > 0 && n < 1024
				})
				if len(p) > 0 {
					return "publishes privileged host ports " + strings.Join(p, ", ")
				}
				return ""
			}, "privileged ports published", "no privileged host port is published")),
		m("5.9", 1, "Ensure that only needed ports are open on the container", "Publish only the ports the service needs; avoid -P.", listContainers(func(c Container) string {
			if p := hostPorts(c, func(network.PortBinding) bool { return true }); len(p) > 0 {
				return "publishes " + strings.Join(p, ", ")
			}
			return ""
		}, "%d containers publish ports")),
		a("5.10", 1, report.High, "Ensure that the host's network namespace is not shared", "Remove --network host.", "", perContainer(func(c Container) string {
			if hc(c).NetworkMode == "host" {
				return "shares the host's network namespace"
			}
			return ""
		}, "containers on the host network", "no container uses the host network")),
		a("5.11", 1, report.Medium, "Ensure that the memory usage for containers is limited", "Run with --memory (compose: mem_limit / deploy.resources.limits.memory).", "", perContainer(func(c Container) string {
			if hc(c).Memory <= 0 {
				return "no memory limit"
			}
			return ""
		}, "containers without a memory limit", "every container has a memory limit")),
		a("5.12", 1, report.Medium, "Ensure that CPU priority is set appropriately on containers", "Run with --cpu-shares or --cpus.",
			"any CPU control counts (shares, --cpus, quota, cpuset)", perContainer(func(c Container) string {
				r := hc(c).Resources
				if r.CPUShares == 0 && r.NanoCPUs == 0 && r.CPUQuota == 0 && r.CpusetCpus == "" {
					return "no CPU shares or limit"
				}
				return ""
			}, "containers without CPU controls", "every container has a CPU control")),
		a("5.13", 1, report.Medium, "Ensure that the container's root filesystem is mounted as read only", "Run with --read-only and tmpfs/volumes for the paths that must be written.", "", perContainer(func(c Container) string {
			if !hc(c).ReadonlyRootfs {
				return "writable root filesystem"
			}
			return ""
		}, "containers with a writable root", "every container has a read-only root")),
		a("5.14", 1, report.Medium, "Ensure that incoming container traffic is bound to a specific host interface", "Publish on a specific address: -p 127.0.0.1:8080:80.",
			"an empty host IP, 0.0.0.0 and [::] all mean every interface (docker-bench missed [::] and unstarted containers)", perContainer(func(c Container) string {
				p := hostPorts(c, func(b network.PortBinding) bool { return !b.HostIP.IsValid() || b.HostIP.IsUnspecified() })
				if len(p) > 0 {
					return "published on all interfaces: " + strings.Join(p, ", ")
				}
				return ""
			}, "ports published on every interface", "every published port is bound to an address")),
		a("5.15", 1, report.Low, "Ensure that the 'on-failure' container restart policy is set to '5'", "Use --restart on-failure:5.",
			"'always' and 'unless-stopped' fail, and so does on-failure with no retry limit (0); docker-bench only compared the retry count", perContainer(func(c Container) string {
				rp := hc(c).RestartPolicy
				switch rp.Name {
				case "", "no":
					return ""
				case "on-failure":
					if rp.MaximumRetryCount == 0 || rp.MaximumRetryCount > 5 {
						return fmt.Sprintf("restart on-failure with %d retries (want 1–5)", rp.MaximumRetryCount)
					}
					return ""
				}
				return fmt.Sprintf("restart policy %q restarts forever", rp.Name)
			}, "unbounded restart policies", "every restart policy is bounded")),
		a("5.16", 1, report.High, "Ensure that the host's process namespace is not shared", "Remove --pid host.", "", perContainer(func(c Container) string {
			if hc(c).PidMode == "host" {
				return "shares the host's PID namespace"
			}
			return ""
		}, "containers in the host PID namespace", "no container shares the host PID namespace")),
		a("5.17", 1, report.High, "Ensure that the host's IPC namespace is not shared", "Remove --ipc host.", "", perContainer(func(c Container) string {
			if hc(c).IpcMode == "host" {
				return "shares the host's IPC namespace"
			}
			return ""
		}, "containers in the host IPC namespace", "no container shares the host IPC namespace")),
		m("5.18", 1, "Ensure that host devices are not directly exposed to containers", "Pass only the devices needed, with the narrowest permissions (r, rw).", listContainers(func(c Container) string {
			var d []string
			for _, dm := range hc(c).Devices {
				d = append(d, dm.PathOnHost+":"+dm.PathInContainer+":"+dm.CgroupPermissions)
			}
			if hc(c).Privileged {
				d = append(d, "all (privileged)")
			}
			if len(d) > 0 {
				return "host devices: " + strings.Join(d, ", ")
			}
			return ""
		}, "%d containers get host devices")),
		m("5.19", 1, "Ensure that the default ulimit is overwritten at runtime only if needed", "Override ulimits only where a service needs it.", listContainers(func(c Container) string {
			var u []string
			for _, l := range hc(c).Ulimits {
				if l != nil {
					u = append(u, fmt.Sprintf("%s=%d:%d", l.Name, l.Soft, l.Hard))
				}
			}
			if len(u) > 0 {
				return "ulimits: " + strings.Join(u, ", ")
			}
			return ""
		}, "%d containers override ulimits")),
		a("5.20", 1, report.Medium, "Ensure mount propagation mode is not set to shared", "Use private (the default) or slave propagation.", "", perContainer(func(c Container) string {
			var shared []string
			for _, mp := range c.Mounts {
				if p := string(mp.Propagation); p == "shared" || p == "rshared" {
					shared = append(shared, mp.Destination+" ("+p+")")
				}
			}
			if len(shared) > 0 {
				return "shared mount propagation: " + strings.Join(shared, ", ")
			}
			return ""
		}, "mounts with shared propagation", "no mount uses shared propagation")),
		a("5.21", 1, report.Medium, "Ensure that the host's UTS namespace is not shared", "Remove --uts host.", "", perContainer(func(c Container) string {
			if hc(c).UTSMode == "host" {
				return "shares the host's UTS namespace"
			}
			return ""
		}, "containers in the host UTS namespace", "no container shares the host UTS namespace")),
		a("5.22", 1, report.High, "Ensure the default seccomp profile is not disabled", "Remove seccomp=unconfined; if a syscall is missing, extend a copy of the default profile (ctsec seccomp).",
			"privileged containers count too: --privileged turns seccomp off", perContainer(func(c Container) string {
				if v, ok := secOpt(c, "seccomp"); ok && v == "unconfined" {
					return "seccomp=unconfined"
				}
				if hc(c).Privileged {
					return "privileged: seccomp is off"
				}
				return ""
			}, "containers without seccomp", "every container runs under seccomp")),
		m("5.23", 2, "Ensure that docker exec commands are not used with the privileged option", "Do not use docker exec --privileged; audit the docker client.", func(s *Snapshot) Outcome {
			return manual("exec history is in audit logs, not in the engine's state")
		}),
		m("5.24", 2, "Ensure that docker exec commands are not used with the user=root option", "Do not use docker exec --user root; audit the docker client.", func(s *Snapshot) Outcome {
			return manual("exec history is in audit logs, not in the engine's state")
		}),
		m("5.25", 1, "Ensure that cgroup usage is confirmed", "Use --cgroup-parent only when required.", listContainers(func(c Container) string {
			if p := hc(c).CgroupParent; p != "" {
				return "cgroup parent " + p
			}
			return ""
		}, "%d containers set a cgroup parent")),
		a("5.26", 1, report.Medium, "Ensure that the container is restricted from acquiring additional privileges", "Run with --security-opt no-new-privileges (or set it daemon-wide).",
			"the daemon-wide setting from daemon.json or the command line counts", func(s *Snapshot) Outcome {
				if on, src := s.Daemon.Bool("no-new-privileges", false); on {
					return pass("no-new-privileges is the daemon default (%s)", src)
				}
				return perContainer(func(c Container) string {
					v, ok := secOpt(c, "no-new-privileges")
					if !ok {
						return "can gain privileges (no no-new-privileges)"
					}
					if b, err := strconv.ParseBool(v); err == nil && !b {
						return "no-new-privileges=false"
					}
					return ""
				}, "containers that can gain privileges", "every container has no-new-privileges")(s)
			}),
		a("5.27", 1, report.Low, "Ensure that container health is checked at runtime", "Add a HEALTHCHECK to the image or run with --health-cmd.",
			"reads the container's health check configuration, so stopped containers are checked too", perContainer(func(c Container) string {
				if c.Config == nil || c.Config.Healthcheck == nil || len(c.Config.Healthcheck.Test) == 0 || c.Config.Healthcheck.Test[0] == "NONE" {
					return "no health check"
				}
				return ""
			}, "containers without a health check", "every container has a health check")),
		m("5.28", 1, "Ensure that Docker commands always make use of the latest version of their image", "Pin images by version or digest and update deliberately.", listContainers(func(c Container) string {
			if c.Config == nil {
				return ""
			}
			img := c.Config.Image
			if strings.HasSuffix(img, ":latest") || (!strings.Contains(path.Base(img), ":") && !strings.Contains(img, "@")) {
				return "image " + img + " is not pinned (latest)"
			}
			return ""
		}, "%d containers use an unpinned image")),
		a("5.29", 1, report.Medium, "Ensure that the PIDs cgroup limit is used", "Run with --pids-limit (e.g. 200).", "", perContainer(func(c Container) string {
			if l := hc(c).PidsLimit; l == nil || *l <= 0 {
				return "no PIDs limit"
			}
			return ""
		}, "containers without a PIDs limit", "every container has a PIDs limit")),
		m("5.30", 2, "Ensure that Docker's default bridge docker0 is not used", "Put containers on user-defined networks.", listContainers(func(c Container) string {
			if hc(c).NetworkMode == "default" || hc(c).NetworkMode == "bridge" {
				return "on the default bridge"
			}
			return ""
		}, "%d containers on the default bridge")),
		a("5.31", 1, report.High, "Ensure that the host's user namespaces are not shared", "Remove --userns host.", "", perContainer(func(c Container) string {
			if hc(c).UsernsMode == "host" {
				return "shares the host's user namespace"
			}
			return ""
		}, "containers in the host user namespace", "no container shares the host user namespace")),
		a("5.32", 1, report.Critical, "Ensure that the Docker socket is not mounted inside any containers", "Do not mount docker.sock; use a narrowly scoped API proxy if a tool needs the engine.",
			"matches the mount source against the daemon's real sockets and docker.sock/containerd.sock names, not the text of the mount list", checkSocketMounts),
	}
}

func checkSensitiveMounts(s *Snapshot) Outcome {
	if len(s.Containers) == 0 {
		return noContainers()
	}
	var items []Item
	for _, c := range s.Containers {
		var bad []string
		writable := false
		for _, mp := range c.Mounts {
			if mp.Type != "bind" {
				continue
			}
			src := path.Clean(mp.Source)
			for _, d := range sensitiveDirs {
				exact := src == d
				below := d != "/" && strings.HasPrefix(src, d+"/")
				if exact || (below && mp.RW) {
					mode := "ro"
					if mp.RW {
						mode = "rw"
						writable = true
					}
					bad = append(bad, fmt.Sprintf("%s:%s:%s", src, mp.Destination, mode))
					break
				}
			}
		}
		if len(bad) == 0 {
			continue
		}
		it := Item{Target: c.DisplayName(), Detail: "mounts sensitive host paths " + strings.Join(bad, ", ") + state(c)}
		if !writable {
			// Read-only still exposes the host (keys, configuration), but
			// cannot change it.
			it.Severity = sevPtr(report.Medium)
		}
		items = append(items, it)
	}
	return failIf(items, "containers mounting sensitive host paths", fmt.Sprintf("no sensitive host path is mounted (%d containers)", len(s.Containers)))
}

func checkSocketMounts(s *Snapshot) Outcome {
	sockets := append([]string{"/var/run/docker.sock"}, s.Daemon.ContainerdSockets()...)
	if s.Daemon != nil {
		sockets = append(sockets, s.Daemon.Sockets()...)
	}
	return perContainer(func(c Container) string {
		for _, mp := range c.Mounts {
			base := path.Base(mp.Source)
			hit := base == "docker.sock" || base == "containerd.sock"
			for _, sk := range sockets {
				hit = hit || samePath(mp.Source, sk)
			}
			if hit {
				return fmt.Sprintf("mounts the engine socket %s at %s (root on the host)", mp.Source, mp.Destination)
			}
		}
		return ""
	}, "containers with the Docker socket", "no container mounts the Docker socket")(s)
}

// procName is the program name of a ps CMD column: "sshd: /usr/sbin/sshd -D
// [listener]" and "/usr/sbin/sshd -D" are both sshd.
func procName(cmd string) string {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return ""
	}
	return strings.TrimSuffix(path.Base(f[0]), ":")
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
