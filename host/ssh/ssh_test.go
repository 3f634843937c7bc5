package ssh

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/hosttest"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

// sshRoot is a root with Debian 12's real sshd_config, an empty
// sshd_config.d, and two accounts: root, and alice who logs in with a
// password and (when withKey) also has a key.
func sshRoot(t testing.TB, withKey bool) *host.Env {
	t.Helper()
	testenv.Root(t)
	testenv.Tool(t, "sshd")
	env := hosttest.Root(t, "/etc/ssh/sshd_config")
	hosttest.Write(t, env, "/etc/ssh/sshd_config.d/.keep", "")
	hosttest.Write(t, env, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n")
	hosttest.Write(t, env, "/etc/shadow", "root:*:19000:0:99999:7:::\nalice:$y$j9T$abc$def:19000:0:99999:7:::\nwww-data:*:19000::::::\n")
	hosttest.Write(t, env, "/etc/group", "root:x:0:\nalice:x:1000:\nadmins:x:1001:alice\n")
	if withKey {
		hosttest.Write(t, env, "/home/alice/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHtestkeytestkeytestkeytestkeytestkeytestkey alice@laptop\n")
	}
	env.Operator = "alice"
	return env
}

func baseline(t *testing.T) *host.Policy {
	t.Helper()
	p, err := host.BaselinePolicy()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func find(fs []report.Finding, rule string) []report.Finding {
	var out []report.Finding
	for _, f := range fs {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

func findTarget(fs []report.Finding, rule, target string) []report.Finding {
	var out []report.Finding
	for _, f := range find(fs, rule) {
		if f.Target == target {
			out = append(out, f)
		}
	}
	return out
}

func engine(t *testing.T, env *host.Env) *host.Engine {
	return &host.Engine{Env: env, StateDir: filepath.Join(t.TempDir(), "state"), Modules: []host.Module{New()}, Clock: testenv.Clock(t)}
}

// The cloud-init trap: 50-cloud-init.conf says yes, the main file says no;
// sshd keeps the first value, so passwords stay on. The audit must say so
// and name the file; the 00-ctsec.conf drop-in must win.
func TestCloudInitOverride(t *testing.T) {
	ctx := context.Background()
	env := sshRoot(t, true)
	hosttest.Write(t, env, "/etc/ssh/sshd_config.d/50-cloud-init.conf", "PasswordAuthentication yes\n")
	main := hosttest.Read(t, env, MainConfig)
	hosttest.Write(t, env, MainConfig, main+"PasswordAuthentication no\n")
	mainLines := strings.Count(main, "\n") + 1

	fs, err := New().Audit(ctx, env, baseline(t))
	if err != nil {
		t.Fatal(err)
	}
	pa := findTarget(fs, "host/ssh-option", "sshd passwordauthentication")
	if len(pa) != 1 || pa[0].Severity != report.High || pa[0].File != "/etc/ssh/sshd_config.d/50-cloud-init.conf" || pa[0].Line != 1 {
		t.Fatalf("passwordauthentication finding = %+v", pa)
	}
	sh := find(fs, "host/ssh-shadowed")
	if len(sh) != 1 || sh[0].File != MainConfig || sh[0].Line != mainLines {
		t.Errorf("shadowed finding = %+v, want %s:%d", sh, MainConfig, mainLines)
	}

	e := engine(t, env)
	plan, err := e.Plan(ctx, baseline(t))
	if err != nil {
		t.Fatal(err)
	}
	if r := plan.Refusals(); len(r) > 0 {
		t.Fatalf("refusals: %+v", r)
	}
	if _, err := e.Apply(ctx, plan, host.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	st, _, err := stage(env, host.Overlay{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eff, err := Dump(ctx, env.Runner, st.main, "")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"passwordauthentication": "no", "permitrootlogin": "no", "maxauthtries": "3", "x11forwarding": "no"} {
		if eff.Get(k) != v {
			t.Errorf("after apply sshd -T %s = %q, want %q", k, eff.Get(k), v)
		}
	}
	if got := hosttest.Read(t, env, "/etc/ssh/sshd_config.d/50-cloud-init.conf"); got != "PasswordAuthentication yes\n" {
		t.Errorf("cloud-init's file was changed: %q", got)
	}
	// Idempotent: a second plan changes nothing.
	plan2, err := e.Plan(ctx, baseline(t))
	if err != nil {
		t.Fatal(err)
	}
	if plan2.Changed() {
		t.Errorf("second plan still changes: %s", plan2.Diff())
	}
}

func TestMatchBlockReenablesPasswords(t *testing.T) {
	env := sshRoot(t, true)
	main := hosttest.Read(t, env, MainConfig)
	hosttest.Write(t, env, MainConfig, main+"Match Address 10.0.0.0/8\n\tPasswordAuthentication yes\nMatch Group admins\n\tPermitRootLogin yes\n")
	line := strings.Count(main, "\n") + 1
	fs, err := New().Audit(context.Background(), env, baseline(t))
	if err != nil {
		t.Fatal(err)
	}
	m := find(fs, "host/ssh-match")
	if len(m) != 2 {
		t.Fatalf("match findings = %+v", m)
	}
	if m[0].Line != line+1 || !strings.Contains(m[0].Message, "passwordauthentication is yes") || !strings.Contains(m[0].Message, "addr=10.0.0.1") {
		t.Errorf("address match finding = %+v", m[0])
	}
	if m[1].Line != line+3 || !strings.Contains(m[1].Message, "user=alice") {
		t.Errorf("group match finding = %+v (want the admins member alice as test user)", m[1])
	}
}

func TestGuardRefusesPasswordOffWithoutKey(t *testing.T) {
	ctx := context.Background()
	env := sshRoot(t, false)
	before := hosttest.Snapshot(t, env)
	e := engine(t, env)
	plan, err := e.Plan(ctx, baseline(t))
	if err != nil {
		t.Fatal(err)
	}
	r := plan.Refusals()
	if len(r) != 1 || r[0].Guard != "ssh-keys" || !strings.Contains(r[0].Reason, `operator "alice"`) || !strings.Contains(r[0].Reason, "no /home/alice/.ssh/authorized_keys nor /home/alice/.ssh/authorized_keys2") {
		t.Fatalf("refusals = %+v", r)
	}
	_, err = e.Apply(ctx, plan, host.ApplyOptions{})
	var refused *host.RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("apply error = %v, want a refusal", err)
	}
	if after := hosttest.Snapshot(t, env); !reflect.DeepEqual(before, after) {
		t.Error("a refused apply changed files")
	}
	// A group-writable ~/.ssh makes the key unusable under StrictModes.
	hosttest.Write(t, env, "/home/alice/.ssh/authorized_keys", "ssh-ed25519 AAAAkey alice\n")
	if err := chmod(env.Path("/home/alice/.ssh"), 0o775); err != nil {
		t.Fatal(err)
	}
	plan, _ = e.Plan(ctx, baseline(t))
	if r := plan.Refusals(); len(r) != 1 || !strings.Contains(r[0].Reason, "StrictModes") {
		t.Errorf("refusals with a group-writable ~/.ssh = %+v", r)
	}
}

func TestGuardRefusesUnsupportedCrypto(t *testing.T) {
	env := sshRoot(t, true)
	pol := baseline(t)
	pol.SSH.Kex = append([]string{"mlkem768x25519-sha256"}, pol.SSH.Kex...)
	mp, err := New().Plan(context.Background(), env, pol)
	if err != nil {
		t.Fatal(err)
	}
	var crypto []string
	for _, r := range mp.Refusals {
		if r.Guard == "ssh-crypto" {
			crypto = append(crypto, r.Reason)
		}
	}
	if len(crypto) != 1 || !strings.Contains(crypto[0], "mlkem768x25519-sha256") {
		t.Errorf("crypto refusals = %q (all: %+v)", crypto, mp.Refusals)
	}
}

func TestGuardRefusesMissingInclude(t *testing.T) {
	env := sshRoot(t, true)
	hosttest.Write(t, env, MainConfig, "PasswordAuthentication yes\nSubsystem sftp /usr/lib/openssh/sftp-server\n")
	mp, err := New().Plan(context.Background(), env, baseline(t))
	if err != nil {
		t.Fatal(err)
	}
	guards := map[string]bool{}
	for _, r := range mp.Refusals {
		guards[r.Guard] = true
	}
	if !guards["ssh-include"] || !guards["ssh-effective"] {
		t.Errorf("refusals = %+v, want ssh-include and ssh-effective", mp.Refusals)
	}
}

// A value sshd rejects: the precheck refuses; forced, verification fails
// after writing and every file comes back byte for byte.
func TestVerifyFailureRestoresFiles(t *testing.T) {
	ctx := context.Background()
	env := sshRoot(t, true)
	hosttest.Write(t, env, "/etc/ssh/sshd_config.d/00-ctsec.conf", "# an older ctsec drop-in\nPasswordAuthentication no\n")
	pol := baseline(t)
	pol.SSH.Settings["MaxAuthTries"] = "lots"
	before := hosttest.Snapshot(t, env)
	e := engine(t, env)
	plan, err := e.Plan(ctx, pol)
	if err != nil {
		t.Fatal(err)
	}
	if r := plan.Refusals(); len(r) != 1 || r[0].Guard != "ssh-precheck" {
		t.Fatalf("refusals = %+v, want the sshd -t precheck", r)
	}
	_, err = e.Apply(ctx, plan, host.ApplyOptions{Force: true})
	var rolled *host.RolledBackError
	if !errors.As(err, &rolled) || !strings.Contains(err.Error(), "sshd -t rejected") {
		t.Fatalf("apply error = %v, want a rollback after sshd -t", err)
	}
	if after := hosttest.Snapshot(t, env); !reflect.DeepEqual(before, after) {
		t.Errorf("files not restored:\nbefore %q\nafter  %q", before["/etc/ssh/sshd_config.d/00-ctsec.conf"], after["/etc/ssh/sshd_config.d/00-ctsec.conf"])
	}
	hist, _ := e.History()
	if len(hist) != 1 || hist[0].Status != host.StatusRolledBack {
		t.Errorf("history = %+v", hist)
	}
}

// The drop-in sets global values only; a Match block that re-enables
// passwords keeps doing so. The plan must say which block, before apply.
func TestPlanNotesWeakMatchBlock(t *testing.T) {
	env := sshRoot(t, true)
	main := hosttest.Read(t, env, MainConfig)
	hosttest.Write(t, env, MainConfig, main+"Match Address 10.0.0.0/8\n    PasswordAuthentication yes\n")
	line := strings.Count(main, "\n") + 2
	plan, err := engine(t, env).Plan(context.Background(), baseline(t))
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(plan.Modules[0].Notes, "\n")
	want := fmt.Sprintf("passwordauthentication is yes for matching connections, policy wants no (sshd -T -C user=ctsec-audit,host=audit.invalid,addr=10.0.0.1,laddr=192.0.2.2,lport=22); ctsec does not edit Match blocks: change %s:%d by hand", MainConfig, line)
	if !strings.Contains(notes, want) {
		t.Errorf("notes:\n%s\nwant %q", notes, want)
	}
	// Without the Match block there is nothing to say.
	hosttest.Write(t, env, MainConfig, main)
	plan, err = engine(t, env).Plan(context.Background(), baseline(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Modules[0].Notes) != 0 {
		t.Errorf("notes without a Match block: %q", plan.Modules[0].Notes)
	}
}
