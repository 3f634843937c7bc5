package apparmor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/testenv"
)

const webProfile = `# ctsec: complain since 2026-11-01T00:00:00Z
abi <abi/3.0>,

profile "ctsec-web" flags=(attach_disconnected,complain) {
  capability net_bind_service,
  network inet stream,
  "/etc/nginx/**" r,
}
`

// tempRoot makes a host root with one profile file in the profiles dir.
func tempRoot(t *testing.T, files map[string]string) (root, dir string) {
	t.Helper()
	root = t.TempDir()
	dir = filepath.Join(root, DefaultProfilesDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return root, dir
}

func TestPromoteOnTempRoot(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	root, dir := tempRoot(t, map[string]string{"ctsec-web": webProfile})
	state := filepath.Join(root, "var/lib/ctsec")
	path := filepath.Join(dir, "ctsec-web")
	rules := map[string][]Rule{"ctsec-web": {
		File{Owner: true, Path: Literal("/var/log/nginx/my access.log"), Perms: "w"},
		Capability{Names: []string{"net_bind_service"}}, // already there: not added twice
	}}
	o := ChangeOptions{Root: root, Dir: dir, StateDir: state, Rules: rules, Clock: testenv.Clock(t)}

	// Dry run: a diff, nothing written, no backup.
	res, err := SetMode(context.Background(), []string{"ctsec-web"}, "enforce", o)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != webProfile {
		t.Fatalf("dry run changed the file:\n%s", got)
	}
	if len(res) != 1 || res[0].Written || res[0].RulesAdded != 1 ||
		!strings.Contains(res[0].Diff, "-profile \"ctsec-web\" flags=(attach_disconnected,complain) {") ||
		!strings.Contains(res[0].Diff, "+profile \"ctsec-web\" flags=(attach_disconnected) {") ||
		!strings.Contains(res[0].Diff, `+  owner "/var/log/nginx/my access.log" w,`) ||
		!strings.Contains(res[0].Diff, "-# ctsec: complain since") {
		t.Fatalf("dry run result %+v\n%s", res, res[0].Diff)
	}
	if list, _ := (&safefile.Store{Dir: state, Clock: testenv.Clock(t)}).List(); len(list) != 0 {
		t.Errorf("dry run made %d backups", len(list))
	}

	// Write: changed, validated, reload explained, backup kept.
	o.Write = true
	res, err = SetMode(context.Background(), []string{"ctsec-web"}, "enforce", o)
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	got, _ := os.ReadFile(path)
	if !r.Written || !r.Validated || r.BackupID == "" || !strings.Contains(r.Reload, "skipped: --root") ||
		strings.Contains(string(got), "complain)") || !strings.Contains(string(got), `owner "/var/log/nginx/my access.log" w,`) {
		t.Fatalf("result %+v\nfile:\n%s", r, got)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v not kept", st.Mode().Perm())
	}
	if pf, err := LoadProfileFile(path); err != nil || pf.Profiles[0].Mode() != "enforce" {
		t.Errorf("promoted file: %v", err)
	}

	// Idempotent: a second promote changes nothing.
	res, err = SetMode(context.Background(), []string{"ctsec-web"}, "enforce", o)
	if err != nil || res[0].Diff != "" || res[0].Written {
		t.Errorf("second promote: %+v %v", res, err)
	}

	// Demote: back to complain with a fresh marker; the backup restores the original.
	o.Rules = nil
	now := testenv.Now(t)
	o.Clock = clock.Fixed(now)
	res, err = SetMode(context.Background(), []string{"ctsec-web"}, "complain", o)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(path)
	if !strings.Contains(string(got), "# ctsec: complain since "+now.Format(time.RFC3339)) ||
		!strings.Contains(string(got), "flags=(attach_disconnected,complain)") {
		t.Errorf("demoted file:\n%s", got)
	}
	store := safefile.Store{Dir: state, Clock: testenv.Clock(t)}
	if list, _ := store.List(); len(list) != 2 {
		t.Fatalf("backups: %d, want 2", len(list))
	}
	if _, err := store.Restore(r.BackupID); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != webProfile {
		t.Errorf("restoring the promote backup did not give the original:\n%s", got)
	}
}

func TestPromoteValidationFailureRestores(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	// @{NOPE} is not declared: the model accepts the pattern, apparmor_parser does not.
	broken := strings.Replace(webProfile, `"/etc/nginx/**" r,`, `"/etc/@{NOPE}/**" r,`, 1)
	root, dir := tempRoot(t, map[string]string{"ctsec-web": broken})
	path := filepath.Join(dir, "ctsec-web")
	before, _ := os.Stat(path)
	o := ChangeOptions{Root: root, Dir: dir, StateDir: filepath.Join(root, "state"), Write: true, Clock: testenv.Clock(t)}
	res, err := SetMode(context.Background(), []string{"ctsec-web"}, "enforce", o)
	if !errors.Is(err, ErrValidation) {
		t.Fatalf("err = %v, want a validation failure", err)
	}
	if len(res) != 1 || !res[0].RolledBack || res[0].Written || res[0].Validated || !strings.Contains(res[0].Error, "NOPE") {
		t.Errorf("result %+v", res)
	}
	got, _ := os.ReadFile(path)
	after, _ := os.Stat(path)
	if string(got) != broken || after.Mode() != before.Mode() {
		t.Errorf("file not restored:\n%s", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("profiles dir holds %d entries after rollback, want 1 (no temp files)", len(entries))
	}
}

func TestPromoteUnknownProfile(t *testing.T) {
	root, dir := tempRoot(t, map[string]string{"ctsec-web": webProfile})
	_, err := SetMode(context.Background(), []string{"nope"}, "enforce", ChangeOptions{Root: root, Dir: dir, Clock: testenv.Clock(t)})
	if err == nil || !strings.Contains(err.Error(), `profile "nope"`) {
		t.Errorf("err = %v", err)
	}
}

// TestGeneratedProfileLifecycle: a profile from `ctsec profile gen` runs in
// complain mode, the review proposes rules from its logs, promote adds them
// and enforces, and apparmor_parser accepts the result.
func TestGeneratedProfileLifecycle(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	caps := []string{"net_bind_service"}
	p, err := Generate(&Spec{Name: "web", Template: "strict", Capabilities: SpecCaps{Allow: &caps}})
	if err != nil {
		t.Fatal(err)
	}
	text, err := p.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	root, dir := tempRoot(t, map[string]string{"ctsec-web": string(text)})
	log := `type=AVC msg=audit(1795500000.100:101): apparmor="ALLOWED" operation="open" class="file" profile="ctsec-web" name=` +
		hexName("/srv/app/data \" rw,\n/** rwlkmix,") + ` pid=7 comm="web" requested_mask="r" denied_mask="r" fsuid=0 ouid=1` + "\n" +
		`type=AVC msg=audit(1795500001.100:102): apparmor="ALLOWED" operation="capable" class="cap" profile="ctsec-web" pid=7 comm="web" capability=0 capname="chown"` + "\n" +
		`type=AVC msg=audit(1795500002.100:103): apparmor="ALLOWED" operation="ptrace" class="ptrace" profile="ctsec-web" pid=7 comm="strace" requested_mask="trace" denied_mask="trace" peer="ctsec-web"` + "\n"
	rv, err := ReviewLogs([]Input{{Name: "audit.log", Reader: strings.NewReader(log)}}, dir,
		ReviewOptions{Since: reviewNow.Add(-7 * 24 * time.Hour), Clock: clock.Fixed(reviewNow)})
	if err != nil {
		t.Fatal(err)
	}
	pr, ok := rv.Profile("ctsec-web")
	// The generated profile has `file,`: the file event is already allowed.
	if !ok || pr.Mode != "complain" || pr.Verdict != VerdictNeedsRules || len(pr.Proposed) != 2 || pr.AlreadyAllowed != 1 ||
		pr.Proposed[0].Text != "capability chown," || pr.Proposed[1].Text != `ptrace (trace) peer="ctsec-web",` {
		t.Fatalf("review of the generated profile: %+v", pr)
	}
	res, err := SetMode(context.Background(), []string{"ctsec-web"}, "enforce", ChangeOptions{
		Root: root, Dir: dir, StateDir: filepath.Join(root, "state"), Write: true, Rules: rv.ProposedRules(), Clock: testenv.Clock(t)})
	if err != nil {
		t.Fatalf("promote: %v\n%s", err, res[0].Diff)
	}
	if !res[0].Validated || res[0].RulesAdded != len(pr.Proposed) {
		t.Errorf("result %+v", res[0])
	}
	pf, err := LoadProfileFile(filepath.Join(dir, "ctsec-web"))
	if err != nil || pf.Profiles[0].Mode() != "enforce" {
		t.Fatalf("promoted file: %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "ctsec-web"))
	if strings.Contains(string(got), "\n/** rwlkmix,") {
		t.Errorf("log path injected a rule:\n%s", got)
	}
}

// TestPromoteKeepsHandwrittenText: promote and demote edit a hand-written
// profile in place — the header line, the learnt rules, the marker — and
// leave every other byte as the operator wrote it, so the diff shows only
// the change; the result compiles to the same policy plus the new rule.
func TestPromoteKeepsHandwrittenText(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	orig, err := os.ReadFile("testdata/parse/handwritten.profile")
	if err != nil {
		t.Fatal(err)
	}
	// Made self-contained for the pinned 3.0 ABI: Debian's abstractions and
	// a bare `deny network raw,` do not compile against it.
	var lines []string
	for _, l := range strings.SplitAfter(string(orig), "\n") {
		if !strings.Contains(l, "include") && !strings.Contains(l, "deny network raw") {
			lines = append(lines, l)
		}
	}
	hand := "abi <abi/3.0>,\n" + strings.Join(lines, "")
	root, dir := tempRoot(t, map[string]string{"webapp": hand})
	path := filepath.Join(dir, "webapp")
	now := testenv.Now(t)
	o := ChangeOptions{Root: root, Dir: dir, StateDir: filepath.Join(root, "state"), Write: true,
		Clock: clock.Fixed(now),
		Rules: map[string][]Rule{"/usr/bin/webapp": {File{Path: Literal("/srv/new file"), Perms: "r"}}}}
	res, err := SetMode(context.Background(), []string{"/usr/bin/webapp"}, "enforce", o)
	if err != nil || len(res) != 1 || !res[0].Validated {
		t.Fatalf("promote: %v %+v", err, res)
	}
	got, _ := os.ReadFile(path)
	want := strings.Replace(hand, "/usr/bin/webapp flags=(complain) {", `profile "/usr/bin/webapp" {`, 1)
	last := strings.LastIndex(want, "}")
	want = want[:last] + "\n  # learnt from complain-mode logs by ctsec apparmor promote, " + now.Format("2006-01-02") + "\n  \"/srv/new file\" r,\n" + want[last:]
	if string(got) != want {
		t.Errorf("promoted file:\n%s\nwant:\n%s\ndiff:\n%s", got, want, res[0].Diff)
	}
	if n := strings.Count(res[0].Diff, "\n+") - strings.Count(res[0].Diff, "\n+++"); n != 4 {
		t.Errorf("diff adds %d lines, want 4 (header, blank, comment, rule):\n%s", n, res[0].Diff)
	}
	// Back to complain: again only the header, plus the marker on top.
	o.Rules = nil
	if _, err := SetMode(context.Background(), []string{"/usr/bin/webapp"}, "complain", o); err != nil {
		t.Fatal(err)
	}
	back, _ := os.ReadFile(path)
	wantBack := "# ctsec: complain since " + now.Format(time.RFC3339) + "\n" + strings.Replace(string(got), `profile "/usr/bin/webapp" {`, `profile "/usr/bin/webapp" flags=(complain) {`, 1)
	if string(back) != wantBack {
		t.Errorf("demoted file:\n%s", back)
	}
}
