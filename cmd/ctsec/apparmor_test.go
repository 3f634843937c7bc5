package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

	// No AppArmor under the root: one line, exit 2, nothing installed.
	bare := t.TempDir()
	for _, args := range [][]string{
		{"apparmor", "load", "--write", "--root", bare, "--state-dir", t.TempDir(), src},
		{"apparmor", "status", "--root", bare, "--no-docker"},
	} {
		_, errOut, code := ctsec(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d", args, code)
		}
		oneLineErr(t, errOut, "AppArmor is not enabled")
	}
	if _, err := os.Stat(filepath.Join(bare, "etc")); err == nil {
		t.Error("load changed a root without AppArmor")
	}

	root := t.TempDir()
	writeFile(t, filepath.Join(root, "sys/module/apparmor/parameters/enabled"), "Y\n")
	writeFile(t, filepath.Join(root, "sys/kernel/security/apparmor/profiles"), "docker-default (enforce)\n")
	state := t.TempDir()
	out, _, code := ctsec(t, "apparmor", "load", "--root", root, "--state-dir", state, src)
	if code != 0 || !strings.Contains(out, "would install") || !strings.Contains(out, "+profile \"ctsec-web\"") || !strings.Contains(out, "dry run") {
		t.Fatalf("plan: %d\n%s", code, out)
	}
	out, _, code = ctsec(t, "apparmor", "load", "--root", root, "--state-dir", state, "--write", "--enforce", "--format", "json", src)
	var res struct {
		Written  bool   `json:"written"`
		BackupID string `json:"backup_id"`
		Actions  []struct {
			Target string `json:"target"`
			Mode   string `json:"mode"`
		} `json:"actions"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || !res.Written || res.Actions[0].Mode != "enforce" || res.BackupID == "" {
		t.Fatalf("write: %d %s", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/apparmor.d/containers/ctsec-web")); err != nil || strings.Contains(string(b), "complain") {
		t.Errorf("installed: %v\n%s", err, b)
	}
	out, _, code = ctsec(t, "apparmor", "status", "--root", root, "--no-docker")
	if code != 0 || !strings.Contains(out, "1 profiles loaded") || !strings.Contains(out, "ctsec-web") || !strings.Contains(out, "NOT LOADED") {
		t.Errorf("status: %d\n%s", code, out)
	}
	_, errOut, code := ctsec(t, "apparmor", "load", "--complain", "--enforce", src)
	if code != 2 {
		t.Errorf("--complain --enforce: exit %d", code)
	}
	oneLineErr(t, errOut, "exclude")
}
