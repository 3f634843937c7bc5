package main

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/compose/portainer"
	"github.com/ctsec/ctsec/compose/portainer/portainertest"
	"github.com/ctsec/ctsec/internal/testenv"
)

const testKey = "ptr_CMDTESTKEY0123456789"

// fakePortainer starts the documented-API fake (Portainer cannot run here)
// and returns its URL and a CA file trusting its certificate.
func fakePortainer(t *testing.T) (*portainertest.Server, string, string) {
	srv := portainertest.New(t, testKey)
	srv.Add(portainer.Stack{ID: 7, Name: "shop", Type: portainer.TypeCompose, EndpointID: 2,
		Env: []portainer.EnvVar{{Name: "PG_PASS", Value: "x"}}}, "services:\n  db:\n    image: postgres:16\n    ports:\n      - \"5432:5432\"\n")
	srv.Add(portainer.Stack{ID: 8, Name: "git", Type: portainer.TypeCompose, EndpointID: 2, GitConfig: []byte(`{"URL":"https://g/x"}`)},
		"services:\n  a:\n    image: redis:7\n")
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	t.Setenv("PORTAINER_API_KEY", testKey)
	return srv, srv.URL, ca
}

func TestPortainerCommands(t *testing.T) {
	srv, url, ca := fakePortainer(t)
	base := []string{"portainer", "--url", url, "--ca", ca}
	check := func(args []string, wantCode int, wantOut, wantErr string) string {
		t.Helper()
		out, errOut, code := ctsec(t, append(append([]string{}, base[:1]...), append(args, base[1:]...)...)...)
		if code != wantCode || !strings.Contains(out, wantOut) || !strings.Contains(errOut, wantErr) {
			t.Errorf("%v: exit %d out %q err %q", args, code, out, errOut)
		}
		if strings.Contains(out+errOut, testKey) {
			t.Errorf("%v: API key printed", args)
		}
		return out
	}
	check([]string{"stacks"}, 0, "shop", "")
	check([]string{"stacks", "--format", "json"}, 0, `"git": true`, "")
	check([]string{"pull", "7"}, 0, "postgres:16", "")
	check([]string{"audit", "7"}, 1, "compose/db-port-exposed", "")
	check([]string{"harden", "7"}, 0, "+    cap_drop:", "")
	if strings.Contains(srv.File(7), "cap_drop") {
		t.Fatal("harden without --push changed the stack")
	}
	state := t.TempDir()
	check([]string{"harden", "7", "--write", "--state-dir", state}, 0, "+    cap_drop:", "updated stack 7")
	if !strings.Contains(srv.File(7), "cap_drop") || srv.Stack(7).Env[0].Value != "x" {
		t.Fatal("push did not update the stack with its env")
	}
	check([]string{"harden", "7", "--write", "--state-dir", state}, 0, "", "nothing to change")
	check([]string{"harden", "8", "--write", "--state-dir", state}, 2, "", "deployed from Git")
	// Restore the backup with push.
	backups, _ := filepath.Glob(filepath.Join(state, "portainer", "*", "stack-7-*", "stack.yml"))
	if len(backups) != 1 {
		t.Fatalf("backups: %v", backups)
	}
	check([]string{"push", "7", backups[0]}, 0, "-    cap_drop:", "")
	check([]string{"push", "7", backups[0], "--write", "--state-dir", state}, 0, "", "updated stack 7")
	if strings.Contains(srv.File(7), "cap_drop") {
		t.Error("restore did not restore")
	}

	// Key handling: never from argv, a wrong key is a clear error without it.
	t.Setenv("PORTAINER_API_KEY", "")
	check([]string{"stacks"}, 2, "", "PORTAINER_API_KEY")
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte("wrong-"+testKey+"\n"), 0o600)
	check([]string{"stacks", "--api-key-file", keyFile}, 2, "", "401 Unauthorized")
	// Without --ca the self-signed certificate is refused.
	t.Setenv("PORTAINER_API_KEY", testKey)
	out, errOut, code := ctsec(t, "portainer", "stacks", "--url", url)
	if code != 2 || !strings.Contains(errOut, "certificate") || strings.Contains(out+errOut, testKey) {
		t.Errorf("unverified TLS: exit %d %q", code, errOut)
	}
}

func TestPortainerTemplates(t *testing.T) {
	corpus := testenv.Shared(t, "corpus")
	out, errOut, code := ctsec(t, "portainer", "templates", "--format", "json",
		filepath.Join(corpus, "portainer-templates", "v3", "templates.json"),
		"--stack-dir", filepath.Join(corpus, "compose", "portainer-templates", "v3"))
	if code != 1 || !strings.Contains(out, `"compose/docker-socket"`) || !strings.Contains(out, "Sematext") {
		t.Errorf("exit %d err %q", code, errOut)
	}
	if _, errOut, code := ctsec(t, "portainer", "templates", "../../compose/testdata/harden/crlf.yml"); code != 2 || !strings.Contains(errOut, "not a Portainer templates file") {
		t.Errorf("compose file as templates: exit %d %q", code, errOut)
	}
}

// TestPortainerStackNameCannotForgeDiff: a stack name comes from the API
// and lands in the diff header; a newline in it must not start lines of
// its own that a reviewer would read as part of the diff.
func TestPortainerStackNameCannotForgeDiff(t *testing.T) {
	srv, url, ca := fakePortainer(t)
	srv.Add(portainer.Stack{ID: 9, Name: "x\n+++ b/forged.yml\n@@ -1 +1 @@\n+    privileged: true", Type: portainer.TypeCompose, EndpointID: 2},
		"services:\n  a:\n    image: redis:7\n")
	out, errOut, code := ctsec(t, "portainer", "harden", "9", "--url", url, "--ca", ca)
	if code != 0 || !strings.Contains(out, "+    cap_drop:") {
		t.Fatalf("harden: exit %d %q %q", code, out, errOut)
	}
	for _, l := range strings.Split(out, "\n") {
		if l == "+++ b/forged.yml" || l == "+    privileged: true" {
			t.Errorf("stack name forged a diff line %q:\n%s", l, out)
		}
	}
	if !strings.Contains(out, `\n+++ b/forged.yml\n@@ -1 +1 @@\n+    privileged: true`) {
		t.Errorf("stack name not quoted in the header:\n%s", out)
	}
}

// TestPortainerAuditStackNameIsInert: a stack name holding ESC and a
// newline reaches the findings' file name; `portainer audit` must print it
// without the escape sequence or a line break of its own (issue 18.6), in
// text and in every other format a terminal may show.
func TestPortainerAuditStackNameIsInert(t *testing.T) {
	srv, url, ca := fakePortainer(t)
	srv.Add(portainer.Stack{ID: 9, Name: "evil\x1b[2J\x1b]0;owned\x07\nmedium  compose/forged  x.yml:1:1", Type: portainer.TypeCompose, EndpointID: 2},
		"services:\n  db:\n    image: postgres:16\n    ports:\n      - \"5432:5432\"\n")
	for _, format := range []string{"text", "markdown", "junit", "sarif", "json"} {
		out, errOut, code := ctsec(t, "portainer", "audit", "9", "--url", url, "--ca", ca, "--format", format)
		if code != 1 {
			t.Fatalf("%s: exit %d %q", format, code, errOut)
		}
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%s: escape sequence printed raw:\n%q", format, out)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "medium  compose/forged") {
				t.Errorf("%s: the stack name started a line of its own: %q", format, l)
			}
		}
	}
}
