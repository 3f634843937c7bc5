package host

import (
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

func TestParsePolicyErrors(t *testing.T) {
	base := string(profile.Baseline())
	tests := []struct{ name, yaml, want string }{
		{"unknown key", base + "extra: 1\n", "field extra not found"},
		{"newline injection", strings.Replace(base, `PermitRootLogin: "no"`, `PermitRootLogin: "no\nMatch all"`, 1), "ssh.settings.PermitRootLogin"},
		{"match keyword", strings.Replace(base, `PermitRootLogin: "no"`, `Match: "all"`, 1), `"Match" is not a plain sshd keyword`},
		{"bad port", strings.Replace(base, "port: 5432", "port: 70000", 1), "firewall.allow[3].port"},
		{"bad ip", strings.Replace(base, "203.0.113.10", "203.0.113.300", 1), "operator.trusted_ips"},
		{"bad time", strings.Replace(base, `time: "02:00"`, `time: "2am"`, 1), "updates.time"},
		{"bad yaml", "version: [\n", "p.yaml: "},
		{"empty", "", "the policy is empty"},
		{"two documents", "version: 1\n---\nversion: 1\n", "line 2: a second YAML document"},
		// Every fail2ban value is checked even when the section lacks the
		// jail, so a newline cannot add a directive to jail.d/ctsec.local.
		{"ignoreip injection", "version: 1\nfail2ban:\n  ignoreip: [\"1.2.3.4\\nbanaction = x\"]\n", "fail2ban.ignoreip"},
		{"trust everyone", strings.Replace(base, "203.0.113.10", "0.0.0.0/0", 1), `operator.trusted_ips: "0.0.0.0/0" trusts every address`},
		{"ignore everyone", strings.Replace(base, `ignoreip: [127.0.0.1/8, "::1"]`, `ignoreip: ["::/0"]`, 1), `fail2ban.ignoreip: "::/0" trusts every address`},
		{"fail2ban without jail", "version: 1\nfail2ban:\n  ignoreip: [1.2.3.4]\n", `fail2ban.jail: "" is not a jail name`},
	}
	for _, tt := range tests {
		_, err := ParsePolicy("p.yaml", []byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "p.yaml: ") {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestPolicySectionsLeftOut(t *testing.T) {
	p, err := ParsePolicy("p.yaml", []byte("version: 1\nsysctl:\n  settings: {kernel.kptr_restrict: \"2\"}\nfirewall:\n"))
	if err != nil {
		t.Fatal(err)
	}
	for m, want := range map[string]bool{"sysctl": true, "firewall": false, "ssh": false, "fail2ban": false, "updates": false} {
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
