package host

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ctsec/ctsec/internal/rootfs"
	profile "github.com/ctsec/ctsec/profiles/host"
	"go.yaml.in/yaml/v3"
)

// Policy is the desired state of the host. Its YAML form is the baseline in
// profiles/host, which `ctsec host init` copies for editing.
type Policy struct {
	Version  int            `yaml:"version"`
	Operator OperatorPolicy `yaml:"operator"`
	Firewall FirewallPolicy `yaml:"firewall"`
	SSH      SSHPolicy      `yaml:"ssh"`
	Fail2ban Fail2banPolicy `yaml:"fail2ban"`
	Sysctl   SysctlPolicy   `yaml:"sysctl"`
	Updates  UpdatesPolicy  `yaml:"updates"`
	Auditd   AuditdPolicy   `yaml:"auditd"`
	// Integrity is AIDE and rkhunter.
	Integrity IntegrityPolicy `yaml:"integrity"`

	// omitted holds the module sections the policy sets to null: "leave
	// that part of the host alone", not "configure it with empty values"
	// (an empty fail2ban jail, ufw enabled without rules).
	omitted map[string]bool
	// name and lines locate what the user's file sets, for errors.
	name  string
	lines map[string]int
}

// moduleSections are the top-level keys that configure one module each.
var moduleSections = []string{"ssh", "fail2ban", "sysctl", "firewall", "updates", "auditd", "integrity"}

// Manages reports whether the policy configures the named module.
func (p *Policy) Manages(module string) bool { return !p.omitted[module] }

type OperatorPolicy struct {
	TrustedIPs []string `yaml:"trusted_ips"`
}

type FirewallPolicy struct {
	DefaultIncoming string     `yaml:"default_incoming"`
	DefaultOutgoing string     `yaml:"default_outgoing"`
	Allow           []PortRule `yaml:"allow"`
	Docker          bool       `yaml:"docker"`
}

// PortRule opens one port. From limits the sources (empty = anywhere).
type PortRule struct {
	Port    int      `yaml:"port"`
	Proto   string   `yaml:"proto"`
	Comment string   `yaml:"comment"`
	From    []string `yaml:"from"`
}

type SSHPolicy struct {
	Settings map[string]string `yaml:"settings"`
	Kex      []string          `yaml:"kex"`
	Ciphers  []string          `yaml:"ciphers"`
	MACs     []string          `yaml:"macs"`
}

type Fail2banPolicy struct {
	Jail     string   `yaml:"jail"`
	MaxRetry int      `yaml:"maxretry"`
	FindTime string   `yaml:"findtime"`
	BanTime  string   `yaml:"bantime"`
	Backend  string   `yaml:"backend"`
	IgnoreIP []string `yaml:"ignoreip"`
}

type SysctlPolicy struct {
	Settings          map[string]string `yaml:"settings"`
	AllowIrreversible bool              `yaml:"allow_irreversible"`
}

type UpdatesPolicy struct {
	SecurityOnly     bool     `yaml:"security_only"`
	Time             string   `yaml:"time"`
	AutomaticReboot  bool     `yaml:"automatic_reboot"`
	PackageBlacklist []string `yaml:"package_blacklist"`
}

// AuditdPolicy is the audit rules for Docker's files and binaries.
type AuditdPolicy struct {
	// Key tags the rules (auditctl -k, ausearch -k).
	Key string `yaml:"key"`
	// Watch adds paths to the ones ctsec finds (Docker's binaries, its
	// configuration, data root, units and sockets).
	Watch []string `yaml:"watch"`
}

// IntegrityPolicy is AIDE and rkhunter.
type IntegrityPolicy struct {
	AIDE bool `yaml:"aide"`
	// Exclude are the paths AIDE leaves out: they change all day on a
	// Docker host (its data root, containerd's, their run directories,
	// the journal).
	Exclude []string `yaml:"exclude"`
	// MaxAge is how old AIDE's database may be before the audit says it
	// is stale ("7d").
	MaxAge   string `yaml:"max_age"`
	RKHunter bool   `yaml:"rkhunter"`
}

