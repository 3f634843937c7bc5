package compose

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/profiles/capabilities"
)

// Rule ids. Harden's --only takes the same ids (with or without "compose/").
const (
	RulePrivileged     = "compose/privileged"
	RuleDockerSocket   = "compose/docker-socket"
	RuleSensitiveMount = "compose/sensitive-mount"
	RulePropagation    = "compose/shared-propagation"
	RuleHostNamespace  = "compose/host-namespace"
	RuleDangerousCap   = "compose/dangerous-cap"
	RuleCapDropAll     = "compose/cap-drop-all"
	RuleNoNewPrivs     = "compose/no-new-privileges"
	RuleUnconfined     = "compose/unconfined"
	RuleSeccomp        = "compose/seccomp-profile"
	RuleAppArmor       = "compose/apparmor-profile"
	RuleMemoryLimit    = "compose/memory-limit"
	RulePidsLimit      = "compose/pids-limit"
	RuleCPULimit       = "compose/cpu-limit"
	RuleRootUser       = "compose/root-user"
	RuleWritableRootfs = "compose/read-only"
	RuleDBPort         = "compose/db-port-exposed"
	RulePortAll        = "compose/port-all-interfaces"
	RuleImageTag       = "compose/image-tag"
	RuleHealthcheck    = "compose/healthcheck"
	RuleDevices        = "compose/devices"
	RuleSecretEnv      = "compose/secret-env"
	RuleSwarm          = "compose/swarm-ignored"
	RuleNotHardened    = "compose/not-hardened"
)

// Rules is every compose rule with its default severity, for SARIF,
// --help and docs/rules.md: what audit reports, and what harden warns about.
var Rules = report.Rules{
	{ID: RulePrivileged, Severity: report.Critical, Title: "privileged: true",
		Description: "A privileged container has every capability and device and no seccomp or AppArmor: root in it is root on the host.",
		Help:        "remove privileged; add the one capability or device the service needs"},
	{ID: RuleDockerSocket, Severity: report.Critical, Title: "Docker/containerd socket mounted or use_api_socket",
		Description: "Whoever controls the engine's socket can start a privileged container: it is root on the host.",
		Help:        "do not mount the socket; put a socket proxy that allows only the calls needed in front of it"},
	{ID: RuleSensitiveMount, Severity: report.High, Title: "sensitive host directory mounted (medium when read-only)",
		Help: "bind only the application's own directories"},
	{ID: RulePropagation, Severity: report.Medium, Title: "bind mount with shared propagation",
		Description: "Mounts made inside the container appear on the host and the other way round.",
		Help:        "use the default rprivate propagation"},
	{ID: RuleHostNamespace, Severity: report.High, Title: "host network/pid/ipc/uts/userns/cgroup namespace",
		Help: "use the container's own namespace (drop network_mode: host, pid: host, …)"},
	{ID: RuleDangerousCap, Severity: report.High, Title: "dangerous capability added (critical for ALL)",
		Help: "add only the capability the service needs; SYS_ADMIN, SYS_PTRACE, SYS_MODULE, NET_ADMIN and ALL break the container's boundary"},
	{ID: RuleCapDropAll, Severity: report.Medium, Title: "cap_drop does not include ALL",
		Help: "ctsec compose harden adds cap_drop: [ALL] and the capabilities the image needs"},
	{ID: RuleNoNewPrivs, Severity: report.Medium, Title: "no-new-privileges not set",
		Description: "Without it a setuid binary in the image can gain privileges the container was not given.",
		Help:        "security_opt: [no-new-privileges:true] (ctsec compose harden adds it)"},
	{ID: RuleUnconfined, Severity: report.High, Title: "seccomp/apparmor/label/systempaths unconfined",
		Help: "remove the unconfined option; give the service its own profile (ctsec profile gen)"},
	{ID: RuleSeccomp, Severity: report.Low, Title: "no per-service seccomp profile",
		Help: "ctsec profile gen SERVICE, then ctsec compose harden --profiles-dir DIR"},
	{ID: RuleAppArmor, Severity: report.Low, Title: "no per-service AppArmor profile",
		Help: "ctsec profile gen SERVICE, load it, then ctsec compose harden --profiles-dir DIR"},
	{ID: RuleMemoryLimit, Severity: report.Medium, Title: "no memory limit",
		Help: "set mem_limit (ctsec compose harden adds one from the image's knowledge base)"},
	{ID: RulePidsLimit, Severity: report.Medium, Title: "no pids limit",
		Description: "A fork bomb in one container exhausts the host's process table.",
		Help:        "set pids_limit (ctsec compose harden adds one)"},
	{ID: RuleCPULimit, Severity: report.Low, Title: "no CPU limit", Help: "set cpus"},
	{ID: RuleRootUser, Severity: report.Medium, Title: "runs as root (low when no user is set: the image decides)",
		Help: "set user: to an unprivileged uid the image supports"},
	{ID: RuleWritableRootfs, Severity: report.Low, Title: "root filesystem writable",
		Help: "read_only: true with tmpfs for the paths the service writes (ctsec compose harden --level strict)"},
	{ID: RuleDBPort, Severity: report.High, Title: "database port published on all interfaces (Docker bypasses UFW)",
		Description: "Docker's published ports skip the host firewall's INPUT rules: a database published on 0.0.0.0 faces the internet.",
		Help:        "do not publish it, or bind it to 127.0.0.1"},
	{ID: RulePortAll, Severity: report.Low, Title: "port published on all interfaces",
		Help: "bind it to the address it should answer on"},
	{ID: RuleImageTag, Severity: report.Medium, Title: "image untagged or :latest", Help: "pin a version tag or a digest"},
	{ID: RuleHealthcheck, Severity: report.Low, Title: "no healthcheck", Help: "add a healthcheck"},
	{ID: RuleDevices, Severity: report.Medium, Title: "host devices or device cgroup rules",
		Help: "pass only the device the service needs, read-only where it can be"},
	{ID: RuleSecretEnv, Severity: report.Medium, Title: "secret-looking environment value written in the file",
		Help: "use secrets: or an env_file kept out of version control"},
	{ID: RuleSwarm, Severity: report.Medium, Title: "swarm stack: security_opt is ignored",
		Description: "docker stack deploy ignores security_opt and privileged, so no-new-privileges, seccomp and AppArmor profiles cannot be applied per service.",
		Help:        "set no-new-privileges in the daemon; use --swarm=false if the file is deployed with docker compose"},
	{ID: RuleNotHardened, Severity: report.Medium, Title: "service left as it is",
		Description: "harden could not edit the service safely (an alias, an anchor other services merge, a file split across documents) or its edit would not load back as planned.",
		Help:        "edit the service by hand as the message says"},
}

