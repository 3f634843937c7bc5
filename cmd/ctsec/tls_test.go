package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctsec/ctsec/cert"
	"github.com/ctsec/ctsec/cert/certtest"
	"github.com/ctsec/ctsec/internal/testenv"
)

// The certificate step end to end through the CLI, against a TLS service
// in a container run as uid 70: the plan first, a mismatched key refused
// with nothing touched, the deploy with PostgreSQL's owner and modes, the
// certbot hook installed and run as certbot runs it, and the journal's
// rollback of the hook's deploy.
func TestTLSDeployEndToEnd(t *testing.T) {
	testenv.Root(t)
	testenv.Tool(t, "openssl")
	// The hook runs the real binary, which reads the system clock, while
	// this process reads the tests' clock: the chain is valid at both.
	testNow, wall := testenv.Now(t), time.Now() // wall clock: the binary's
	from, to := minTime(testNow, wall), maxTime(testNow, wall)
	ca := certtest.NewCA(t, from.AddDate(-1, 0, 0), to.AddDate(10, 0, 0))
	first := ca.Leaf("db.example.test", from.Add(-time.Hour), to.AddDate(0, 3, 0))
	renewed := ca.Leaf("db.example.test", from.Add(-time.Minute), to.AddDate(0, 3, 0))
	svc := certtest.StartService(t)
	state := t.TempDir()
	args := []string{"tls", "deploy", "--ca", ca.Root, "--container", svc.Container, "--volume", svc.Volume,
		"--uid", "70", "--gid", "70", "--port", "8443", "--starttls", "postgres", "--state-dir", state, "--timeout", "30s"}
	mount := volumePath(t, svc.Volume)

	out, errOut, code := ctsec(t, append(args, "--cert-dir", first)...)
	if code != 0 || !strings.Contains(out, "dry run") || !strings.Contains(out, "key matches") {
		t.Fatalf("plan: exit %d %q\n%s", code, errOut, out)
	}
	if _, err := os.Stat(filepath.Join(mount, "server.key")); !os.IsNotExist(err) {
		t.Fatal("the plan wrote the key")
	}
	_, errOut, code = ctsec(t, append(args, "--cert-dir", first, "--key", ca.OtherKey(), "--write")...)
	if code != 1 || !strings.Contains(errOut, "does not belong to the certificate") || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
		t.Fatalf("mismatched key: exit %d %q", code, errOut)
	}
	if entries, _ := os.ReadDir(mount); len(entries) != 0 {
		t.Fatalf("a refused deploy left %d files in the volume", len(entries))
	}
	out, errOut, code = ctsec(t, append(args, "--cert-dir", first, "--write", "--format", "json")...)
	var rep struct {
		Data struct {
			Plan struct {
				Verify string
				Files  []struct {
					HostPath string `json:"host_path"`
				}
			}
			Result struct{ Change string }
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Data.Result.Change == "" {
		t.Fatalf("deploy: exit %d %q\n%s", code, errOut, out)
	}
	for name, mode := range map[string]os.FileMode{"server.crt": 0o644, "server.key": 0o600} {
		st, err := os.Stat(filepath.Join(mount, name))
		if err != nil || st.Mode().Perm() != mode || fileUID(st) != 70 {
			t.Errorf("%s: %v, want mode %04o and uid 70", name, st, mode)
		}
	}
	if out, _, _ := ctsec(t, append(args, "--cert-dir", first, "--write")...); !strings.Contains(out, "nothing to do") {
		t.Errorf("second deploy: %s", out)
	}

	// certbot's deploy hook, installed under a root, run as certbot runs
	// it: for another lineage it does nothing, for its own it deploys.
	bin := buildCtsec(t)
	root := t.TempDir()
	hookArgs := append([]string{"tls", "hook", "install", "pg", "--cert-dir", renewed, "--root", root, "--self", bin, "--reload", "kill -HUP 1"}, args[2:]...)
	if _, errOut, code := ctsec(t, hookArgs...); code != 0 {
		t.Fatalf("hook plan: exit %d %q", code, errOut)
	}
	out, errOut, code = ctsec(t, append(hookArgs, "--write")...)
	hook := filepath.Join(root, cert.HookDir, "ctsec-pg")
	if st, err := os.Stat(hook); code != 0 || err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("hook install: exit %d %q %v\n%s", code, errOut, err, out)
	}
	run := func(lineage string) string {
		cmd := exec.Command(hook)
		cmd.Env = append(os.Environ(), "RENEWED_LINEAGE="+lineage, "RENEWED_DOMAINS=db.example.test")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("hook for %s: %v\n%s", lineage, err, b)
		}
		return string(b)
	}
	if out := run("/etc/letsencrypt/live/other.example.test"); out != "" {
		t.Errorf("the hook acted for another lineage: %s", out)
	}
	out = run(renewed)
	if !strings.Contains(out, "deployed (change") {
		t.Fatalf("the hook's deploy: %s", out)
	}
	want := fingerprint(t, renewed)
	if got := presented(t, svc); got != want {
		t.Fatalf("after the hook the service presents %s, want the renewed %s", got, want)
	}

	// Roll the hook's deploy back by id: the first certificate is back in
	// use (the rollback reloads as the deploy did).
	hist, _, _ := ctsec(t, "history", "--state-dir", state, "--kind", "tls", "--format", "json")
	var h struct {
		Data struct {
			Changes []struct{ ID, Command string }
		}
	}
	json.Unmarshal([]byte(hist), &h)
	// The hook's binary dates its change by the system clock, this process
	// by the tests': find it by what it is, not by its place in time.
	var last string
	deploys := 0
	for _, c := range h.Data.Changes {
		if strings.HasPrefix(c.Command, "tls deploy") {
			deploys++
			if c.ID != rep.Data.Result.Change {
				last = c.ID
			}
		}
	}
	if deploys != 2 || last == "" {
		t.Fatalf("history: %s", hist)
	}
	if out, errOut, code := ctsec(t, "rollback", last, "--state-dir", state, "--yes"); code != 0 || !strings.Contains(out, "kill -HUP 1") {
		t.Fatalf("rollback of the hook's deploy: exit %d %q\n%s", code, errOut, out)
	}
	if got := presented(t, svc); got != fingerprint(t, first) {
		t.Errorf("after the rollback the service presents %s, want the first certificate", got)
	}
	// The hook itself is in the journal too, and rollback removes it.
	hist, _, _ = ctsec(t, "history", "--state-dir", state, "--format", "json")
	json.Unmarshal([]byte(hist), &h)
	for _, c := range h.Data.Changes {
		if c.Command == "tls hook install pg" {
			if _, errOut, code := ctsec(t, "rollback", c.ID, "--state-dir", state, "--yes"); code != 0 {
				t.Fatalf("rollback of the hook: %d %q", code, errOut)
			}
		}
	}
	if _, err := os.Stat(hook); !os.IsNotExist(err) {
		t.Errorf("the rollback left the hook: %v", err)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func volumePath(t *testing.T, volume string) string {
	out, err := exec.Command("docker", "volume", "inspect", "-f", "{{.Mountpoint}}", volume).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func fingerprint(t *testing.T, live string) string {
	p, err := cert.Load(cert.Sources{Dir: live}, cert.LoadOptions{Roots: nil, CAFile: filepath.Join(filepath.Dir(live), "root.pem"), Now: testenv.Now(t)})
	if err != nil {
		t.Fatal(err)
	}
	return p.SHA256
}

// presented is the certificate the service presents now, asked at its
// current published port.
func presented(t *testing.T, svc certtest.Service) string {
	out, err := exec.Command("docker", "port", svc.Container, "8443/tcp").Output()
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSpace(strings.Split(string(out), "\n")[0])
	for range 40 {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		p, err := cert.Probe(ctx, addr, "postgres", "")
		cancel()
		if err == nil {
			return p.SHA256
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("the service at %s does not answer", addr)
	return ""
}

func fileUID(st os.FileInfo) int { return int(st.Sys().(*syscall.Stat_t).Uid) }
