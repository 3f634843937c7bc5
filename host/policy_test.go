package host

import (
	"strconv"
	"strings"
	"testing"
	"time"

	profile "github.com/ctsec/ctsec/profiles/host"
)

func TestBaselineIsTheRunbook(t *testing.T) {
	p, err := BaselinePolicy()
	if err != nil {
		t.Fatal(err)
	}
	var ports []int
	for _, r := range p.Firewall.Allow {
		ports = append(ports, r.Port)
	}
	if p.Firewall.DefaultIncoming != "deny" || len(ports) != 4 || ports[0] != 22 || ports[3] != 5432 {
		t.Errorf("firewall = %+v", p.Firewall)
	}
	f := p.Fail2ban
	find, _ := FindTimeSeconds(f.FindTime)
	ban, _ := FindTimeSeconds(f.BanTime)
	if f.MaxRetry != 3 || find != 600 || ban != 3600 || len(p.Operator.TrustedIPs) == 0 {
		t.Errorf("fail2ban = %+v", f)
	}
	if p.SSH.Settings["PasswordAuthentication"] != "no" || p.SSH.Settings["PermitRootLogin"] != "no" {
		t.Errorf("ssh = %+v", p.SSH.Settings)
	}
	if p.Updates.Time != "02:00" || p.Updates.AutomaticReboot || !p.Updates.SecurityOnly {
		t.Errorf("updates = %+v", p.Updates)
	}
}