// AuditRules are the rules audit evaluates.
func AuditRules() report.Rules {
	var out report.Rules
	for _, r := range Rules {
		switch r.ID {
		case RuleSeccomp, RuleAppArmor, RuleSwarm, RuleNotHardened:
			continue
		}
		out = append(out, r)
	}
	return out
}

// dbPorts are container ports of data stores that should never face the
// internet (KICS tcpPortsMap and the usual suspects).
var dbPorts = map[int]string{
	3306: "MySQL/MariaDB", 5432: "PostgreSQL", 6379: "Redis", 27017: "MongoDB", 27018: "MongoDB",
	9200: "Elasticsearch", 9300: "Elasticsearch", 11211: "Memcached", 2375: "Docker API (plain)",
	2376: "Docker API", 5984: "CouchDB", 8086: "InfluxDB", 9042: "Cassandra", 7000: "Cassandra",
	1433: "SQL Server", 1521: "Oracle", 26257: "CockroachDB", 8529: "ArangoDB", 7474: "Neo4j",
	5672: "RabbitMQ", 2181: "ZooKeeper", 9092: "Kafka", 4369: "Erlang epmd", 6443: "Kubernetes API", 2379: "etcd",
}

// sensitiveDirs are host directories whose mount gives a container power over
// the host (KICS isOSDir, extended). Matched as the path or a prefix of it.
var sensitiveDirs = []string{"/bin", "/sbin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/lib32",
	"/media", "/mnt", "/opt", "/proc", "/root", "/run", "/srv", "/sys", "/usr", "/var", "/cdrom", "/selinux"}

// harmlessRO are read-only host files mounted so often for good reason that
// flagging them would bury real findings.
var harmlessRO = map[string]bool{"/etc/localtime": true, "/etc/timezone": true, "/usr/share/zoneinfo": true}

var socketName = regexp.MustCompile(`(^|/)(docker|containerd|podman|crio|cri-dockerd|buildkitd)\.sock$`)

var secretKey = regexp.MustCompile(`(?i)(password|passwd|secret|token|api_?key|private_?key|access_?key)`)