// BaselinePolicy is the shipped policy, parsed.
func BaselinePolicy() (*Policy, error) {
	root, err := parseTree("baseline.yaml", profile.Baseline())
	if err != nil {
		return nil, err
	}
	user := map[*yaml.Node]bool{}
	return decodePolicy(&policyDoc{name: "baseline.yaml", root: root, user: user})
}

// LoadPolicy reads the policy at path laid over the baseline, or the
// baseline when path is empty. A FIFO or device is refused.
func LoadPolicy(path string) (*Policy, error) {
	if path == "" {
		return BaselinePolicy()
	}
	data, err := rootfs.ReadRegular(path, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("loading policy: %w", err)
	}
	return ParsePolicy(path, data)
}

// ParsePolicy decodes policy YAML strictly and lays it over the baseline
// (see mergeOver): an unknown key, a value of the wrong shape or one that
// fails validation is an error naming the file, line and key, with what is
// allowed there.
func ParsePolicy(name string, data []byte) (*Policy, error) {
	root, err := parseTree(name, data)
	if err != nil {
		return nil, err
	}
	hasVersion := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		hasVersion = hasVersion || root.Content[i].Value == "version"
	}
	if !hasVersion {
		return nil, fmt.Errorf("%s:%d: version: missing; a policy starts with \"version: 1\" (ctsec host init writes one)", name, root.Line)
	}
	base, err := parseTree("baseline.yaml", profile.Baseline())
	if err != nil {
		return nil, err
	}
	user := map[*yaml.Node]bool{}
	markAll(root, user)
	keyOf := func(path, key string) string {
		if path == "ssh.settings" {
			return SSHCanonical(key)
		}
		return key
	}
	merged := mergeOver(base, root, user, keyOf, "")
	return decodePolicy(&policyDoc{name: name, root: merged, user: user})
}

// parseTree reads one YAML document whose top is a mapping.
func parseTree(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the policy is empty (want at least \"version: 1\"; ctsec host init writes one)", name)
		}
		return nil, fmt.Errorf("%s", yamlError(name, err))
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s:%d: a second YAML document; a policy is one document", name, more.Line)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		line := doc.Line
		if len(doc.Content) > 0 {
			line = doc.Content[0].Line
		}
		return nil, fmt.Errorf("%s:%d: want a mapping of sections (version, operator, firewall, ssh, fail2ban, sysctl, updates, auditd, integrity)", name, line)
	}
	return doc.Content[0], nil
}

var yamlLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: line (\d+): `) })

// yamlError is a YAML syntax error as FILE:LINE: message.
func yamlError(name string, err error) string {
	msg := err.Error()
	if m := yamlLine().FindStringSubmatch(msg); m != nil {
		return name + ":" + m[1] + ": " + strings.TrimPrefix(msg, m[0])
	}
	return name + ": " + strings.TrimPrefix(msg, "yaml: ")
}

func decodePolicy(doc *policyDoc) (*Policy, error) {
	d := &decoder{doc: doc, lines: map[string]int{}}
	var p Policy
	d.decode(doc.root, "", reflect.ValueOf(&p).Elem())
	if len(d.errs) > 0 {
		return nil, errors.New(strings.Join(sortedErrors(d.errs), "\n"))
	}
	p.name, p.lines = doc.name, d.lines
	present := map[string]bool{}
	for i := 0; i+1 < len(doc.root.Content); i += 2 {
		present[doc.root.Content[i].Value] = true
	}
	for _, s := range moduleSections {
		if !present[s] {
			if p.omitted == nil {
				p.omitted = map[string]bool{}
			}
			p.omitted[s] = true
		}
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Where is "FILE:LINE" of a policy path ("sysctl.settings.kernel.x") when
// the user's file sets it, or sets the section around it; else the file's
// name (the value came from the baseline).
func (p *Policy) Where(path string) string {
	for q := path; q != ""; {
		if l, ok := p.lines[q]; ok {
			return fmt.Sprintf("%s:%d", p.name, l)
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	return p.name
}

var (
	sshKeyword = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`) })
	sshValue   = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[A-Za-z0-9@._,:+/%=*-]+( [A-Za-z0-9@._,:+/%=*-]+)*$`)
	})
	algName      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9@._+-]+$`) })
	sysctlKey    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9_-]+(\.[A-Za-z0-9_-]+)+$`) })
	sysctlValue  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9 ._:,-]+$`) })
	durationText = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+[smhdw]?$`) })
	jailName     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9_-]+$`) })
	pkgName      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]*$`) })
	clockTime    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`) })
	auditKey     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]{1,31}$`) })
	absPath      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/[A-Za-z0-9._+@/-]*$`) })
)

