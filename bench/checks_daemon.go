package bench

import (
	"fmt"
	"strings"

	"github.com/ctsec/ctsec/internal/report"
)

// Section 2: Docker daemon configuration. Values the engine reports about
// itself (docker info) are preferred: they are what is in force. The rest
// comes from the dockerd command line and daemon.json together, since
// dockerd reads both (docker-bench-security reads daemon.json only when the
// command line says --config-file=PATH, and some options only from info,
// where Docker 20.10 does not report them).

func daemonChecks() []Check {
	const differsConfig = "reads the command line (both --opt=value and --opt value) and the daemon.json the daemon really uses (--config-file PATH is honoured)"
	return []Check{
		{ID: "2.1", Section: "2", Level: 1, Severity: report.Info,
			Title:       "Run the Docker daemon as a non-root user, if possible",
			Remediation: "Consider rootless Docker (dockerd-rootless-setuptool.sh install) where its limits are acceptable.",
			eval: func(s *Snapshot) Outcome {
				if hasSecOpt(s, "rootless") {
					return manual("the daemon runs rootless")
				}
				if s.Daemon != nil {
					return manual(fmt.Sprintf("dockerd (pid %d) runs as uid %d", s.Daemon.PID, s.Daemon.UID))
				}
				return manual("the daemon is not rootless")
			}},
		{ID: "2.2", Section: "2", Level: 1, Automated: true, Severity: report.Medium,
			Title:       "Ensure network traffic is restricted between containers on the default bridge",
			Remediation: `Set "icc": false in daemon.json (or dockerd --icc=false) and put containers that must talk on user-defined networks.`,
			eval:        checkICC},
		{ID: "2.3", Section: "2", Level: 1, Automated: true, Severity: report.Low,
			Title:       "Ensure the logging level is set to 'info'",
			Remediation: `Set "log-level": "info" in daemon.json, or remove the debug setting.`,
			Differs:     differsConfig,
			eval: func(s *Snapshot) Outcome {
				if s.Engine.Info.Debug {
					return fail("the daemon runs in debug mode", Item{Target: "daemon", Detail: "debug mode is on (log level debug)"})
				}
				if o, ok := needDaemon(s); !ok {
					return o
				}
				st, ok := s.Daemon.Setting("log-level")
				if !ok || st.Value() == "info" {
					return pass("log level info")
				}
				return fail("", Item{Target: "daemon", Detail: fmt.Sprintf("log-level %q (%s)", st.Value(), st.Source)})
			}},
		{ID: "2.4", Section: "2", Level: 1, Automated: true, Severity: report.Medium,
			Title:       "Ensure Docker is allowed to make changes to iptables",
			Remediation: `Remove "iptables": false / --iptables=false so Docker manages its firewall rules.`,
			Differs:     differsConfig,
			eval: func(s *Snapshot) Outcome {
				if o, ok := needDaemon(s); !ok {
					return o
				}
				on, src := s.Daemon.Bool("iptables", true)
				if on {
					return pass("iptables management on (%s)", src)
				}
				return fail("", Item{Target: "daemon", Detail: "iptables=false (" + src + ")"})
			}},
		{ID: "2.5", Section: "2", Level: 1, Automated: true, Severity: report.High,
			Title:       "Ensure insecure registries are not used",
			Remediation: `Remove "insecure-registries" entries; give registries TLS certificates instead.`,
			Differs:     "docker-bench flags the built-in 127.0.0.0/8 entry every engine reports (#529); ctsec ignores loopback and lists the configured registries.",
			eval:        checkInsecureRegistries},
		{ID: "2.6", Section: "2", Level: 1, Automated: true, Severity: report.Medium,
			Title:       "Ensure aufs storage driver is not used",
			Remediation: "Use overlay2.",
			eval: func(s *Snapshot) Outcome {
				if s.Engine.Info.Driver == "aufs" {
					return fail("", Item{Target: "daemon", Detail: "storage driver aufs"})
				}
				return pass("storage driver %s", s.Engine.Info.Driver)
			}},
		{ID: "2.7", Section: "2", Level: 1, Automated: true, Severity: report.Critical,
			Title:       "Ensure TLS authentication for Docker daemon is configured",
			Remediation: "Listen on TCP only with tlsverify, tlscacert, tlscert and tlskey set, or only on the unix socket.",
			Differs:     differsConfig,
			eval:        checkTLS},
		{ID: "2.8", Section: "2", Level: 1, Severity: report.Info,
			Title:       "Ensure the default ulimit is configured appropriately",
			Remediation: `Set "default-ulimits" in daemon.json when the defaults do not suit.`,
			eval: func(s *Snapshot) Outcome {
				return manualSetting(s, "default-ulimits", "no default ulimits set (the daemon's own limits are inherited)")
			}},
		{ID: "2.9", Section: "2", Level: 2, Automated: true, Severity: report.Medium,
			Title:       "Enable user namespace support",
			Remediation: `Set "userns-remap": "default" in daemon.json (needs /etc/subuid and /etc/subgid).`,
			eval: func(s *Snapshot) Outcome {
				if hasSecOpt(s, "userns") || hasSecOpt(s, "rootless") {
					return pass("user namespace remapping is on")
				}
				return fail("", Item{Target: "daemon", Detail: "containers' root is the host's root (no userns-remap)"})
			}},
		{ID: "2.10", Section: "2", Level: 2, Severity: report.Info,
			Title:       "Ensure the default cgroup usage has been confirmed",
			Remediation: "Leave cgroup-parent at its default unless you mean to change it.",
			eval: func(s *Snapshot) Outcome {
				return manualSetting(s, "cgroup-parent", "default cgroup parent")
			}},
		{ID: "2.11", Section: "2", Level: 2, Severity: report.Info,
			Title:       "Ensure base device size is not changed until needed",
			Remediation: "Do not set dm.basesize until needed.",
			eval: func(s *Snapshot) Outcome {
				return manualSetting(s, "storage-opts", "no storage options")
			}},
		{ID: "2.12", Section: "2", Level: 2, Automated: true, Severity: report.Medium,
			Title:       "Ensure that authorization for Docker client commands is enabled",
			Remediation: "Install an authorization plugin and set \"authorization-plugins\".",
			eval: func(s *Snapshot) Outcome {
				if p := s.Engine.Info.Plugins.Authorization; len(p) > 0 {
					return pass("authorization plugins: %s", strings.Join(p, ", "))
				}
				if st, ok := s.Daemon.Setting("authorization-plugins"); ok && len(st.Values) > 0 {
					return pass("authorization plugins: %s (%s)", strings.Join(st.Values, ", "), st.Source)
				}
				return fail("", Item{Target: "daemon", Detail: "no authorization plugin: anyone on the socket can do everything"})
			}},
		{ID: "2.13", Section: "2", Level: 2, Automated: true, Severity: report.Low,
			Title:       "Ensure centralized and remote logging is configured",
			Remediation: `Set "log-driver" to syslog, journald, gelf, fluentd or another shipping driver.`,
			eval: func(s *Snapshot) Outcome {
				switch d := s.Engine.Info.LoggingDriver; d {
				case "json-file", "local", "none", "":
					return fail("", Item{Target: "daemon", Detail: fmt.Sprintf("log driver %q keeps logs on this host only", d)})
				default:
					return pass("log driver %s", d)
				}
			}},
		{ID: "2.14", Section: "2", Level: 1, Automated: true, Severity: report.Medium,
			Title:       "Ensure containers are restricted from acquiring new privileges",
			Remediation: `Set "no-new-privileges": true in daemon.json.`,
			Differs:     "docker info on 20.10 does not show no-new-privileges; ctsec reads the command line and daemon.json (docker-bench missed it when --config-file was given with a space).",
			eval: func(s *Snapshot) Outcome {
				if o, ok := needDaemon(s); !ok {
					return o
				}
				on, src := s.Daemon.Bool("no-new-privileges", false)
				if on {
					return pass("no-new-privileges on (%s)", src)
				}
				return fail("", Item{Target: "daemon", Detail: "no-new-privileges is not the default for containers"})
			}},
		{ID: "2.15", Section: "2", Level: 1, Automated: true, Severity: report.Low,
			Title:       "Ensure live restore is enabled",
			Remediation: `Set "live-restore": true in daemon.json.`,
			eval: func(s *Snapshot) Outcome {
				if s.Engine.Info.LiveRestoreEnabled {
					return pass("live restore on")
				}
				if swarmActive(s) {
					return skip("live restore does not apply to swarm managers")
				}
				return fail("", Item{Target: "daemon", Detail: "live restore off: restarting dockerd stops every container"})
			}},
		{ID: "2.16", Section: "2", Level: 1, Automated: true, Severity: report.Low,
			Title:       "Ensure Userland Proxy is Disabled",
			Remediation: `Set "userland-proxy": false in daemon.json.`,
			Differs:     differsConfig,
			eval: func(s *Snapshot) Outcome {
				if o, ok := needDaemon(s); !ok {
					return o
				}
				on, src := s.Daemon.Bool("userland-proxy", true)
				if !on {
					return pass("userland proxy off (%s)", src)
				}
				return fail("", Item{Target: "daemon", Detail: "userland proxy on (" + src + ")"})
			}},
		{ID: "2.17", Section: "2", Level: 1, Severity: report.Info,
			Title:       "Ensure that a daemon-wide custom seccomp profile is applied if appropriate",
			Remediation: "Keep Docker's default profile or set \"seccomp-profile\" to a reviewed one (ctsec seccomp lint).",
			eval: func(s *Snapshot) Outcome {
				for _, o := range s.Engine.Info.SecurityOptions {
					if strings.HasPrefix(o, "name=seccomp") {
						return manual("engine seccomp: " + o)
					}
				}
				return manual("the engine reports no seccomp support")
			}},
		{ID: "2.18", Section: "2", Level: 2, Automated: true, Severity: report.Low,
			Title:       "Ensure that experimental features are not implemented in production",
			Remediation: "Remove \"experimental\": true.",
			Differs:     "docker-bench turns the version into a number and calls every version after 19.03 'deprecated'; ctsec reads the engine's experimental flag.",
			eval: func(s *Snapshot) Outcome {
				if s.Engine.Info.ExperimentalBuild {
					return fail("", Item{Target: "daemon", Detail: "experimental features on"})
				}
				return pass("experimental features off")
			}},
	}
}

