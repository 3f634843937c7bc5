package host

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"sort"
	"strings"
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

	// omitted holds the module sections the policy file leaves out. An
	// edited policy that drops a section means "leave that part of the host
	// alone", not "configure it with empty values" (an empty fail2ban jail,
	// ufw enabled without rules).
	omitted map[string]bool
}

// moduleSections are the top-level keys that configure one module each.
var moduleSections = []string{"ssh", "fail2ban", "sysctl", "firewall", "updates"}

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

// BaselinePolicy is the shipped policy, parsed.
func BaselinePolicy() (*Policy, error) {
	return ParsePolicy("baseline.yaml", profile.Baseline())
}

// LoadPolicy reads the policy at path, or the baseline when path is empty.
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

// ParsePolicy decodes and validates policy YAML strictly: an unknown key or a
// value of the wrong shape is an error naming the file and line.
func ParsePolicy(name string, data []byte) (*Policy, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Policy
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the policy is empty (want at least \"version: 1\"; ctsec host init writes one)", name)
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%s: %s", name, strings.Join(te.Errors, "; "))
		}
		return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: line %d: a second YAML document; a policy is one document", name, more.Line)
	}
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	for _, s := range moduleSections {
		if n, ok := top[s]; !ok || n.Tag == "!!null" {
			if p.omitted == nil {
				p.omitted = map[string]bool{}
			}
			p.omitted[s] = true
		}
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &p, nil
}

var (
	sshKeyword   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
	sshValue     = regexp.MustCompile(`^[A-Za-z0-9@._,:+/%=*-]+( [A-Za-z0-9@._,:+/%=*-]+)*$`)
	algName      = regexp.MustCompile(`^[a-z0-9@._+-]+$`)
	sysctlKey    = regexp.MustCompile(`^[a-z0-9_-]+(\.[A-Za-z0-9_-]+)+$`)
	sysctlValue  = regexp.MustCompile(`^[A-Za-z0-9 ._:,-]+$`)
	durationText = regexp.MustCompile(`^[0-9]+[smhdw]?$`)
	jailName     = regexp.MustCompile(`^[a-z0-9_-]+$`)
	pkgName      = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]*$`)
	clockTime    = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
)

// validate checks every value that ends up in a configuration file, so policy
// text can never inject a second directive (a newline, a "Match", a section).
func (p *Policy) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.Version != 1 {
		bad("version: want 1, got %d", p.Version)
	}
	// Trusted addresses go into fail2ban's ignoreip: a /0 there would
	// switch off banning for everyone, silently.
	whitelist := func(field, ip string) {
		pfx, err := ParseAddrOrPrefix(ip)
		switch {
		case err != nil:
			bad("%s: %v", field, err)
		case pfx.Bits() == 0:
			bad("%s: %q trusts every address, so fail2ban would ban nobody", field, ip)
		}
	}
	for _, ip := range p.Operator.TrustedIPs {
		whitelist("operator.trusted_ips", ip)
	}
	for _, d := range []struct{ name, v string }{{"firewall.default_incoming", p.Firewall.DefaultIncoming}, {"firewall.default_outgoing", p.Firewall.DefaultOutgoing}} {
		switch d.v {
		case "allow", "deny", "reject", "":
		default:
			bad("%s: want allow, deny or reject, not %q", d.name, d.v)
		}
	}
	for i, r := range p.Firewall.Allow {
		if r.Port < 1 || r.Port > 65535 {
			bad("firewall.allow[%d].port: %d is not a port", i, r.Port)
		}
		switch r.Proto {
		case "tcp", "udp":
		default:
			bad("firewall.allow[%d].proto: want tcp or udp, not %q", i, r.Proto)
		}
		if strings.ContainsAny(r.Comment, "\n\r'\"\\") || len(r.Comment) > 64 {
			bad("firewall.allow[%d].comment: at most 64 characters without quotes or newlines", i)
		}
		for _, f := range r.From {
			if _, err := ParseAddrOrPrefix(f); err != nil {
				bad("firewall.allow[%d].from: %v", i, err)
			}
		}
	}
	for _, k := range sortedKeys(p.SSH.Settings) {
		v := p.SSH.Settings[k]
		if !sshKeyword.MatchString(k) || strings.EqualFold(k, "Match") || strings.EqualFold(k, "Include") {
			bad("ssh.settings: %q is not a plain sshd keyword", k)
		}
		if !sshValue.MatchString(v) {
			bad("ssh.settings.%s: value %q has characters sshd_config cannot take safely", k, v)
		}
	}
	for _, l := range []struct {
		name string
		v    []string
	}{{"ssh.kex", p.SSH.Kex}, {"ssh.ciphers", p.SSH.Ciphers}, {"ssh.macs", p.SSH.MACs}} {
		for _, a := range l.v {
			if !algName.MatchString(a) {
				bad("%s: %q is not an algorithm name", l.name, a)
			}
		}
	}
	f := p.Fail2ban
	for _, ip := range f.IgnoreIP {
		whitelist("fail2ban.ignoreip", ip)
	}
	if p.Manages("fail2ban") {
		if !jailName.MatchString(f.Jail) {
			bad("fail2ban.jail: %q is not a jail name", f.Jail)
		}
		if f.MaxRetry < 1 || f.MaxRetry > 100 {
			bad("fail2ban.maxretry: want 1..100, got %d", f.MaxRetry)
		}
		for _, d := range []struct{ name, v string }{{"findtime", f.FindTime}, {"bantime", f.BanTime}} {
			if !durationText.MatchString(d.v) {
				bad("fail2ban.%s: %q is not a fail2ban time (e.g. 600, 10m, 1h)", d.name, d.v)
			}
		}
		switch f.Backend {
		case "auto", "systemd", "polling", "pyinotify":
		default:
			bad("fail2ban.backend: want auto, systemd, polling or pyinotify, not %q", f.Backend)
		}
	}
	for _, k := range sortedKeys(p.Sysctl.Settings) {
		if !sysctlKey.MatchString(k) {
			bad("sysctl.settings: %q is not a sysctl key", k)
		}
		if !sysctlValue.MatchString(p.Sysctl.Settings[k]) {
			bad("sysctl.settings.%s: value %q is not a plain sysctl value", k, p.Sysctl.Settings[k])
		}
	}
	if p.Updates.Time != "" && !clockTime.MatchString(p.Updates.Time) {
		bad("updates.time: want HH:MM, not %q", p.Updates.Time)
	}
	for _, n := range p.Updates.PackageBlacklist {
		if !pkgName.MatchString(n) {
			bad("updates.package_blacklist: %q is not a package name", n)
		}
	}
	return errors.Join(errs...)
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
	if !durationText.MatchString(s) {
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