// Errors are in the policy's terms: FILE:LINE, the key, what is allowed,
// a suggestion; never Go's ("field x not found in type host.FirewallPolicy",
// "cannot unmarshal !!str into []string").
func TestParsePolicyErrors(t *testing.T) {
	base := string(profile.Baseline())
	line := func(s string) string { // the line of the baseline that holds s
		return strconv.Itoa(strings.Count(base[:strings.Index(base, s)], "\n") + 1)
	}
	tests := []struct{ name, yaml, want string }{
		{"unknown key", base + "extra: 1\n", "p.yaml:" + strconv.Itoa(strings.Count(base, "\n")+1) + `: unknown key "extra" at the top level; allowed: version, operator, firewall, ssh, fail2ban, sysctl, updates`},
		{"unknown key in a section", "version: 1\nfirewall:\n  default_routed: deny\n", `p.yaml:3: unknown key "default_routed" in firewall; allowed: default_incoming, default_outgoing, allow, docker`},
		{"did you mean", "version: 1\nfirewall:\n  default_incomming: deny\n", `p.yaml:3: unknown key "default_incomming" in firewall; allowed: default_incoming, default_outgoing, allow, docker (did you mean "default_incoming"?)`},
		{"a string for a list", "version: 1\noperator:\n  trusted_ips: 198.51.100.7\n", `p.yaml:3: operator.trusted_ips: want a list, got "198.51.100.7" (write [198.51.100.7])`},
		{"a list for a string", "version: 1\nupdates:\n  time: [\"02:00\"]\n", `p.yaml:3: updates.time: want a single value, got a list`},
		{"not a number", "version: 1\nfail2ban:\n  maxretry: three\n", `p.yaml:3: fail2ban.maxretry: want a whole number, got "three"`},
		{"not a bool", "version: 1\nupdates:\n  automatic_reboot: yes\n", `p.yaml:3: updates.automatic_reboot: want true or false, got "yes"`},
		{"twice", "version: 1\nupdates:\n  time: \"01:00\"\n  time: \"02:00\"\n", `p.yaml:4: updates.time: given twice (first at line 3)`},
		{"alias", "version: 1\nx: &a 1\n", `p.yaml:2: unknown key "x"`},
		{"no version", "ssh:\n  settings: {}\n", `p.yaml:1: version: missing`},
		{"newline injection", strings.Replace(base, `PermitRootLogin: "no"`, `PermitRootLogin: "no\nMatch all"`, 1), "p.yaml:" + line("PermitRootLogin") + `: ssh.settings.PermitRootLogin: value "no\nMatch all" has characters`},
		{"match keyword", strings.Replace(base, `PermitRootLogin: "no"`, `Match: "all"`, 1), "p.yaml:" + line("PermitRootLogin") + `: ssh.settings.Match: "Match" is not a plain sshd keyword`},
		{"bad port", strings.Replace(base, "port: 5432", "port: 70000", 1), "p.yaml:" + line("port: 5432") + ": firewall.allow[3].port: 70000 is not a port"},
		{"bad ip", strings.Replace(base, "203.0.113.10", "203.0.113.300", 1), "p.yaml:" + line("203.0.113.10") + `: operator.trusted_ips[0]: "203.0.113.300" is not an address or network`},
		{"bad time", strings.Replace(base, `time: "02:00"`, `time: "2am"`, 1), "p.yaml:" + line(`time: "02:00"`) + `: updates.time: want HH:MM, not "2am"`},
		{"bad yaml", "version: [\n", "p.yaml:1: "},
		{"empty", "", "p.yaml: the policy is empty"},
		{"two documents", "version: 1\n---\nversion: 1\n", "p.yaml:2: a second YAML document"},
		// Every fail2ban value is checked even when the section lacks the
		// jail, so a newline cannot add a directive to jail.d/ctsec.local.
		{"ignoreip injection", "version: 1\nfail2ban:\n  ignoreip: [\"1.2.3.4\\nbanaction = x\"]\n", `p.yaml:3: fail2ban.ignoreip[0]: "1.2.3.4\nbanaction = x" is not an address`},
		{"trust everyone", strings.Replace(base, "203.0.113.10", "0.0.0.0/0", 1), `operator.trusted_ips[0]: "0.0.0.0/0" trusts every address`},
		{"ignore everyone", strings.Replace(base, `ignoreip: [127.0.0.1/8, "::1"]`, `ignoreip: ["::/0"]`, 1), `fail2ban.ignoreip[0]: "::/0" trusts every address`},
		{"empty jail", "version: 1\nfail2ban:\n  jail: \"\"\n", `p.yaml:3: fail2ban.jail: "" is not a jail name`},
		{"the same keyword twice", "version: 1\nssh:\n  settings:\n    MaxAuthTries: \"3\"\n    maxauthtries: \"4\"\n", `ssh.settings.maxauthtries: MaxAuthTries and maxauthtries are the same sshd keyword`},
	}
	for _, tt := range tests {
		_, err := ParsePolicy("p.yaml", []byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "p.yaml") {
			t.Errorf("%s: error = %v\nwant %q", tt.name, err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), "host.") || strings.Contains(err.Error(), "unmarshal") || strings.Contains(err.Error(), "!!")) {
			t.Errorf("%s: Go internals in %q", tt.name, err)
		}
	}
}

