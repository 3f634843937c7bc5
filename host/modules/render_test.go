package modules

import (
	"strings"
	"testing"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/fail2ban"
	"github.com/ctsec/ctsec/host/ssh"
	"github.com/ctsec/ctsec/host/sysctl"
	"github.com/ctsec/ctsec/host/updates"
	profile "github.com/ctsec/ctsec/profiles/host"
)

// FuzzPolicyRender feeds any policy the loader accepts through every
// generator and reads the output back with the module's own parser: policy
// text must never add a directive, a section or a key of its own (a newline
// in ignoreip once added "banaction = x" to jail.d/ctsec.local).
func FuzzPolicyRender(f *testing.F) {
	f.Add(string(profile.Baseline()))
	f.Add("version: 1\nfail2ban:\n  jail: sshd\n  maxretry: 3\n  findtime: 10m\n  bantime: 1h\n  backend: systemd\n  ignoreip: [\"1.2.3.4\"]\n")
	f.Add("version: 1\nsysctl:\n  settings: {kernel.kptr_restrict: \"2\"}\nupdates:\n  security_only: true\n  package_blacklist: [docker.io]\n")
	f.Add("version: 1\nssh:\n  settings: {PermitRootLogin: \"no\"}\n  kex: [curve25519-sha256]\n")
	env := host.NewEnv(f.TempDir())
	f.Fuzz(func(t *testing.T, s string) {
		pol, err := host.ParsePolicy("f", []byte(s))
		if err != nil {
			return
		}
		if pol.Manages("ssh") {
			checkSSH(t, pol, ssh.Render(pol))
		}
		if pol.Manages("fail2ban") {
			entries, err := fail2ban.ParseINI("ctsec.local", fail2ban.Render(pol, nil))
			if err != nil {
				t.Fatalf("fail2ban drop-in does not parse: %v", err)
			}
			for _, e := range entries {
				if e.Section != pol.Fail2ban.Jail || !strings.Contains(" enabled backend maxretry findtime bantime ignoreip ", " "+e.Key+" ") {
					t.Fatalf("fail2ban drop-in has [%s] %s = %q", e.Section, e.Key, e.Value)
				}
			}
		}
		if pol.Manages("sysctl") {
			out, _, err := sysctl.Render(env, pol)
			if err != nil {
				return // a key this kernel does not know: the policy is refused
			}
			settings, problems := sysctl.Parse("99-zz-ctsec.conf", out)
			if len(problems) > 0 {
				t.Fatalf("sysctl drop-in has problems: %+v", problems)
			}
			for _, st := range settings {
				if v, ok := pol.Sysctl.Settings[st.Key]; !ok || strings.Join(strings.Fields(v), " ") != st.Value {
					t.Fatalf("sysctl drop-in sets %s = %q", st.Key, st.Value)
				}
			}
		}
		if pol.Manages("updates") {
			ops, err := updates.ParseAptConf("52ctsec", updates.RenderConf(env, pol))
			if err != nil {
				t.Fatalf("apt drop-in does not parse: %v", err)
			}
			for _, op := range ops {
				if !strings.HasPrefix(op.Key, "APT::Periodic::") && !strings.HasPrefix(op.Key, "Unattended-Upgrade::") {
					t.Fatalf("apt drop-in sets %s", op.Key)
				}
			}
		}
	})
}

// checkSSH: one line per policy setting and algorithm list, nothing else.
func checkSSH(t *testing.T, pol *host.Policy, out []byte) {
	t.Helper()
	allowed := map[string]bool{"kexalgorithms": len(pol.SSH.Kex) > 0, "ciphers": len(pol.SSH.Ciphers) > 0, "macs": len(pol.SSH.MACs) > 0}
	for k := range pol.SSH.Settings {
		allowed[strings.ToLower(k)] = true
	}
	seen := 0
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		kw, _, _ := strings.Cut(l, " ")
		if !allowed[strings.ToLower(kw)] {
			t.Fatalf("sshd drop-in has %q", l)
		}
		seen++
	}
	if want := len(pol.SSH.Settings); seen < want {
		t.Fatalf("sshd drop-in has %d lines for %d settings", seen, want)
	}
}
