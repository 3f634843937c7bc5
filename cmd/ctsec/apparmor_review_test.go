package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/testenv"
)

// reviewWeek is the clock of the week the review fixtures were logged in
// (their profiles' complain-since dates and --since 2026-11-18 belong to
// it): the review is judged on that week's last day, whatever day the test
// really runs.
var reviewWeek = clock.Fixed(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))

// reviewArgs review the fixtures; history and the engine are left out (the
// tests of those name their own state directory and containers).
var reviewArgs = []string{"apparmor", "review", "--since", "2026-11-18", "--no-history", "--no-docker",
	"--log", "../../apparmor/auditlog/testdata/mixed/audit.log",
	"--log", "../../apparmor/testdata/review/journal.json",
	"--log", "../../apparmor/testdata/review/activity.log",
	"--profiles-dir", "../../apparmor/testdata/review/profiles"}

func TestApparmorReviewCLI(t *testing.T) {
	out, errOut, code := ctsecAt(t, reviewWeek, reviewArgs...)
	if code != 0 || !strings.Contains(out, "READY  ctsec-ready") || !strings.Contains(out, `+ owner "/var/log/nginx/my access.log" w,`) {
		t.Errorf("text: exit %d stderr %q\n%s", code, errOut, out)
	}
	out, _, code = ctsecAt(t, reviewWeek, append(reviewArgs, "--format", "markdown")...)
	if code != 0 || !strings.Contains(flat(out), "| `ctsec-web` | needs-rules |") {
		t.Errorf("markdown: exit %d\n%s", code, out)
	}
	out, _, code = ctsecAt(t, reviewWeek, append(reviewArgs, "--format", "json", "--fail-on", "medium")...)
	var rep struct {
		Findings []struct{ Rule, Severity, Target, Fix string }
		Data     struct {
			Profiles []struct{ Profile, Verdict string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if code != 1 || len(rep.Findings) != 2 || rep.Findings[0].Rule != "apparmor/review-needs-rules" || len(rep.Data.Profiles) != 5 {
		t.Errorf("json: exit %d %+v", code, rep)
	}
	// promote cannot edit a profile that has no file here: the fix says so.
	for _, f := range rep.Findings {
		if f.Target == "ghost" && strings.Contains(f.Fix, "promote") {
			t.Errorf("fix for a profile without a file: %q", f.Fix)
		}
	}
	// Lost events make every profile blocked: a high finding, exit 1.
	out, _, code = ctsecAt(t, reviewWeek, append(reviewArgs, "--log", "../../apparmor/testdata/review/loss.log", "--profile", "ctsec-ready")...)
	if code != 1 || !strings.Contains(out, "BLOCKED  ctsec-ready") || !strings.Contains(flat(out), "WARNING: events were lost") {
		t.Errorf("blocked: exit %d\n%s", code, out)
	}
}

func TestApparmorReviewBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"apparmor", "review", "--no-history", "--since", "last tuesday", "--log", "../../apparmor/testdata/review/loss.log"},
		{"apparmor", "review", "--no-history", "--log", "/nonexistent/audit.log"},
		{"apparmor", "promote"},
		{"apparmor", "promote", "x", "--ready"},
	} {
		_, errOut, code := ctsecAt(t, reviewWeek, args...)
		if code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.HasPrefix(errOut, "ctsec: ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

func TestApparmorPromoteDemoteCLI(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	root := t.TempDir()
	dir := filepath.Join(root, "etc/apparmor.d/containers")
	os.MkdirAll(dir, 0o755)
	src, _ := os.ReadFile("../../apparmor/testdata/review/profiles/ctsec-web")
	path := filepath.Join(dir, "ctsec-web")
	os.WriteFile(path, src, 0o644)
	state := filepath.Join(root, "state")
	base := []string{"--root", root, "--state-dir", state, "--since", "2026-11-18",
		"--log", "../../apparmor/auditlog/testdata/mixed/audit.log", "--log", "../../apparmor/testdata/review/journal.json"}

	out, errOut, code := ctsecAt(t, reviewWeek, append([]string{"apparmor", "promote", "ctsec-web", "--add-rules"}, base...)...)
	if code != 0 || !strings.Contains(out, "+  network inet stream,") || !strings.Contains(flat(out), "dry run, nothing changed (4 rule(s) to add)") {
		t.Fatalf("dry run: exit %d %q\n%s", code, errOut, out)
	}
	if got, _ := os.ReadFile(path); string(got) != string(src) {
		t.Fatal("dry run changed the file")
	}
	// Rules learnt from logs that lost events come with a warning.
	_, errOut, code = ctsecAt(t, reviewWeek, append([]string{"apparmor", "promote", "ctsec-web", "--add-rules", "--log", "../../apparmor/testdata/review/loss.log"}, base...)...)
	if code != 0 || !strings.Contains(errOut, "lost events") {
		t.Errorf("promote with lost events: exit %d, stderr %q", code, errOut)
	}
	// --dry-run wins over --write.
	out, errOut, code = ctsecAt(t, reviewWeek, append([]string{"apparmor", "promote", "ctsec-web", "--add-rules", "--write", "--dry-run"}, base...)...)
	if code != 0 || !strings.Contains(flat(out), "dry run, nothing changed") {
		t.Fatalf("--dry-run --write: exit %d %q\n%s", code, errOut, out)
	}
	if got, _ := os.ReadFile(path); string(got) != string(src) {
		t.Fatal("--dry-run --write changed the file")
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Fatal("--dry-run --write made a backup")
	}
	out, errOut, code = ctsecAt(t, reviewWeek, append([]string{"apparmor", "promote", "ctsec-web", "--add-rules", "--write"}, base...)...)
	if code != 0 || !strings.Contains(flat(out), "now enforce, 4 rule(s) added, validated") || !strings.Contains(flat(out), "reload skipped") {
		t.Fatalf("write: exit %d %q\n%s", code, errOut, out)
	}
	out, _, code = ctsecAt(t, reviewWeek, append([]string{"apparmor", "promote", "ctsec-web", "--add-rules", "--write"}, base...)...)
	if code != 0 || !strings.Contains(flat(out), "already enforce, nothing to change") {
		t.Errorf("second promote: exit %d\n%s", code, out)
	}
	out, _, code = ctsecAt(t, reviewWeek, "apparmor", "demote", "--all", "--write", "--root", root, "--state-dir", state, "--format", "json")
	var rep struct {
		Data struct {
			DryRun  bool `json:"dry_run"`
			Results []struct {
				Profiles  []string
				Written   bool
				Validated bool
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || len(rep.Data.Results) != 1 || !rep.Data.Results[0].Written || !rep.Data.Results[0].Validated {
		t.Errorf("demote: exit %d %v %+v\n%s", code, err, rep, out)
	}

	// A profile apparmor_parser rejects: exit 1, file untouched.
	broken := strings.Replace(string(src), `"/etc/nginx/**" r,`, `"/etc/@{NOPE}" r,`, 1)
	os.WriteFile(path, []byte(broken), 0o644)
	out, errOut, code = ctsecAt(t, reviewWeek, "apparmor", "promote", "ctsec-web", "--write", "--root", root, "--state-dir", state)
	if code != 1 || !strings.Contains(flat(out), "NOT changed") || !strings.Contains(errOut, "validation failed") {
		t.Errorf("broken: exit %d stderr %q\n%s", code, errOut, out)
	}
	if got, _ := os.ReadFile(path); string(got) != broken {
		t.Errorf("broken profile changed:\n%s", got)
	}
}

// TestApparmorReviewJournal writes a real journal (systemd-journal-remote)
// holding one AppArmor event through both the kernel and the audit
// transport, plus journald's own loss notice, and reviews it with --journal.
func TestApparmorReviewJournal(t *testing.T) {
	testenv.Tool(t, "journalctl")
	remote := "/lib/systemd/systemd-journal-remote"
	if _, err := os.Stat(remote); err != nil {
		testenv.Unavailable(t, "%s is not installed (Debian package systemd-journal-remote)", remote)
	}
	const avc = `apparmor="ALLOWED" operation="open" class="file" profile="ctsec-web" name=2F7661722F6C6F672F6D7920616363657373206C6F67 pid=4242 comm="nginx" requested_mask="r" denied_mask="r" fsuid=0 ouid=1`
	entry := func(fields ...string) string {
		return strings.Join(append([]string{"_BOOT_ID=0123456789abcdef0123456789abcdef", "_HOSTNAME=host"}, fields...), "\n") + "\n\n"
	}
	export := entry("__REALTIME_TIMESTAMP=1795500001000500", "__MONOTONIC_TIMESTAMP=1000000", "_TRANSPORT=kernel",
		"MESSAGE=audit: type=1400 audit(1795500001.200:102): "+avc) +
		entry("__REALTIME_TIMESTAMP=1795500001000900", "__MONOTONIC_TIMESTAMP=1000400", "_TRANSPORT=audit",
			"_AUDIT_ID=102", "_AUDIT_TYPE=1400", "_SOURCE_REALTIME_TIMESTAMP=1795500001200000", "MESSAGE=AVC "+avc) +
		entry("__REALTIME_TIMESTAMP=1795500002000000", "__MONOTONIC_TIMESTAMP=2000000", "_TRANSPORT=driver",
			"MESSAGE=Missed 4 kernel messages") +
		entry("__REALTIME_TIMESTAMP=1795500003000000", "__MONOTONIC_TIMESTAMP=3000000", "_TRANSPORT=syslog",
			"MESSAGE=Accepted publickey for root")
	dir := t.TempDir()
	cmd := exec.Command(remote, "-o", filepath.Join(dir, "remote.journal"), "-")
	cmd.Stdin = strings.NewReader(export)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, out)
	}
	out, errOut, code := ctsecAt(t, reviewWeek, "apparmor", "review", "--no-history", "--no-docker", "--journal", "--journal-dir", dir, "--since", "2026-11-18",
		"--profiles-dir", t.TempDir(), "--format", "json")
	var rep struct {
		Data struct {
			Sources []struct {
				Name   string
				Events int
				Loss   struct {
					JournalMissed int `json:"journal_missed"`
				}
			}
			Duplicates int
			Profiles   []struct {
				Profile, Verdict string
				Events           int
				Proposed         []struct{ Rule string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("exit %d stderr %q: %v\n%s", code, errOut, err, out)
	}
	d := rep.Data
	if code != 1 || len(d.Sources) != 1 || d.Sources[0].Name != "journal" || d.Sources[0].Events != 2 ||
		d.Duplicates != 1 || d.Sources[0].Loss.JournalMissed != 4 || len(d.Profiles) != 1 ||
		d.Profiles[0].Events != 1 || d.Profiles[0].Verdict != "blocked" ||
		len(d.Profiles[0].Proposed) != 1 || d.Profiles[0].Proposed[0].Rule != `"/var/log/my access log" r,` {
		t.Errorf("exit %d, review %+v", code, d)
	}
}

func TestApparmorPromoteReadyCLI(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	root := t.TempDir()
	dir := filepath.Join(root, "etc/apparmor.d/containers")
	os.MkdirAll(dir, 0o755)
	src := "../../apparmor/testdata/review/profiles"
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(src, e.Name()))
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
	}
	args := []string{"apparmor", "promote", "--ready", "--write", "--root", root, "--state-dir", filepath.Join(root, "state"),
		"--since", "2026-11-18", "--log", "../../apparmor/testdata/review/activity.log"}
	out, errOut, code := ctsecAt(t, reviewWeek, args...)
	if code != 0 || strings.Count(flat(out), "now enforce") != 1 || !strings.Contains(flat(out), "containers/ctsec-ready: now enforce") {
		t.Fatalf("exit %d stderr %q\n%s", code, errOut, out)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "ctsec-web"))
	if !strings.Contains(string(b), "complain") {
		t.Error("a profile that is not ready was promoted")
	}
	// Nothing left ready: the second run says so and changes nothing.
	out, _, code = ctsecAt(t, reviewWeek, args...)
	if code != 0 || !strings.Contains(flat(out), "no profile is ready to promote") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
	// … and in JSON it is still the one report object.
	out, _, code = ctsecAt(t, reviewWeek, append(args, "--format", "json")...)
	var rep struct {
		Findings []any
		Data     struct{ Results []any }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || rep.Findings == nil || rep.Data.Results == nil {
		t.Errorf("second run, json: exit %d %v\n%s", code, err, out)
	}
}

// TestApparmorDemoteAllSkipsBrokenFile: the emergency way back does not stop
// at a file it cannot parse; it demotes the rest, names the file, exits 1.
func TestApparmorDemoteAllSkipsBrokenFile(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	root := t.TempDir()
	dir := filepath.Join(root, "etc/apparmor.d/containers")
	enforced, _ := os.ReadFile("../../apparmor/testdata/review/profiles/ctsec-enforced")
	writeFile(t, filepath.Join(dir, "ctsec-enforced"), string(enforced))
	broken := writeFile(t, filepath.Join(dir, "zz-broken"), "profile broken {\n  /x r\n")
	out, errOut, code := ctsecAt(t, reviewWeek, "apparmor", "demote", "--all", "--write", "--root", root, "--state-dir", filepath.Join(root, "state"))
	if code != 1 || !strings.Contains(flat(out), "now complain") || !strings.Contains(errOut, "zz-broken") {
		t.Errorf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ctsec-enforced")); !strings.Contains(string(b), "complain") {
		t.Errorf("the parseable profile was not demoted:\n%s", b)
	}
	if b, _ := os.ReadFile(broken); string(b) != "profile broken {\n  /x r\n" {
		t.Error("the broken file was changed")
	}
}

// The review window (--since 7d), the time a profile has spent in complain
// mode (--min-complain) and the year-less syslog dates are all measured from
// the clock: logs and profiles dated relative to the tests' now give the
// same verdicts on whatever day the suite runs (CTSEC_TEST_NOW moves it).
func TestApparmorReviewWindowFollowsTheClock(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	now := testenv.Now(t)
	dir := t.TempDir()
	profile := func(name string, since time.Time) {
		writeFile(t, filepath.Join(dir, name), "# ctsec: complain since "+since.Format(time.RFC3339)+
			"\nabi <abi/3.0>,\n\nprofile \""+name+"\" flags=(complain) {\n  \"/srv/seen\" r,\n}\n")
	}
	profile("ctsec-old", now.AddDate(0, 0, -10))
	profile("ctsec-young", now.AddDate(0, 0, -3))
	event := func(at time.Time, serial int, profile, path string) string {
		return fmt.Sprintf(`type=AVC msg=audit(%d.000:%d): apparmor="ALLOWED" operation="open" class="file" profile="%s" name="%s" pid=7 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`+"\n",
			at.Unix(), serial, profile, path)
	}
	syslog := func(at time.Time, profile, path string) string {
		return at.Format("Jan _2 15:04:05") + ` host kernel: [ 1.0] audit: type=1400 audit(` + strconv.FormatInt(at.Unix(), 10) +
			`.500:900): apparmor="ALLOWED" operation="open" class="file" profile="` + profile + `" name="` + path + `" pid=9 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0` + "\n"
	}
	logFile := filepath.Join(t.TempDir(), "audit.log")
	writeFile(t, logFile, event(now.AddDate(0, 0, -9), 1, "ctsec-old", "/srv/stale")+ // before the window
		event(now.AddDate(0, 0, -2), 2, "ctsec-old", "/srv/seen")+
		event(now.Add(-time.Hour), 3, "ctsec-young", "/srv/seen"))
	kernLog := filepath.Join(t.TempDir(), "kern.log")
	writeFile(t, kernLog, syslog(now.AddDate(0, 0, -1), "ctsec-old", "/srv/seen"))

	out, errOut, code := ctsec(t, "apparmor", "review", "--no-history", "--no-docker", "--since", "7d", "--min-complain", "7d", "--format", "json",
		"--log", logFile, "--log", kernLog, "--profiles-dir", dir)
	var rep struct {
		Data struct {
			Since    time.Time
			Profiles []struct {
				Profile, Verdict string
				Events           int
				DaysInComplain   int `json:"days_in_complain"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("exit %d, stderr %q: %v\n%s", code, errOut, err, out)
	}
	// The tests' clock steps a microsecond per reading, shared by every
	// test in the process: the window starts 7d before it, give or take the
	// steps other tests took.
	if want := now.AddDate(0, 0, -7); rep.Data.Since.Before(want) || rep.Data.Since.Sub(want) > time.Second {
		t.Errorf("window starts %s, want %s (7d before the clock)", rep.Data.Since, want)
	}
	got := map[string]string{}
	for _, p := range rep.Data.Profiles {
		got[p.Profile] = fmt.Sprintf("%s events=%d days=%d", p.Verdict, p.Events, p.DaysInComplain)
	}
	want := map[string]string{
		"ctsec-old":   "ready events=2 days=10", // the stale event is outside the window; the syslog line is in it
		"ctsec-young": "idle events=1 days=3",   // too young to promote
	}
	if code != 0 || !maps.Equal(got, want) {
		t.Errorf("exit %d, stderr %q\ngot  %v\nwant %v", code, errOut, got, want)
	}
}
