package cert

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctsec/ctsec/cert/certtest"
	"github.com/ctsec/ctsec/history"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/testenv"
)

// End to end against a real TLS service in a container, run as uid 70
// like PostgreSQL's image and as strict about its key file: the first
// deploy restarts it, a renewal reloads it with SIGHUP, a second run
// changes nothing, a deploy the service refuses (key owned by another
// user) is put back by itself, and the journal's rollback of a deploy
// gives the service its previous certificate again.
func TestDeployIntoContainer(t *testing.T) {
	testenv.Root(t)
	now := testenv.Now(t)
	ca := certtest.NewCA(t, now.AddDate(-1, 0, 0), now.AddDate(10, 0, 0))
	first := ca.Leaf("db.example.test", now.Add(-time.Hour), now.AddDate(0, 3, 0))
	renewed := ca.Leaf("db.example.test", now, now.AddDate(0, 3, 0))
	svc := certtest.StartService(t)
	docker, err := engine.Connect("")
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	ctx := context.Background()
	store := &safefile.Store{Dir: filepath.Join(t.TempDir(), "state"), Clock: testenv.Clock(t)}
	tmpBefore := tmpNames(t)

	deploy := func(live string, tg Target) (*Plan, *Result, error) {
		t.Helper()
		p, err := Load(Sources{Dir: live}, LoadOptions{CAFile: ca.Root, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		pl, err := NewPlan(ctx, docker, p, tg)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Deploy(ctx, pl, DeployOptions{Store: store, Docker: docker, Command: "tls deploy " + svc.Container, VerifyWithin: 20 * time.Second, Clock: testenv.Clock(t)})
		return pl, res, err
	}
	tg := Target{Container: svc.Container, Volume: svc.Volume, UID: 70, GID: 70, Port: 8443, StartTLS: "postgres"}
	pl, res, err := deploy(first, tg)
	if err != nil {
		t.Fatalf("first deploy: %v", err)
	}
	if !res.Written || res.Activated != "restart" || res.Presented.SHA256 != pl.Pair.SHA256 {
		t.Fatalf("first deploy: %+v", res)
	}
	checkFile(t, pl.Files[0].HostPath, filepath.Join(first, "fullchain.pem"), 0o644, 70)
	checkFile(t, pl.Files[1].HostPath, filepath.Join(first, "privkey.pem"), 0o600, 70)
	firstChange := res.Change
	started := startedAt(t, svc.Container)

	tg.Reload = []string{"kill", "-HUP", "1"}
	pl2, res, err := deploy(renewed, tg)
	if err != nil {
		t.Fatalf("renewal: %v", err)
	}
	if res.Presented.SHA256 != pl2.Pair.SHA256 || res.Presented.SHA256 == pl.Pair.SHA256 {
		t.Fatalf("after the renewal the service presents %s", res.Presented.SHA256)
	}
	if startedAt(t, svc.Container) != started {
		t.Error("the reload restarted the container")
	}
	renewChange := res.Change

	if _, res, err := deploy(renewed, tg); err != nil || res.Change != "" || res.Written {
		t.Fatalf("second run of the same pair: %+v %v", res, err)
	}

	// The service refuses a key its user does not own (as PostgreSQL
	// does) and keeps the old one: verification fails, the files go back.
	bad := tg
	bad.UID = 4242
	before, _ := os.ReadFile(pl2.Files[1].HostPath)
	third := ca.Leaf("db.example.test", now, now.AddDate(0, 3, 0))
	_, res, err = deploy(third, bad)
	if err == nil || !res.RolledBack || !strings.Contains(err.Error(), "put back") {
		t.Fatalf("a deploy the service refuses: %+v %v", res, err)
	}
	after, _ := os.ReadFile(pl2.Files[1].HostPath)
	if string(after) != string(before) {
		t.Error("the key was not put back")
	}
	checkFile(t, pl2.Files[1].HostPath, filepath.Join(renewed, "privkey.pem"), 0o600, 70)
	if got, err := Probe(ctx, pl2.Verify, "postgres", ""); err != nil || got.SHA256 != pl2.Pair.SHA256 {
		t.Errorf("after the refused deploy the service presents %v %v", got, err)
	}

	// The journal's rollback of the renewal: the first pair is back and
	// the service (reloaded as the change recorded) presents it.
	j := history.Journal{Store: store}
	entries, _ := j.List()
	plan, err := history.PlanOne(entries, renewChange)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Live) != 1 || !strings.Contains(plan.Live[0], "kill -HUP 1") {
		t.Errorf("rollback plan's live steps: %v", plan.Live)
	}
	if _, err := j.Apply(ctx, plan, history.Options{Docker: func() (*engine.Client, error) { return docker, nil }}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, pl.Files[1].HostPath, filepath.Join(first, "privkey.pem"), 0o600, 70)
	if got, err := WaitFor(ctx, pl2.Verify, "postgres", "", pl.Pair.SHA256, 20*time.Second); err != nil {
		t.Errorf("after the rollback: %v %v", got, err)
	}
	_ = firstChange

	// Only the two files are in the volume, and nothing was left in /tmp.
	names, _ := os.ReadDir(filepath.Dir(pl.Files[0].HostPath))
	if len(names) != 2 {
		t.Errorf("volume holds %d entries, want server.crt and server.key", len(names))
	}
	for n := range tmpNames(t) {
		if !tmpBefore[n] && (strings.Contains(n, "server.crt") || strings.Contains(n, "server.key") || strings.Contains(n, ".ctsec-")) {
			t.Errorf("left in /tmp: %s", n)
		}
	}
}

func checkFile(t *testing.T, path, want string, mode os.FileMode, uid int) {
	t.Helper()
	got, err := os.ReadFile(path)
	w, _ := os.ReadFile(want)
	if err != nil || string(got) != string(w) {
		t.Errorf("%s does not hold %s (%v)", path, want, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != mode || int(st.Sys().(*syscall.Stat_t).Uid) != uid {
		t.Errorf("%s: mode %04o uid %d, want %04o %d", path, st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid, mode, uid)
	}
}

func startedAt(t *testing.T, name string) string {
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.StartedAt}}", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func tmpNames(t *testing.T) map[string]bool {
	out := map[string]bool{}
	es, _ := os.ReadDir(os.TempDir())
	for _, e := range es {
		out[e.Name()] = true
	}
	return out
}
