package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/compose"
	"github.com/ctsec/ctsec/internal/testenv"
)

func TestComposeKB(t *testing.T) {
	out, errOut, code := ctsec(t, "compose", "kb", "memcached:1.6")
	if code != 0 || !strings.Contains(out, "USER memcache") || !strings.Contains(out, "docker-library/memcached") {
		t.Errorf("kb memcached: exit %d %q %q", code, out, errOut)
	}
	out, _, code = ctsec(t, "compose", "kb", "--format", "json")
	var r struct {
		Data struct{ Entries []struct{ Images []string } }
	}
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || len(r.Data.Entries) < 20 {
		t.Errorf("kb json: exit %d, %d entries", code, len(r.Data.Entries))
	}
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.yaml")
	os.WriteFile(ours, []byte("images:\n  - images: [billing]\n    caps: [SETUID]\n    memory: 64m\n    pids: 32\n    reason: our billing image drops to its user\n"), 0o600)
	out, _, code = ctsec(t, "compose", "kb", "--kb", ours, "registry.example/billing:2.3")
	if code != 0 || !strings.Contains(out, "our billing image") || !strings.Contains(out, ours) {
		t.Errorf("operator entry: exit %d %q", code, out)
	}
	os.Chmod(ours, 0o666)
	if _, errOut, code := ctsec(t, "compose", "kb", "--kb", ours); code != 2 || !strings.Contains(errOut, "writable by group or others") {
		t.Errorf("world-writable kb: exit %d %q", code, errOut)
	}
}

func TestComposeLearnPlan(t *testing.T) {
	out, errOut, code := ctsec(t, "compose", "learn", "--plan", "../../compose/trial/testdata/images.yml")
	if code != 0 || !strings.Contains(out, "dropper: ctsec-test/dropper:1") || !strings.Contains(out, "Nothing was started") {
		t.Errorf("learn --plan: exit %d %q %q", code, out, errOut)
	}
	if _, errOut, code := ctsec(t, "compose", "learn", "--plan", "--service", "nope", "../../compose/trial/testdata/images.yml"); code != 2 || !strings.Contains(errOut, "no such service") {
		t.Errorf("unknown service: exit %d %q", code, errOut)
	}
}

// TestComposeHardenUsesFacts: harden reads FILE.facts.json beside the file
// (a learnt capability set and no-new-privileges breaking), --facts none
// ignores it, and a broken facts file is refused naming its line.
func TestComposeHardenUsesFacts(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yml")
	os.WriteFile(file, []byte("services:\n  app:\n    image: example/app:1\n"), 0o644)
	facts := &compose.Facts{Version: compose.FactsVersion, Services: map[string]compose.ServiceFacts{"app": {Learnt: &compose.LearntFacts{
		Caps: []string{"CHOWN"}, Writes: []compose.Write{}, NoNewPrivileges: "breaks", NoNewPrivilegesEvidence: "exit 1", CapsEvidence: []string{}}}}}
	b, _ := facts.Marshal()
	os.WriteFile(compose.FactsFile(file), b, 0o644)
	out, errOut, code := ctsec(t, "compose", "harden", "--level", "strict", file)
	if code != 0 || !strings.Contains(out, "learnt: the trial needed CHOWN") || strings.Contains(out, "no-new-privileges") ||
		!strings.Contains(out, "read_only: true") || !strings.Contains(errOut, "no-new-privileges not added: the trial broke with it") {
		t.Errorf("with facts: exit %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = ctsec(t, "compose", "harden", "--facts", "none", file)
	if code != 0 || strings.Contains(out, "learnt") || !strings.Contains(out, "no-new-privileges") {
		t.Errorf("--facts none: exit %d\n%s", code, out)
	}
	os.WriteFile(compose.FactsFile(file), []byte("{\"version\": 1,\n \"services\": {\"app\": {\"learnt\": {\"caps\": \"CHOWN\"}}}}\n"), 0o644)
	if _, errOut, code := ctsec(t, "compose", "harden", file); code != 2 || !strings.Contains(errOut, "compose.yml.facts.json:2:") {
		t.Errorf("broken facts: exit %d %q", code, errOut)
	}
	if _, errOut, code := ctsec(t, "compose", "harden", "--facts", filepath.Join(dir, "missing.json"), file); code != 2 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing --facts: exit %d %q", code, errOut)
	}
}

func TestComposeAuditEnvFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yml")
	os.WriteFile(file, []byte("services:\n  a:\n    image: x:1\n    volumes:\n      - ${SOCK}:/var/run/docker.sock\n"), 0o644)
	env := filepath.Join(dir, "prod.env")
	os.WriteFile(env, []byte("SOCK=/var/run/docker.sock\n"), 0o644)
	out, _, code := ctsec(t, "compose", "audit", "--format", "json", file)
	if code != 1 || !strings.Contains(out, "cannot tell what ${SOCK} mounts") {
		t.Errorf("without a value: exit %d %s", code, out)
	}
	out, _, code = ctsec(t, "compose", "audit", "--format", "json", "--env-file", env, file)
	if code != 1 || !strings.Contains(out, `"severity": "critical"`) || !strings.Contains(out, "mounts /var/run/docker.sock (${SOCK})") {
		t.Errorf("with --env-file: exit %d %s", code, out)
	}
}

// TestComposeLearnCLI: learn through the command on the real engine writes
// the facts file beside the compose file, and harden then uses it.
func TestComposeLearnCLI(t *testing.T) {
	testenv.Docker(t)
	testenv.ServiceImage(t, testenv.WritesEtcImage)
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yml")
	os.WriteFile(file, []byte("services:\n  etc:\n    image: "+testenv.WritesEtcImage+"\n"), 0o644)
	out, errOut, code := ctsec(t, "compose", "learn", "--duration", "3s", file)
	if code != 0 || !strings.Contains(out, "etc") || !strings.Contains(errOut, "will run etc") {
		t.Fatalf("learn: exit %d\n%s\n%s", code, out, errOut)
	}
	f, err := compose.ReadFacts(compose.FactsFile(file))
	if err != nil || f == nil || f.Services["etc"].Learnt == nil {
		t.Fatalf("facts: %v %+v", err, f)
	}
	out, _, code = ctsec(t, "compose", "harden", "--level", "strict", file)
	if code != 0 || !strings.Contains(out, "- /etc/app") || !strings.Contains(out, "learnt") {
		t.Errorf("harden from learnt facts: exit %d\n%s", code, out)
	}
}