// validate checks every value that ends up in a configuration file, so policy
// text can never inject a second directive (a newline, a "Match", a section).
// Each error names the file and line the value comes from.
func (p *Policy) validate() error {
	var errs []string
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s: %s: %s", p.Where(path), path, fmt.Sprintf(format, args...)))
	}
	if p.Version != 1 {
		bad("version", "want 1, got %d", p.Version)
	}
	// Trusted addresses go into fail2ban's ignoreip: a /0 there would
	// switch off banning for everyone, silently.
	whitelist := func(field, ip string) {
		pfx, err := ParseAddrOrPrefix(ip)
		switch {
		case err != nil:
			bad(field, "%v (want an address such as 203.0.113.10 or a network such as 203.0.113.0/24)", err)
		case pfx.Bits() == 0:
			bad(field, "%q trusts every address, so fail2ban would ban nobody", ip)
		}
	}
	for i, ip := range p.Operator.TrustedIPs {
		whitelist(fmt.Sprintf("operator.trusted_ips[%d]", i), ip)
	}
	for _, d := range []struct{ name, v string }{{"firewall.default_incoming", p.Firewall.DefaultIncoming}, {"firewall.default_outgoing", p.Firewall.DefaultOutgoing}} {
		switch d.v {
		case "allow", "deny", "reject", "":
		default:
			bad(d.name, "want allow, deny or reject, not %q", d.v)
		}
	}
	for i, r := range p.Firewall.Allow {
		at := fmt.Sprintf("firewall.allow[%d]", i)
		if r.Port < 1 || r.Port > 65535 {
			bad(at+".port", "%d is not a port (want 1 to 65535)", r.Port)
		}
		switch r.Proto {
		case "tcp", "udp":
		default:
			bad(at+".proto", "want tcp or udp, not %q", r.Proto)
		}
		if strings.ContainsAny(r.Comment, "\n\r'\"\\") || len(r.Comment) > 64 {
			bad(at+".comment", "at most 64 characters without quotes or newlines")
		}
		for j, f := range r.From {
			if _, err := ParseAddrOrPrefix(f); err != nil {
				bad(fmt.Sprintf("%s.from[%d]", at, j), "%v", err)
			}
		}
	}
	canon := map[string]string{}
	for _, k := range sortedKeys(p.SSH.Settings) {
		v := p.SSH.Settings[k]
		at := "ssh.settings." + k
		if !sshKeyword().MatchString(k) || strings.EqualFold(k, "Match") || strings.EqualFold(k, "Include") {
			bad(at, "%q is not a plain sshd keyword", k)
		} else if prev, dup := canon[SSHCanonical(k)]; dup {
			bad(at, "%s and %s are the same sshd keyword; keep one", prev, k)
		} else {
			canon[SSHCanonical(k)] = k
		}
		if !sshValue().MatchString(v) {
			bad(at, "value %q has characters sshd_config cannot take safely", v)
		}
	}
	for _, l := range []struct {
		name string
		v    []string
	}{{"ssh.kex", p.SSH.Kex}, {"ssh.ciphers", p.SSH.Ciphers}, {"ssh.macs", p.SSH.MACs}} {
		for i, a := range l.v {
			if !algName().MatchString(a) {
				bad(fmt.Sprintf("%s[%d]", l.name, i), "%q is not an algorithm name", a)
			}
		}
	}
	f := p.Fail2ban
	for i, ip := range f.IgnoreIP {
		whitelist(fmt.Sprintf("fail2ban.ignoreip[%d]", i), ip)
	}
	if p.Manages("fail2ban") {
		if !jailName().MatchString(f.Jail) {
			bad("fail2ban.jail", "%q is not a jail name (lower-case letters, digits, - and _)", f.Jail)
		}
		if f.MaxRetry < 1 || f.MaxRetry > 100 {
			bad("fail2ban.maxretry", "want 1..100, got %d", f.MaxRetry)
		}
		for _, d := range []struct{ name, v string }{{"findtime", f.FindTime}, {"bantime", f.BanTime}} {
			if !durationText().MatchString(d.v) {
				bad("fail2ban."+d.name, "%q is not a fail2ban time (e.g. 600, 10m, 1h)", d.v)
			}
		}
		switch f.Backend {
		case "auto", "systemd", "polling", "pyinotify":
		default:
			bad("fail2ban.backend", "want auto, systemd, polling or pyinotify, not %q", f.Backend)
		}
	}
	for _, k := range sortedKeys(p.Sysctl.Settings) {
		at := "sysctl.settings." + k
		if !sysctlKey().MatchString(k) {
			bad(at, "%q is not a sysctl key (dotted, as net.ipv4.tcp_syncookies)", k)
		}
		if !sysctlValue().MatchString(p.Sysctl.Settings[k]) {
			bad(at, "value %q is not a plain sysctl value", p.Sysctl.Settings[k])
		}
	}
	if p.Manages("auditd") && !auditKey().MatchString(p.Auditd.Key) {
		bad("auditd.key", "%q is not an audit key (letters, digits, - and _, at most 31)", p.Auditd.Key)
	}
	for i, w := range p.Auditd.Watch {
		if !absPath().MatchString(w) {
			bad(fmt.Sprintf("auditd.watch[%d]", i), "%q is not an absolute path of plain characters", w)
		}
	}
	for i, x := range p.Integrity.Exclude {
		if !absPath().MatchString(x) || x == "/" {
			bad(fmt.Sprintf("integrity.exclude[%d]", i), "%q is not an absolute path of plain characters (and not /)", x)
		}
	}
	if p.Manages("integrity") && p.Integrity.AIDE {
		if _, err := FindTimeSeconds(p.Integrity.MaxAge); err != nil || p.Integrity.MaxAge == "" {
			bad("integrity.max_age", "%q is not a time such as 7d or 36h", p.Integrity.MaxAge)
		}
	}
	if p.Updates.Time != "" && !clockTime().MatchString(p.Updates.Time) {
		bad("updates.time", "want HH:MM, not %q", p.Updates.Time)
	}
	for i, n := range p.Updates.PackageBlacklist {
		if !pkgName().MatchString(n) {
			bad(fmt.Sprintf("updates.package_blacklist[%d]", i), "%q is not a package name", n)
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(sortedErrors(errs), "\n"))
	}
	return nil
}

