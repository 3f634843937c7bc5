package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/internal/testenv"
)

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func oneLineErr(t *testing.T, errOut, want string) {
	t.Helper()
	if !strings.Contains(errOut, want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
		t.Errorf("stderr %q: want one line containing %q", errOut, want)
	}
}

func TestApparmorGenValidate(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	dir := t.TempDir()
	spec := writeFile(t, filepath.Join(dir, "web.yaml"), "filesystem:\n  writable: [/var/cache/app/**]\ncapabilities:\n  allow: [chown]\n")
	out, errOut, code := ctsec(t, "apparmor", "gen", "web", "--spec", spec, "-o", filepath.Join(dir, "web.apparmor"))
	if code != 0 || !strings.Contains(out, "apparmor=ctsec-web") {
		t.Fatalf("gen: %d %q %q", code, out, errOut)
	}
	out, _, code = ctsec(t, "apparmor", "validate", "--format", "json", filepath.Join(dir, "web.apparmor"))
	var rep struct {
		Findings []struct {
			Rule string
			Line int
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Findings) != 0 {
		t.Fatalf("validate generated: %d %s", code, out)
	}
	bad := writeFile(t, filepath.Join(dir, "bad.apparmor"), "profile bad {\n  /x r,\n  network inet6 dgram udp,\n}\n")
	out, _, code = ctsec(t, "apparmor", "validate", "--format", "json", bad)
	if code != 1 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Findings) != 1 || rep.Findings[0].Line != 3 || rep.Findings[0].Rule != "apparmor/parser" {
		t.Errorf("validate bad: %d %s", code, out)
	}
	out, _, code = ctsec(t, "apparmor", "validate", writeFile(t, filepath.Join(dir, "syntax"), "profile a {\n  /x r\n}\n"))
	if code != 1 || !strings.Contains(out, "syntax:2:3") {
		t.Errorf("validate syntax: %d %s", code, out)
	}
	_, errOut, code = ctsec(t, "apparmor", "validate", filepath.Join(dir, "missing"))
	if code != 2 {
		t.Errorf("missing file: exit %d", code)
	}
	oneLineErr(t, errOut, "missing")
	_, errOut, code = ctsec(t, "apparmor", "gen", "Web/../x")
	if code != 2 {
		t.Errorf("bad name: exit %d", code)
	}
	oneLineErr(t, errOut, "service name")
	out, _, code = ctsec(t, "apparmor", "template", "strict", "--name", "ctsec-x")
	if code != 0 || !strings.Contains(out, "deny network raw,") {
		t.Errorf("template strict: %d", code)
	}
}

