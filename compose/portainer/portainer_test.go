package portainer_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctsec/ctsec/compose"
	"github.com/ctsec/ctsec/compose/portainer"
	"github.com/ctsec/ctsec/compose/portainer/portainertest"
	"github.com/ctsec/ctsec/internal/testenv"
)

const key = "ptr_SECRETKEYVALUE123"

const stackFile = "# web stack\nservices:\n  web:\n    image: nginx:1.27\n    ports:\n      - \"8080:80\"\n"

func setup(t *testing.T) (*portainertest.Server, *portainer.Client) {
	t.Helper()
	srv := portainertest.New(t, key)
	srv.Add(portainer.Stack{ID: 1, Name: "web", Type: portainer.TypeCompose, EndpointID: 3,
		Env: []portainer.EnvVar{{Name: "TAG", Value: "1.27"}, {Name: "DB_PASS", Value: "s3cret"}}}, stackFile)
	srv.Add(portainer.Stack{ID: 2, Name: "gitops", Type: portainer.TypeCompose, EndpointID: 3,
		GitConfig: []byte(`{"URL":"https://git.example/x.git","ConfigFilePath":"compose.yml"}`)}, stackFile)
	srv.Add(portainer.Stack{ID: 3, Name: "swarmy", Type: portainer.TypeSwarm, EndpointID: 4, SwarmID: "abc", AdditionalFiles: []string{"override.yml"}}, stackFile)
	c, err := portainer.New(srv.URL, key, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func TestListAndFetch(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	all, err := c.Stacks(ctx, 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("Stacks = %v, %v", all, err)
	}
	ep3, err := c.Stacks(ctx, 3)
	if err != nil || len(ep3) != 2 {
		t.Fatalf("Stacks(3) = %v, %v", ep3, err)
	}
	if !ep3[1].GitBacked() || ep3[0].GitBacked() {
		t.Errorf("GitBacked wrong: %+v", ep3)
	}
	f, err := c.StackFile(ctx, 1)
	if err != nil || f != stackFile {
		t.Fatalf("StackFile = %q, %v", f, err)
	}
	for _, r := range srv.Requests {
		if r.APIKey != key {
			t.Errorf("request %s %s without the key header", r.Method, r.Path)
		}
		if strings.Contains(r.Query, key) {
			t.Errorf("key in query string: %s", r.Query)
		}
	}
}

func TestErrorsNeverCarryTheKey(t *testing.T) {
	srv, _ := setup(t)
	bad, _ := portainer.New(srv.URL, "wrong-"+key, srv.Client())
	_, err := bad.Stacks(context.Background(), 0)
	var pe *portainer.Error
	if !errors.As(err, &pe) || pe.Status != 401 {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), key) {
		t.Errorf("error carries the key: %v", err)
	}
	good, _ := portainer.New(srv.URL, key, srv.Client())
	_, err = good.Stack(context.Background(), 99)
	if !errors.As(err, &pe) || pe.Status != 404 || !strings.Contains(err.Error(), "Unable to find a stack") {
		t.Fatalf("err = %v", err)
	}
	// TLS is verified: a client without the test CA must refuse the server.
	strict, _ := portainer.New(srv.URL, key, nil)
	_, err = strict.Stacks(context.Background(), 0)
	if err == nil || !strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), key) {
		t.Fatalf("unverified TLS: err = %v", err)
	}
	if _, err := portainer.New("https://user:pw@host", key, nil); err == nil {
		t.Error("credentials in URL accepted")
	}
}

func TestHardenAndPushKeepsEnv(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	plan, err := c.Harden(ctx, 1, compose.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Result.Changed() || !strings.Contains(plan.Result.Diff("a", "b"), "+    cap_drop:") {
		t.Fatalf("no hardening diff: %s", plan.Result.Diff("a", "b"))
	}
	state := t.TempDir()
	backup, err := c.Push(ctx, plan.Stack, plan.Original, string(plan.Result.Output), portainer.PushOptions{StateDir: state, Clock: testenv.Clock(t)})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.File(1); got != string(plan.Result.Output) {
		t.Errorf("stack file not updated")
	}
	st := srv.Stack(1)
	if len(st.Env) != 2 || st.Env[1].Value != "s3cret" {
		t.Errorf("env not kept: %+v", st.Env)
	}
	last := srv.Requests[len(srv.Requests)-2]
	if last.Method != "PUT" || last.Query != "endpointId=3" {
		t.Errorf("PUT request = %+v", last)
	}
	old, err := os.ReadFile(filepath.Join(backup, "stack.yml"))
	if err != nil || string(old) != stackFile {
		t.Errorf("backup = %q, %v", old, err)
	}
	if fi, _ := os.Stat(filepath.Join(backup, "stack.json")); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup settings not 0600")
	}
	// A second harden finds nothing to do.
	plan2, err := c.Harden(ctx, 1, compose.Options{})
	if err != nil || plan2.Result.Changed() {
		t.Errorf("second harden changed: %v", err)
	}
}