func needDaemon(s *Snapshot) (Outcome, bool) {
	if s.Daemon == nil {
		if s.Host == nil {
			return skip("daemon configuration not read: the engine is remote"), false
		}
		return skip("daemon configuration not read: no dockerd process serving %s found", s.Engine.Host), false
	}
	return Outcome{}, true
}

func manualSetting(s *Snapshot, key, unset string) Outcome {
	if o, ok := needDaemon(s); !ok {
		return manual(o.Detail)
	}
	st, ok := s.Daemon.Setting(key)
	if !ok {
		return manual(unset)
	}
	return manual(fmt.Sprintf("%s: %s (%s)", key, strings.Join(st.Values, ", "), st.Source))
}

func hasSecOpt(s *Snapshot, name string) bool {
	for _, o := range s.Engine.Info.SecurityOptions {
		for _, kv := range strings.Split(o, ",") {
			if kv == "name="+name {
				return true
			}
		}
	}
	return false
}

func checkICC(s *Snapshot) Outcome {
	for _, n := range s.Networks {
		if n.Options["com.docker.network.bridge.default_bridge"] != "true" && n.Name != "bridge" {
			continue
		}
		if n.Driver != "bridge" {
			continue
		}
		if n.Options["com.docker.network.bridge.enable_icc"] == "false" {
			return pass("inter-container traffic is off on %s", n.Name)
		}
		return fail("", Item{Target: "network " + n.Name, Detail: "containers on the default bridge can reach each other (icc on)"})
	}
	return pass("no default bridge network (dockerd --bridge=none)")
}