// Audit checks every service and returns its findings.
func Audit(d *Document) []report.Finding {
	var out []report.Finding
	for _, s := range d.Services() {
		out = append(out, auditService(d, s)...)
	}
	return out
}

type finder struct {
	d   *Document
	s   Service
	out []report.Finding
}

func (f *finder) add(rule string, sev report.Severity, fix string, pathElems []string, format string, args ...any) {
	full := append([]string{"services", f.s.Name}, pathElems...)
	line, col := f.d.Locate(full...)
	f.out = append(f.out, report.Finding{
		Rule: rule, Severity: sev, Message: fmt.Sprintf("service %s: ", f.s.Name) + fmt.Sprintf(format, args...),
		Target: "service " + f.s.Name, File: f.d.Name, Line: line, Column: col,
		Path: strings.Join(full, "."), Fix: fix,
	})
}

func auditService(d *Document, s Service) []report.Finding {
	f := &finder{d: d, s: s}
	m := s.M
	privileged := boolOf(m["privileged"])
	switch privileged {
	case isTrue:
		f.add(RulePrivileged, report.Critical, "remove privileged; add only the capabilities and devices the service needs",
			[]string{"privileged"}, "privileged: every capability, every device, no seccomp/AppArmor confinement")
	case isVariable:
		f.add(RulePrivileged, report.High, "set privileged: false or remove it",
			[]string{"privileged"}, "privileged comes from %s and may be true at deploy time", str(m["privileged"]))
	}
	if boolOf(m["use_api_socket"]) != isFalse {
		f.add(RuleDockerSocket, report.Critical, "remove use_api_socket; give the service a narrowly scoped API proxy if it must talk to Docker",
			[]string{"use_api_socket"}, "use_api_socket gives the container the Docker API: root on the host")
	}
	auditVolumes(f)
	for _, ns := range []struct{ key, what string }{
		{"network_mode", "network"}, {"pid", "PID"}, {"ipc", "IPC"}, {"uts", "UTS"}, {"userns_mode", "user"}, {"cgroup", "cgroup"},
	} {
		if v := str(m[ns.key]); v == "host" {
			sev := report.High
			if ns.key == "cgroup" || ns.key == "uts" {
				sev = report.Medium
			}
			f.add(RuleHostNamespace, sev, "remove "+ns.key+": host unless the service truly needs the host's "+ns.what+" namespace",
				[]string{ns.key}, "%s: host shares the host's %s namespace", ns.key, ns.what)
		}
	}
	capAdd := upperCaps(strs(m["cap_add"]))
	for i, c := range capAdd {
		if why := capabilities.Dangerous(c); why != "" {
			sev := report.High
			if c == "ALL" {
				sev = report.Critical
			}
			f.add(RuleDangerousCap, sev, "remove "+c+" from cap_add unless the service cannot work without it",
				[]string{"cap_add", fmt.Sprint(i)}, "cap_add %s: %s", c, why)
		}
	}
	if privileged != isTrue && !containsFold(strs(m["cap_drop"]), "ALL") {
		f.add(RuleCapDropAll, report.Medium, "cap_drop: [ALL] and cap_add only what the service needs (ctsec compose harden)",
			[]string{"cap_drop"}, "keeps Docker's 14 default capabilities (cap_drop lacks ALL)")
	}
	auditSecurityOpt(f)
	if !hasMemoryLimit(m) {
		f.add(RuleMemoryLimit, report.Medium, "set mem_limit (or deploy.resources.limits.memory)", nil, "no memory limit: one service can exhaust the host's memory")
	}
	if !hasPidsLimit(m) {
		f.add(RulePidsLimit, report.Medium, "set pids_limit (or deploy.resources.limits.pids)", nil, "no pids limit: a fork bomb takes the host down")
	}
	if !has(m, "cpus") && !has(m, "cpu_quota") && !has(m, "deploy", "resources", "limits", "cpus") {
		f.add(RuleCPULimit, report.Low, "set cpus (or deploy.resources.limits.cpus)", nil, "no CPU limit")
	}
	switch u := str(m["user"]); {
	case u == "":
		f.add(RuleRootUser, report.Low, "set user: to a non-root uid:gid the image supports", nil, "no user set: runs as the image's default user, root for most images")
	case u == "root" || u == "0" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root:"):
		f.add(RuleRootUser, report.Medium, "set user: to a non-root uid:gid", []string{"user"}, "runs as root (user: %s)", u)
	}
	if boolOf(m["read_only"]) != isTrue {
		f.add(RuleWritableRootfs, report.Low, "read_only: true with tmpfs for the paths it writes (ctsec compose harden --policy strict)",
			[]string{"read_only"}, "root filesystem is writable")
	}
	auditPorts(f)
	auditImage(f)
	if hc, ok := m["healthcheck"].(map[string]any); !ok || boolOf(hc["disable"]) == isTrue || (len(strs(hc["test"])) > 0 && strs(hc["test"])[0] == "NONE") {
		if _, built := m["build"]; !built || has(m, "image") {
			f.add(RuleHealthcheck, report.Low, "add a healthcheck so failures are seen and dependants wait", nil, "no healthcheck")
		}
	}
	if devs, _ := m["devices"].([]any); len(devs) > 0 {
		f.add(RuleDevices, report.Medium, "map only the devices the service needs", []string{"devices"}, "maps %d host device(s) into the container", len(devs))
	}
	if rules := strs(m["device_cgroup_rules"]); len(rules) > 0 {
		f.add(RuleDevices, report.Medium, "remove device_cgroup_rules unless required", []string{"device_cgroup_rules"}, "device_cgroup_rules allow access to host devices: %s", strings.Join(rules, ", "))
	}
	auditEnv(f)
	return f.out
}

