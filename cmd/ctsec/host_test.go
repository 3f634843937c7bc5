package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// hostRoot is a --root with Debian 12's sysctl layout only, so the sysctl
// module runs end to end through the CLI.
func hostRoot(t *testing.T) string {
	root := t.TempDir()
	for p, c := range map[string]string{
		"etc/sysctl.d/99-sysctl.conf":            "",
		"etc/sysctl.conf":                        "#kernel.printk = 3 4 1 3\n",
		"usr/lib/sysctl.d/99-protect-links.conf": "fs.protected_symlinks = 1\n",
	} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(c), 0o644)
	}
	return root
}

func TestHostInit(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pol.yaml")
	out, errOut, code := ctsec(t, "host", "init", p)
	if code != 0 || !strings.Contains(out, "wrote") {
		t.Fatalf("init: %d %q %q", code, out, errOut)
	}
	if _, _, code := ctsec(t, "host", "init", p); code != 1 {
		t.Errorf("init over an existing file: exit %d", code)
	}
	os.WriteFile(p, []byte("version: 1\nbogus: true\n"), 0o644)
	_, errOut, code = ctsec(t, "host", "plan", "sysctl", "--root", hostRoot(t), "--policy", p)
	if code != 2 || !strings.Contains(errOut, p+`:2: unknown key "bogus"`) {
		t.Errorf("bad policy: exit %d, %q", code, errOut)
	}
}