func checkInsecureRegistries(s *Snapshot) Outcome {
	seen := map[string]bool{}
	var items []Item
	add := func(r, src string) {
		if seen[r] || isLoopbackRegistry(r) {
			return
		}
		seen[r] = true
		items = append(items, Item{Target: "registry " + r, Detail: r + " is reached without TLS verification (" + src + ")"})
	}
	if rc := s.Engine.Info.RegistryConfig; rc != nil {
		for _, c := range rc.InsecureRegistryCIDRs {
			add(c.String(), "docker info")
		}
		for name, ic := range rc.IndexConfigs {
			if ic != nil && !ic.Secure {
				add(name, "docker info")
			}
		}
	}
	if st, ok := s.Daemon.Setting("insecure-registries"); ok {
		for _, r := range st.Values {
			add(r, st.Source)
		}
	}
	return failIf(items, "insecure registries configured", "no insecure registries")
}

func isLoopbackRegistry(r string) bool {
	return r == "127.0.0.0/8" || r == "::1/128" || strings.HasPrefix(r, "localhost:") || r == "localhost"
}

func checkTLS(s *Snapshot) Outcome {
	if o, ok := needDaemon(s); !ok {
		return o
	}
	tcp := s.Daemon.TCPHosts()
	if len(tcp) == 0 {
		return pass("the daemon listens on no TCP address")
	}
	var missing []string
	if on, _ := s.Daemon.Bool("tlsverify", false); !on {
		missing = append(missing, "tlsverify")
	}
	for _, k := range []string{"tlscacert", "tlscert", "tlskey"} {
		if st, ok := s.Daemon.Setting(k); !ok || st.Value() == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fail("", Item{Target: "daemon " + strings.Join(tcp, ", "),
			Detail: fmt.Sprintf("listens on %s without %s: anyone who reaches it is root", strings.Join(tcp, ", "), strings.Join(missing, ", "))})
	}
	return pass("TCP listener %s requires client certificates", strings.Join(tcp, ", "))
}