func auditVolumes(f *finder) {
	vols, _ := f.s.M["volumes"].([]any)
	for i, v := range vols {
		vm, _ := v.(map[string]any)
		if vm == nil {
			continue
		}
		where := []string{"volumes", fmt.Sprint(i)}
		raw := str(vm["source"])
		src := raw
		typ := str(vm["type"])
		if strings.Contains(raw, "$") {
			// compose-go cannot tell a bind from a volume before
			// interpolation: what ${VAR} holds decides, as it will at
			// deploy time.
			r, ok := f.d.resolve(raw)
			if !ok {
				f.cannotTell(vm, where, raw)
				continue
			}
			src = r
			if strings.HasPrefix(r, "/") || strings.HasPrefix(r, ".") || strings.HasPrefix(r, "~") {
				typ = "bind"
			}
		}
		if typ != "bind" {
			continue
		}
		src = path.Clean(src)
		if !strings.HasPrefix(src, "/") {
			continue
		}
		via := ""
		if src != path.Clean(raw) {
			via = " (" + raw + ")"
		}
		ro := boolOf(vm["read_only"]) == isTrue
		if socketName.MatchString(src) {
			f.add(RuleDockerSocket, report.Critical, "do not mount the Docker socket; use a socket proxy that allows only the calls needed",
				where, "mounts %s%s: control of the engine is root on the host (read-only does not make the API read-only)", src, via)
			continue
		}
		if p := str(get1(vm, "bind", "propagation")); p == "shared" || p == "rshared" {
			f.add(RulePropagation, report.Medium, "use the default rprivate propagation", where, "bind mount %s%s with %s propagation: mounts leak to the host", src, via, p)
		}
		if ro && harmlessRO[src] {
			continue
		}
		if src == "/" || sensitive(src) {
			sev, mode := report.High, "read-write"
			if ro {
				sev, mode = report.Medium, "read-only"
			}
			f.add(RuleSensitiveMount, sev, "mount only the application's own directories", where, "mounts host %s%s %s", src, via, mode)
		}
	}
}

// cannotTell reports a mount whose host side is a variable without a value
// here: what it mounts is decided at deploy time, so it is said, never
// passed over in silence.
func (f *finder) cannotTell(vm map[string]any, where []string, raw string) {
	target := str(vm["target"])
	if socketName.MatchString(path.Clean(target)) {
		f.add(RuleDockerSocket, report.High, "give "+raw+" a value in .env (or --env-file) so the audit can tell; do not mount the Docker socket",
			where, "cannot tell what %s mounts at %s (no value for it here): the container path is an engine socket", raw, target)
		return
	}
	f.add(RuleSensitiveMount, report.Low, "give "+raw+" a value in .env (or --env-file) so the audit can tell",
		where, "cannot tell what host path %s mounts at %s (no value for it here)", raw, target)
}

func get1(m map[string]any, p ...string) any {
	v, _ := get(m, p...)
	return v
}