func TestPushRefusals(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	plan, err := c.Harden(ctx, 2, compose.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Push(ctx, plan.Stack, plan.Original, string(plan.Result.Output), portainer.PushOptions{StateDir: t.TempDir(), Clock: testenv.Clock(t)})
	if !errors.Is(err, portainer.ErrGitStack) {
		t.Fatalf("git stack pushed: %v", err)
	}
	if srv.File(2) != stackFile {
		t.Fatal("git stack changed")
	}
	// With DetachGit the user accepts losing the Git link, as Portainer does it.
	if _, err := c.Push(ctx, plan.Stack, plan.Original, string(plan.Result.Output), portainer.PushOptions{StateDir: t.TempDir(), DetachGit: true, Clock: testenv.Clock(t)}); err != nil {
		t.Fatalf("--detach-git push: %v", err)
	}
	if srv.Stack(2).GitBacked() || srv.File(2) != string(plan.Result.Output) {
		t.Error("detached push did not update the stack")
	}
	// Changed behind our back: refuse.
	plan1, _ := c.Harden(ctx, 1, compose.Options{})
	srv.Add(srv.Stack(1), stackFile+"# edited\n")
	if _, err := c.Push(ctx, plan1.Stack, plan1.Original, string(plan1.Result.Output), portainer.PushOptions{StateDir: t.TempDir(), Clock: testenv.Clock(t)}); err == nil || !strings.Contains(err.Error(), "changed in Portainer") {
		t.Fatalf("conflict not detected: %v", err)
	}
	// A failed redeploy leaves the old file and says where the backup is.
	plan1, _ = c.Harden(ctx, 1, compose.Options{})
	srv.FailPut = true
	_, err = c.Push(ctx, plan1.Stack, plan1.Original, string(plan1.Result.Output), portainer.PushOptions{StateDir: t.TempDir(), Clock: testenv.Clock(t)})
	if err == nil || !strings.Contains(err.Error(), "Failed to deploy") || !strings.Contains(err.Error(), "backed up") {
		t.Fatalf("failed PUT: %v", err)
	}
	if srv.File(1) != stackFile+"# edited\n" {
		t.Error("file changed after failed redeploy")
	}
	// Invalid content is never sent.
	if _, err := c.Push(ctx, plan1.Stack, srv.File(1), "services: [", portainer.PushOptions{StateDir: t.TempDir(), Clock: testenv.Clock(t)}); err == nil {
		t.Fatal("invalid content pushed")
	}
}

func TestSwarmStackHardenedAsSwarm(t *testing.T) {
	_, c := setup(t)
	plan, err := c.Harden(context.Background(), 3, compose.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := string(plan.Result.Output)
	if !plan.Result.Swarm || strings.Contains(out, "security_opt") || !strings.Contains(out, "deploy:") {
		t.Errorf("swarm stack not hardened as swarm:\n%s", out)
	}
	warned := false
	for _, w := range plan.Result.Warnings {
		warned = warned || strings.Contains(w.Message, "override.yml")
	}
	if !warned {
		t.Error("additional files not reported")
	}
}

func TestReadAPIKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "key")
	os.WriteFile(p, []byte(key+"\n"), 0o600)
	if k, err := portainer.ReadAPIKey(p, "X"); err != nil || k != key {
		t.Errorf("file: %q %v", k, err)
	}
	t.Setenv("CTSEC_TEST_KEY", key)
	if k, err := portainer.ReadAPIKey("", "CTSEC_TEST_KEY"); err != nil || k != key {
		t.Errorf("env: %q %v", k, err)
	}
	if _, err := portainer.ReadAPIKey("", "CTSEC_TEST_NOKEY"); err == nil {
		t.Error("no key accepted")
	}
	_ = time.Second
}

// TestKeyStaysHome: the API key never travels in clear text to another
// machine, and a redirect cannot carry it elsewhere (Go's client would
// forward X-API-Key to any host a redirect names).
func TestKeyStaysHome(t *testing.T) {
	if _, err := portainer.New("http://portainer.example:9000", key, nil); err == nil || strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "clear text") {
		t.Errorf("plain http to another host: %v", err)
	}
	for _, u := range []string{"http://127.0.0.1:9000", "http://localhost:9000", "http://[::1]:9000"} {
		if _, err := portainer.New(u, key, nil); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}

	var leaked atomic.Bool
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-API-Key") != "" {
			leaked.Store(true)
		}
		w.Write([]byte("[]"))
	}))
	defer evil.Close()
	redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil.URL+r.URL.Path, http.StatusFound)
	}))
	defer redirector.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: redirector.Certificate().Raw}), 0o644)
	hc, err := portainer.NewHTTPClient(ca, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c, err := portainer.New(redirector.URL, key, hc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Stacks(context.Background(), 0)
	if err == nil || !strings.Contains(err.Error(), "redirect") || strings.Contains(err.Error(), key) {
		t.Errorf("redirect: err = %v", err)
	}
	if leaked.Load() {
		t.Error("the API key was sent to the redirect target")
	}
}

// TestStackLabelIsInert: a stack name comes from the server; printed to a
// terminal (stacks, harden, push messages) it must not carry control
// characters. (Diff headers quote it: textdiff.)
func TestStackLabelIsInert(t *testing.T) {
	s := portainer.Stack{ID: 5, Name: "web\x1b[2J\r\n+++ b/forged.yml"}
	if l := s.Label(); strings.ContainsAny(l, "\x1b\r\n") || !strings.HasPrefix(l, "web") {
		t.Errorf("Label = %q", l)
	}
}

// TestErrorRedactedBeforeCut: an API error that echoes the key near the
// 300-character cut must not leak the key's beginning (issue 18.6): the
// key is redacted first, then the message is shortened.
func TestErrorRedactedBeforeCut(t *testing.T) {
	for _, pad := range []int{280, 290, 295, 299, 5000} {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"message":"` + strings.Repeat("x", pad) + ` key ` + r.Header.Get("X-API-Key") + ` refused"}`))
		}))
		c, err := portainer.New(srv.URL, key, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Stacks(context.Background(), 0)
		srv.Close()
		if err == nil {
			t.Fatal("no error")
		}
		for n := 6; n <= len(key); n++ {
			if strings.Contains(err.Error(), key[:n]) {
				t.Errorf("pad %d: the first %d characters of the key are in the error: %v", pad, n, err)
				break
			}
		}
	}
}