func TestHostAuditPlanApplyRollback(t *testing.T) {
	testenv.Tool(t, "sysctl")
	root := hostRoot(t)
	state := t.TempDir()
	out, _, code := ctsec(t, "host", "audit", "sysctl", "--root", root, "--format", "json", "--fail-on", "none")
	var rep struct {
		Findings []struct{ Rule, Severity, Message, File string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Findings) == 0 {
		t.Fatalf("audit: %d %s", code, out)
	}
	out, _, code = ctsec(t, "host", "plan", "sysctl", "--root", root)
	if code != 0 || !strings.Contains(out, "+++ /etc/sysctl.d/99-zz-ctsec.conf") || !strings.Contains(out, "+kernel.kptr_restrict = 2") {
		t.Fatalf("plan: %d\n%s", code, out)
	}
	out, _, code = ctsec(t, "host", "plan", "sysctl", "--root", root, "--format", "json")
	var planRep struct {
		Data struct {
			Modules []struct {
				Module string
				Edits  []struct{ Path, Diff, Mode string }
			}
		}
	}
	plan := &planRep.Data
	if code != 0 || json.Unmarshal([]byte(out), &planRep) != nil || len(plan.Modules) != 1 || len(plan.Modules[0].Edits) != 1 ||
		plan.Modules[0].Edits[0].Path != "/etc/sysctl.d/99-zz-ctsec.conf" || plan.Modules[0].Edits[0].Mode != "0644" {
		t.Fatalf("plan json: %d %s", code, out)
	}
	out, errOut, code := ctsec(t, "host", "apply", "sysctl", "--root", root, "--state-dir", state)
	if code != 0 || !strings.Contains(out, "applied ") {
		t.Fatalf("apply: %d %s %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/sysctl.d/99-zz-ctsec.conf")); err != nil {
		t.Fatal(err)
	}
	out, _, _ = ctsec(t, "host", "apply", "sysctl", "--root", root, "--state-dir", state)
	if !strings.Contains(out, "nothing applied") {
		t.Errorf("second apply: %s", out)
	}
	out, _, code = ctsec(t, "host", "history", "--state-dir", state, "--format", "json")
	if code != 0 || !strings.Contains(out, `"status": "applied"`) {
		t.Errorf("history: %s", out)
	}
	out, _, code = ctsec(t, "host", "rollback", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "rolled back") {
		t.Errorf("rollback: %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/sysctl.d/99-zz-ctsec.conf")); !os.IsNotExist(err) {
		t.Error("rollback left the drop-in")
	}
	if _, errOut, code := ctsec(t, "host", "confirm", "--state-dir", state); code != 1 || !strings.Contains(errOut, "no host change is waiting") {
		t.Errorf("confirm with nothing pending: %d %q", code, errOut)
	}
	if _, errOut, code := ctsec(t, "host", "audit", "nosuch"); code != 2 || !strings.Contains(errOut, `unknown module "nosuch"`) {
		t.Errorf("unknown module: %d %q", code, errOut)
	}
}

func TestHostApplyRefusedByGuard(t *testing.T) {
	testenv.Tool(t, "sysctl")
	root := hostRoot(t)
	os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/bin/dockerd"), nil, 0o755)
	pol := filepath.Join(t.TempDir(), "pol.yaml")
	if _, _, code := ctsec(t, "host", "init", pol); code != 0 {
		t.Fatal("init failed")
	}
	b, _ := os.ReadFile(pol)
	os.WriteFile(pol, []byte(strings.Replace(string(b), "    net.ipv4.tcp_syncookies: \"1\"\n", "    net.ipv4.tcp_syncookies: \"1\"\n    net.ipv4.ip_forward: \"0\"\n", 1)), 0o644)
	state := t.TempDir()
	out, errOut, code := ctsec(t, "host", "apply", "sysctl", "--root", root, "--state-dir", state, "--policy", pol)
	if code != 1 || !strings.Contains(errOut, "sysctl-docker-forwarding: net.ipv4.ip_forward = 0 on a host running Docker") ||
		!strings.Contains(errOut, "nothing changed") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	// The refusal comes first, with what to change; --force last.
	if !strings.HasPrefix(out, "REFUSED: 1 lockout guard") || !strings.Contains(out, "  sysctl-docker-forwarding: ") ||
		!strings.Contains(flat(out), "fix: keep net.ipv4.ip_forward at 1") || strings.Index(out, "fix:") > strings.Index(out, "--force") {
		t.Errorf("plan output lacks the refusal: %s", out)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/sysctl.d/99-zz-ctsec.conf")); !os.IsNotExist(err) {
		t.Error("a refused apply wrote the drop-in")
	}
	if _, errOut, code := ctsec(t, "host", "apply", "sysctl", "--root", root, "--state-dir", state, "--policy", pol, "--force"); code != 0 {
		t.Errorf("--force: exit %d %q", code, errOut)
	}
}

// A policy that sets a module's section to null leaves that module alone:
// an operator who empties "firewall:" in the copy must not get ufw enabled
// with no rules, nor a fail2ban jail with empty values. (A section left out
// is the baseline's: see TestPartialPolicyMergedOverBaseline.)
func TestHostPolicyWithoutSections(t *testing.T) {
	testenv.Tool(t, "sysctl")
	root := hostRoot(t)
	os.MkdirAll(filepath.Join(root, "etc/ufw"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/ufw/ufw.conf"), []byte("ENABLED=no\n"), 0o644)
	pol := filepath.Join(t.TempDir(), "pol.yaml")
	os.WriteFile(pol, []byte("version: 1\nsysctl:\n  settings:\n    kernel.kptr_restrict: \"2\"\nssh: ~\nfail2ban:\nfirewall: null\nupdates: ~\nauditd: null\nintegrity: null\n"), 0o644)
	out, errOut, code := ctsec(t, "host", "plan", "--root", root, "--policy", pol)
	if code != 0 {
		t.Fatalf("plan: exit %d %q\n%s", code, errOut, out)
	}
	for _, m := range []string{"ssh", "fail2ban", "firewall", "updates", "auditd", "integrity"} {
		if !strings.Contains(out, "note: the policy sets "+m+" to null: ctsec leaves "+m+" alone") {
			t.Errorf("plan does not say %s is left alone:\n%s", m, out)
		}
	}
	if strings.Count(out, "+++ ") != 1 || !strings.Contains(out, "+++ /etc/sysctl.d/99-zz-ctsec.conf") {
		t.Errorf("plan edits more than the sysctl drop-in:\n%s", out)
	}
	out, _, code = ctsec(t, "host", "audit", "--root", root, "--policy", pol, "--format", "json", "--fail-on", "none")
	var rep struct {
		Findings []struct{ Rule, Target string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("audit: %d %s", code, out)
	}
	rules := map[string]bool{}
	for _, f := range rep.Findings {
		rules[f.Rule] = true
		rules[f.Rule+" "+f.Target] = true
		if strings.HasPrefix(f.Rule, "host/firewall-") && f.Rule != "host/firewall-unmanaged" {
			t.Errorf("audit of an unmanaged firewall: %s", f.Rule)
		}
	}
	if !rules["host/firewall-unmanaged"] || !rules["host/sysctl-value kernel.kptr_restrict"] {
		t.Errorf("audit rules = %v", rules)
	}
	os.WriteFile(pol, []byte("version: 1\nfail2ban:\n  ignoreip: [\"1.2.3.4\\nbanaction = x\"]\n"), 0o644)
	if _, errOut, code := ctsec(t, "host", "plan", "--root", root, "--policy", pol); code != 2 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, pol+":3: fail2ban.ignoreip[0]") {
		t.Errorf("injected ignoreip: exit %d %q", code, errOut)
	}
}

// pflag turns a `quoted` word in a flag's usage into the flag's value name;
// the help must show "--confirm-within duration", not "--confirm-within ctsec host confirm".
func TestHostFlagHelp(t *testing.T) {
	out, _, code := ctsec(t, "host", "apply", "--help")
	if code != 0 || !strings.Contains(out, "--confirm-within duration") || !strings.Contains(out, "--policy string") {
		t.Errorf("apply --help: %d\n%s", code, out)
	}
}

// TestHostSetupErrors holds audit, plan and apply, which share their setup,
// to the contract for bad input: one line on stderr, exit 2, nothing written.
func TestHostSetupErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "pol.yaml")
	os.WriteFile(bad, []byte("version: 1\nbogus: true\n"), 0o644)
	for _, verb := range []string{"audit", "plan", "apply"} {
		for _, tt := range []struct {
			name, want string
			args       []string
		}{
			{"unknown module", "nosuch", []string{"nosuch"}},
			{"bad policy", bad + `:2: unknown key "bogus" at the top level`, []string{"sysctl", "--policy", bad}},
		} {
			t.Run(verb+" "+tt.name, func(t *testing.T) {
				root, state := hostRoot(t), t.TempDir()
				args := append([]string{"host", verb, "--root", root}, tt.args...)
				if verb == "apply" {
					args = append(args, "--state-dir", state)
				}
				out, errOut, code := ctsec(t, args...)
				if code != 2 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tt.want) {
					t.Errorf("exit %d, stderr %q, want one line with %q", code, errOut, tt.want)
				}
				if out != "" {
					t.Errorf("stdout %q", out)
				}
				if entries, _ := os.ReadDir(state); len(entries) != 0 {
					t.Errorf("state dir written: %v", entries)
				}
				if _, err := os.Stat(filepath.Join(root, "etc/sysctl.d/99-zz-ctsec.conf")); err == nil {
					t.Error("apply wrote the drop-in")
				}
			})
		}
	}
}