// A partial policy is laid over the baseline: mappings merge key by key
// (ssh.settings by sshd keyword, whatever the case or alias), lists and
// values replace, null removes; a section set to null is left alone.
func TestPartialPolicyMergedOverBaseline(t *testing.T) {
	base, _ := BaselinePolicy()
	p, err := ParsePolicy("p.yaml", []byte(`version: 1
ssh:
  settings:
    permitrootlogin: prohibit-password
    ChallengeResponseAuthentication: "no"
    X11Forwarding: ~
    Banner: /etc/issue.net
firewall:
  allow:
    - {port: 2222, proto: tcp, comment: ssh}
fail2ban: ~
sysctl:
  settings:
    kernel.kptr_restrict: "1"
`))
	if err != nil {
		t.Fatal(err)
	}
	s := p.SSH.Settings
	if s["permitrootlogin"] != "prohibit-password" || s["PermitRootLogin"] != "" || s["ChallengeResponseAuthentication"] != "no" || s["KbdInteractiveAuthentication"] != "" {
		t.Errorf("ssh.settings did not merge by keyword: %v", s)
	}
	if _, ok := s["X11Forwarding"]; ok || s["Banner"] != "/etc/issue.net" || s["PasswordAuthentication"] != "no" || len(s) != len(base.SSH.Settings) {
		t.Errorf("ssh.settings = %v (null removes, new keys add, the rest stays)", s)
	}
	if len(p.SSH.Kex) != len(base.SSH.Kex) {
		t.Errorf("ssh.kex not kept from the baseline: %v", p.SSH.Kex)
	}
	if len(p.Firewall.Allow) != 1 || p.Firewall.Allow[0].Port != 2222 || p.Firewall.DefaultIncoming != "deny" {
		t.Errorf("firewall = %+v (a list replaces, the rest stays)", p.Firewall)
	}
	if p.Sysctl.Settings["kernel.kptr_restrict"] != "1" || len(p.Sysctl.Settings) != len(base.Sysctl.Settings) {
		t.Errorf("sysctl.settings = %v", p.Sysctl.Settings)
	}
	for m, want := range map[string]bool{"sysctl": true, "firewall": true, "ssh": true, "fail2ban": false, "updates": true} {
		if p.Manages(m) != want {
			t.Errorf("Manages(%q) = %v, want %v", m, !want, want)
		}
	}
	if p.Updates.Time != "02:00" || len(p.Operator.TrustedIPs) != 1 {
		t.Errorf("sections left out do not come from the baseline: %+v %+v", p.Updates, p.Operator)
	}
	if got := p.Where("sysctl.settings.kernel.kptr_restrict"); got != "p.yaml:14" {
		t.Errorf("Where = %s", got)
	}
	if got := p.Where("sysctl.settings.kernel.dmesg_restrict"); got != "p.yaml:13" {
		t.Errorf("Where of a baseline value in a section the file sets = %s, want that section's line", got)
	}
	if got := p.Where("updates.time"); got != "p.yaml" {
		t.Errorf("Where of a baseline value = %s", got)
	}
}

func TestPolicySectionsLeftOut(t *testing.T) {
	p, err := ParsePolicy("p.yaml", []byte("version: 1\nsysctl:\n  settings: {kernel.kptr_restrict: \"2\"}\nfirewall:\nupdates: null\n"))
	if err != nil {
		t.Fatal(err)
	}
	for m, want := range map[string]bool{"sysctl": true, "firewall": false, "ssh": true, "fail2ban": true, "updates": false} {
		if p.Manages(m) != want {
			t.Errorf("Manages(%q) = %v, want %v", m, !want, want)
		}
	}
	base, _ := BaselinePolicy()
	for _, m := range moduleSections {
		if !base.Manages(m) {
			t.Errorf("the baseline does not manage %s", m)
		}
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add(string(profile.Baseline()))
	f.Add("version: 1\nssh:\n  settings:\n    A: b\n")
	f.Fuzz(func(t *testing.T, s string) {
		type result struct {
			p   *Policy
			err error
		}
		done := make(chan result, 1)
		go func() {
			p, err := ParsePolicy("f", []byte(s))
			done <- result{p, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(2 * time.Second):
			t.Fatalf("ParsePolicy hangs on %q", s)
		}
		p, err := r.p, r.err
		if err != nil {
			return
		}
		for k, v := range p.SSH.Settings {
			if strings.ContainsAny(k+v, "\n\r") {
				t.Fatalf("newline passed validation: %q %q", k, v)
			}
		}
	})
}

// FuzzParseSSHConnection: any $SSH_CONNECTION is either four fields of
// address, port, address, port, or an error naming it in one line.
func FuzzParseSSHConnection(f *testing.F) {
	for _, s := range []string{"203.0.113.7 50022 192.0.2.1 22", "garbage", "::1 1 ::1 65535", "fe80::1%eth0 2 ::ffff:10.0.0.1 22", " 1.2.3.4  1 5.6.7.8 2 ", "1.2.3.4 0 5.6.7.8 22\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseSSHConnection(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") || len(err.Error()) > 400 {
				t.Fatalf("error not one short line: %q", err)
			}
			return
		}
		if !c.Client.IsValid() || !c.Server.IsValid() || c.ClientPort < 1 || c.ServerPort > 65535 || c.Client.Zone() != "" {
			t.Fatalf("ParseSSHConnection(%q) = %+v", s, c)
		}
	})
}