// sshAliases maps keywords sshd accepts to the name `sshd -T` reports.
var sshAliases = map[string]string{
	"challengeresponseauthentication": "kbdinteractiveauthentication",
	"skeyauthentication":              "kbdinteractiveauthentication",
	"dsaauthentication":               "pubkeyauthentication",
	"pubkeyacceptedkeytypes":          "pubkeyacceptedalgorithms",
	"hostbasedacceptedkeytypes":       "hostbasedacceptedalgorithms",
	"authorizedkeysfile2":             "authorizedkeysfile",
}

// SSHCanonical is the sshd -T name of an sshd_config keyword.
func SSHCanonical(keyword string) string {
	k := strings.ToLower(keyword)
	if a, ok := sshAliases[k]; ok {
		return a
	}
	return k
}

// ParseAddrOrPrefix accepts "192.0.2.1", "192.0.2.0/24", "::1" or "2001:db8::/32".
func ParseAddrOrPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or network", s)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or network", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// FindTimeSeconds converts a fail2ban time ("10m") to seconds.
func FindTimeSeconds(s string) (int, error) {
	if !durationText().MatchString(s) {
		return 0, fmt.Errorf("%q is not a fail2ban time", s)
	}
	unit := s[len(s)-1]
	if unit >= '0' && unit <= '9' {
		var n int
		fmt.Sscanf(s, "%d", &n)
		return n, nil
	}
	var n int
	fmt.Sscanf(s[:len(s)-1], "%d", &n)
	mult := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[unit]
	return int((time.Duration(n) * mult).Seconds()), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SortedKeys is sortedKeys for the module packages.
func SortedKeys[V any](m map[string]V) []string { return sortedKeys(m) }