func TestApparmorLoadStatusUnderRoot(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	dir := t.TempDir()
	_, _, code := ctsec(t, "apparmor", "gen", "web", "-o", filepath.Join(dir, "web.apparmor"))
	if code != 0 {
		t.Fatal("gen failed")
	}
	src := filepath.Join(dir, "web.apparmor")

	// No AppArmor under the root: status says so in one line, exit 2.
	bare := t.TempDir()
	_, errOut, code := ctsec(t, "apparmor", "status", "--root", bare, "--no-docker")
	if code != 2 {
		t.Errorf("status: exit %d", code)
	}
	oneLineErr(t, errOut, "AppArmor is not enabled")
	// 18.7: a root other than / is never loaded, so its plan needs no
	// AppArmor (it exited 2 "AppArmor is not enabled"), and neither does
	// installing into it.
	out, errOut, code := ctsec(t, "apparmor", "load", "--root", bare, "--state-dir", t.TempDir(), src)
	if code != 0 || !strings.Contains(out, "would install") || !strings.Contains(flat(out), "never loaded") {
		t.Errorf("plan under a root without AppArmor: exit %d %q\n%s", code, errOut, out)
	}
	if _, err := os.Stat(filepath.Join(bare, "etc")); err == nil {
		t.Error("the plan changed the root")
	}
	out, errOut, code = ctsec(t, "apparmor", "load", "--write", "--root", bare, "--state-dir", t.TempDir(), src)
	if code != 0 || !strings.Contains(out, "not loaded") {
		t.Errorf("write under a root without AppArmor: exit %d %q\n%s", code, errOut, out)
	}
	if _, err := os.Stat(filepath.Join(bare, "etc/apparmor.d/containers/ctsec-web")); err != nil {
		t.Errorf("not installed: %v", err)
	}
	// On this host without AppArmor, --write refuses in one line, while the
	// plan still shows what it would do.
	if !apparmor.DetectSupport(t.Context(), "/").KernelEnabled {
		_, errOut, code = ctsec(t, "apparmor", "load", "--write", "--state-dir", t.TempDir(), src)
		if code != 2 {
			t.Errorf("load --write on / without AppArmor: exit %d", code)
		}
		oneLineErr(t, errOut, "AppArmor is not enabled")
		out, _, code = ctsec(t, "apparmor", "load", src)
		if code != 0 || !strings.Contains(out, "--write would refuse") {
			t.Errorf("plan on / without AppArmor: exit %d\n%s", code, out)
		}
	}

	root := t.TempDir()
	writeFile(t, filepath.Join(root, "sys/module/apparmor/parameters/enabled"), "Y\n")
	writeFile(t, filepath.Join(root, "sys/kernel/security/apparmor/profiles"), "docker-default (enforce)\n")
	state := t.TempDir()
	out, _, code = ctsec(t, "apparmor", "load", "--root", root, "--state-dir", state, src)
	if code != 0 || !strings.Contains(out, "would install") || !strings.Contains(out, "+profile \"ctsec-web\"") || !strings.Contains(out, "dry run") {
		t.Fatalf("plan: %d\n%s", code, out)
	}
	out, _, code = ctsec(t, "apparmor", "load", "--root", root, "--state-dir", state, "--write", "--enforce", "--format", "json", src)
	var rep struct {
		Findings []any `json:"findings"`
		Data     struct {
			Written  bool   `json:"written"`
			BackupID string `json:"backup"`
			Actions  []struct {
				Target string `json:"target"`
				Mode   string `json:"mode"`
			} `json:"actions"`
		} `json:"data"`
	}
	res := &rep.Data
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Findings == nil || !res.Written || res.Actions[0].Mode != "enforce" || res.BackupID == "" {
		t.Fatalf("write: %d %s", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/apparmor.d/containers/ctsec-web")); err != nil || strings.Contains(string(b), "complain") {
		t.Errorf("installed: %v\n%s", err, b)
	}
	out, _, code = ctsec(t, "apparmor", "status", "--root", root, "--no-docker")
	if code != 0 || !strings.Contains(out, "1 profiles loaded") || !strings.Contains(out, "ctsec-web") || !strings.Contains(out, "NOT LOADED") {
		t.Errorf("status: %d\n%s", code, out)
	}
	// JSON: the report object, the installed-but-not-loaded file a low finding.
	out, _, code = ctsec(t, "apparmor", "status", "--root", root, "--no-docker", "--format", "json", "--fail-on", "low")
	var st struct {
		Findings []struct{ Rule, Severity, File string }
		Data     struct {
			OnDisk []struct{ File string } `json:"on_disk"`
		}
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 1 || len(st.Findings) != 1 ||
		st.Findings[0].Rule != "apparmor/profile-not-loaded" || st.Findings[0].Severity != "low" || len(st.Data.OnDisk) != 1 {
		t.Errorf("status json: exit %d %v %+v\n%s", code, err, st, out)
	}
	_, errOut, code = ctsec(t, "apparmor", "load", "--complain", "--enforce", src)
	if code != 2 {
		t.Errorf("--complain --enforce: exit %d", code)
	}
	oneLineErr(t, errOut, "exclude")
}

// TestProfileGenAppArmor is the AppArmor half of `ctsec profile gen`: both
// files are written, both security_opt lines printed, and the AppArmor
// profile validates.
func TestProfileGenAppArmor(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	dir, state := t.TempDir(), t.TempDir()
	spec := writeFile(t, filepath.Join(t.TempDir(), "api.yaml"), "template: strict\nnetwork:\n  protocols: [tcp]\n")
	out, errOut, code := ctsec(t, "profile", "gen", "api", "--spec", spec, "--dir", dir, "--state-dir", state)
	if code != 0 || !strings.Contains(out, "security_opt:\n  - seccomp="+filepath.Join(dir, "api.seccomp.json")+"\n  - apparmor=ctsec-api\n") {
		t.Fatalf("gen: exit %d\n%s%s", code, out, errOut)
	}
	prof := filepath.Join(dir, "api.apparmor")
	data, err := os.ReadFile(prof)
	if err != nil || !strings.Contains(string(data), `profile "ctsec-api" flags=(attach_disconnected,mediate_deleted,complain)`) || !strings.Contains(string(data), "deny network raw,") {
		t.Fatalf("profile: %v\n%s", err, data)
	}
	if _, _, code := ctsec(t, "apparmor", "validate", prof); code != 0 {
		t.Errorf("generated profile does not validate (exit %d)", code)
	}
	// --enforce changes the file: refused without --force, then replaced with a backup.
	if _, errOut, code := ctsec(t, "profile", "gen", "api", "--spec", spec, "--enforce", "--dir", dir, "--state-dir", state); code != 1 || !strings.Contains(errOut, "use --force") {
		t.Errorf("enforce without --force: exit %d %q", code, errOut)
	}
	if _, errOut, code := ctsec(t, "profile", "gen", "api", "--spec", spec, "--enforce", "--dir", dir, "--state-dir", state, "--force"); code != 0 {
		t.Fatalf("enforce --force: exit %d %q", code, errOut)
	}
	if data, _ := os.ReadFile(prof); strings.Contains(string(data), "complain") {
		t.Error("--enforce left the profile in complain mode")
	}
	bad := writeFile(t, filepath.Join(t.TempDir(), "bad.yaml"), "filesystem:\n  writable: [relative]\n")
	_, errOut, code = ctsec(t, "profile", "gen", "other", "--spec", bad, "--dir", dir)
	if code != 2 {
		t.Errorf("bad spec: exit %d", code)
	}
	oneLineErr(t, errOut, "bad.yaml:2: filesystem.writable[0]")
	if _, err := os.Stat(filepath.Join(dir, "other.seccomp.json")); err == nil {
		t.Error("a refused gen wrote the seccomp file")
	}
}

// TestApparmorGenComplainSince: generated complain-mode profiles carry the
// date the review counts days in complain mode from; regenerating keeps it
// (no change, no --force needed), and a file with other content is not
// replaced without --force.
func TestApparmorGenComplainSince(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	dir := t.TempDir()
	state := t.TempDir()
	out, errOut, code := ctsec(t, "profile", "gen", "web", "--dir", dir, "--state-dir", state)
	if code != 0 {
		t.Fatalf("profile gen: %d %q", code, errOut)
	}
	path := filepath.Join(dir, "web.apparmor")
	gen, _ := os.ReadFile(path)
	marker := regexp.MustCompile(`# ctsec: complain since \S+`)
	if !marker.Match(gen) {
		t.Fatalf("no complain-since header:\n%s", gen)
	}
	// As if generated weeks ago: a rerun keeps that date.
	weeksAgo := testenv.Now(t).AddDate(0, 0, -30).Format(time.RFC3339)
	first := marker.ReplaceAll(gen, []byte("# ctsec: complain since "+weeksAgo))
	writeFile(t, path, string(first))
	out, errOut, code = ctsec(t, "profile", "gen", "web", "--dir", dir, "--state-dir", state, "--format", "json")
	if code != 0 || !strings.Contains(out, `"unchanged"`) {
		t.Fatalf("profile gen again: %d %q\n%s", code, errOut, out)
	}
	if again, _ := os.ReadFile(path); string(again) != string(first) {
		t.Errorf("rerun changed the profile:\n%s", again)
	}
	out, _, code = ctsec(t, "apparmor", "gen", "web", "-o", path)
	if code != 0 || !strings.HasPrefix(out, "unchanged ") {
		t.Errorf("apparmor gen over the same profile: %d\n%s", code, out)
	}
	_, errOut, code = ctsec(t, "apparmor", "gen", "web", "--base", "strict", "-o", path)
	if code != 1 {
		t.Errorf("apparmor gen over a different profile: exit %d", code)
	}
	oneLineErr(t, errOut, "--force")
	if again, _ := os.ReadFile(path); string(again) != string(first) {
		t.Error("a refused gen changed the file")
	}
	out, _, code = ctsec(t, "apparmor", "gen", "web", "--base", "strict", "-o", path, "--force", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "backed up as change") {
		t.Errorf("apparmor gen --force: %d\n%s", code, out)
	}
	if entries, _ := os.ReadDir(state); len(entries) == 0 {
		t.Error("no backup of the replaced profile")
	}
}