func sensitive(p string) bool {
	if p == "/var/lib/docker" || strings.HasPrefix(p, "/var/lib/docker/") {
		return true
	}
	for _, d := range sensitiveDirs {
		if p == d {
			return true
		}
	}
	// /etc/…, /proc/…, /sys/…, /root/…, /boot/…, /dev/… are sensitive at any depth;
	// /var/… /home/… /srv/… /opt/… subdirectories are where applications keep data.
	for _, d := range []string{"/etc", "/proc", "/sys", "/root", "/boot", "/dev", "/bin", "/sbin", "/usr", "/lib", "/run"} {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// securityOpts splits security_opt entries into key and value; both
// "key:value" and "key=value" are Docker syntax.
func securityOpts(m map[string]any) map[string]string {
	out := map[string]string{}
	for _, o := range strs(m["security_opt"]) {
		k, v, found := strings.Cut(o, ":")
		if i := strings.IndexByte(o, '='); i >= 0 && (!found || i < len(k)) {
			k, v = o[:i], o[i+1:]
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, dup := out[k]; dup && k == "label" {
			v = out[k] + "," + v
		}
		out[k] = strings.TrimSpace(v)
	}
	return out
}

// noNewPrivs reads no-new-privileges: isTrue for "no-new-privileges",
// ":true" or "=true"; isVariable when explicitly false (user's choice).
func noNewPrivs(m map[string]any) (set bool, explicitFalse bool) {
	opts := securityOpts(m)
	v, ok := opts["no-new-privileges"]
	if !ok {
		return false, false
	}
	if v == "" || strings.EqualFold(v, "true") {
		return true, false
	}
	return false, true
}

// optIndex is where in security_opt the entry for key is, for its line.
func optIndex(m map[string]any, key string) []string {
	for i, o := range strs(m["security_opt"]) {
		k := strings.ToLower(strings.TrimSpace(strings.FieldsFunc(o, func(r rune) bool { return r == ':' || r == '=' })[0]))
		if k == key {
			return []string{"security_opt", fmt.Sprint(i)}
		}
	}
	return []string{"security_opt"}
}

func auditSecurityOpt(f *finder) {
	m := f.s.M
	opts := securityOpts(m)
	set, explicitFalse := noNewPrivs(m)
	switch {
	case explicitFalse:
		f.add(RuleNoNewPrivs, report.Medium, "set security_opt no-new-privileges:true", optIndex(m, "no-new-privileges"), "no-new-privileges is explicitly turned off")
	case !set && boolOf(m["privileged"]) != isTrue:
		f.add(RuleNoNewPrivs, report.Medium, "add security_opt: [no-new-privileges:true] (ctsec compose harden)", []string{"security_opt"}, "no-new-privileges not set: setuid binaries can gain privileges")
	}
	for _, k := range []string{"seccomp", "apparmor", "systempaths"} {
		if strings.EqualFold(opts[k], "unconfined") {
			f.add(RuleUnconfined, report.High, "remove "+k+"=unconfined; use a custom profile (ctsec profile gen) if the default is too strict",
				optIndex(m, k), "%s=unconfined turns off %s confinement", k, k)
		}
	}
	if l, ok := opts["label"]; ok && strings.Contains(strings.ToLower(l), "disable") {
		f.add(RuleUnconfined, report.High, "remove label:disable", optIndex(m, "label"), "label:disable turns off SELinux confinement")
	}
}

func hasMemoryLimit(m map[string]any) bool {
	return has(m, "mem_limit") || has(m, "deploy", "resources", "limits", "memory")
}

func hasPidsLimit(m map[string]any) bool {
	if v, ok := get(m, "pids_limit"); ok && v != nil {
		s := str(v)
		return s != "-1" && s != "0"
	}
	return has(m, "deploy", "resources", "limits", "pids")
}

func auditPorts(f *finder) {
	ports, _ := f.s.M["ports"].([]any)
	for i, p := range ports {
		where := []string{"ports", fmt.Sprint(i)}
		switch pm := p.(type) {
		case map[string]any:
			ip := str(pm["host_ip"])
			if r, ok := f.d.resolve(ip); ok {
				ip = r
			} else {
				f.portUnknown(where, ip, str(pm["target"]))
				continue
			}
			f.port(where, ip, str(pm["published"]), str(pm["target"]), "")
		case string:
			// compose-go leaves a port with ${VAR} as text.
			r, ok := f.d.resolve(pm)
			if !ok {
				// Unset, docker compose makes the variable empty (with a
				// warning): the container port is what is known.
				target := pm
				if i := strings.LastIndexByte(target, ':'); i >= 0 {
					target = target[i+1:]
				}
				target, _, _ = strings.Cut(target, "/")
				f.portUnknown(where, pm, target)
				continue
			}
			parsed, err := types.ParsePortConfig(r)
			if err != nil {
				f.add(RulePortAll, report.Low, "write the port so compose can read it", where, "port %s (%s) does not parse: %v", pm, r, err)
				continue
			}
			for _, pc := range parsed {
				f.port(where, pc.HostIP, pc.Published, fmt.Sprint(pc.Target), " ("+pm+")")
			}
		}
	}
}

func (f *finder) port(where []string, ip, published, targetText, via string) {
	if published == "" {
		return
	}
	if ip != "" && ip != "0.0.0.0" && ip != "::" && ip != "[::]" {
		return
	}
	target := 0
	fmt.Sscan(targetText, &target)
	if db, ok := dbPorts[target]; ok {
		f.add(RuleDBPort, report.High, "publish on 127.0.0.1 (\"127.0.0.1:"+published+":"+targetText+"\") or not at all; Docker's iptables rules bypass UFW",
			where, "%s port %d published on all interfaces%s", db, target, via)
		return
	}
	f.add(RulePortAll, report.Low, "bind to a specific address (e.g. 127.0.0.1 behind a reverse proxy); Docker bypasses UFW",
		where, "port %s→%d published on all interfaces%s", published, target, via)
}

// portUnknown reports a published port whose host side is a variable
// without a value here.
func (f *finder) portUnknown(where []string, raw, targetText string) {
	target := 0
	fmt.Sscan(targetText, &target)
	if db, ok := dbPorts[target]; ok {
		f.add(RuleDBPort, report.Medium, "give the variables in "+raw+" values in .env (or --env-file), and publish on 127.0.0.1",
			where, "cannot tell where %s port %d is published: a variable of %s has no value here, and unset it publishes on all interfaces", db, target, raw)
		return
	}
	f.add(RulePortAll, report.Low, "give the variables in "+raw+" values in .env (or --env-file)",
		where, "cannot tell what %s publishes (no value for it here)", raw)
}

func auditImage(f *finder) {
	img := str(f.s.M["image"])
	if img == "" {
		return
	}
	// A locally built image has no registry tag to pin.
	if _, built := f.s.M["build"]; built {
		return
	}
	if pp := strings.ToLower(str(f.s.M["pull_policy"])); pp == "never" || pp == "build" {
		return
	}
	if r, ok := f.d.resolve(img); ok {
		img = r
	} else {
		f.add(RuleImageTag, report.Low, "give the variables in "+img+" values in .env (or --env-file)", []string{"image"}, "cannot tell the tag of image %s (no value for it here)", img)
		return
	}
	if strings.Contains(img, "@sha256:") {
		return
	}
	name := img
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	_, tag, tagged := strings.Cut(name, ":")
	switch {
	case !tagged:
		f.add(RuleImageTag, report.Medium, "pin a version tag (and ideally a digest)", []string{"image"}, "image %s has no tag (means :latest)", img)
	case tag == "latest":
		f.add(RuleImageTag, report.Medium, "pin a version tag (and ideally a digest)", []string{"image"}, "image %s uses :latest", img)
	}
}

func auditEnv(f *finder) {
	env := f.s.M["environment"]
	check := func(k, v string) {
		if v == "" || strings.HasSuffix(strings.ToUpper(k), "_FILE") || strings.Contains(v, "$") || !secretKey.MatchString(k) {
			return
		}
		f.add(RuleSecretEnv, report.Medium, "use secrets: or an env_file kept out of version control, or ${VAR}",
			[]string{"environment", k}, "environment %s holds a literal secret", k)
	}
	switch e := env.(type) {
	case map[string]any:
		for k, v := range e {
			check(k, str(v))
		}
	case []any:
		for _, x := range e {
			k, v, _ := strings.Cut(str(x), "=")
			check(k, v)
		}
	}
}

// IsDockerSocket reports whether a host path is a container engine's API
// socket (docker, containerd, podman, cri-o, buildkitd).
func IsDockerSocket(p string) bool { return socketName.MatchString(path.Clean(p)) }

// SensitiveHostPath reports whether mounting the host path gives power over
// the host ("/" included).
func SensitiveHostPath(p string) bool {
	p = path.Clean(p)
	return p == "/" || sensitive(p)
}

// DatabasePort names the data store usually listening on a container port.
func DatabasePort(port int) (string, bool) {
	name, ok := dbPorts[port]
	return name, ok
}

// HarmlessReadOnly reports host files whose read-only mount is routine.
func HarmlessReadOnly(p string) bool { return harmlessRO[path.Clean(p)] }
