package apparmor

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
)

// reviewNow is the end of the week the review fixtures were logged in: the
// review tests run on that day's clock, whatever day they really run.
var reviewNow = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func openInputs(t *testing.T, files ...string) []Input {
	t.Helper()
	var in []Input
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fh.Close() })
		in = append(in, Input{Name: filepath.Base(f), Reader: fh})
	}
	return in
}

func reviewFiles(t *testing.T, extra ...string) Review {
	t.Helper()
	mixed := filepath.Join("auditlog", "testdata", "mixed")
	files := append([]string{filepath.Join(mixed, "audit.log"), filepath.Join("testdata", "review", "journal.json"),
		filepath.Join("testdata", "review", "activity.log")}, extra...)
	rv, err := ReviewLogs(openInputs(t, files...), filepath.Join("testdata", "review", "profiles"),
		ReviewOptions{Since: reviewNow.Add(-7 * 24 * time.Hour), Clock: clock.Fixed(reviewNow)})
	if err != nil {
		t.Fatal(err)
	}
	return rv
}

func verdicts(rv Review) string {
	var b strings.Builder
	for _, p := range rv.Profiles {
		b.WriteString(p.Profile + "=" + p.Verdict + " ")
	}
	return strings.TrimSpace(b.String())
}

func TestReviewVerdicts(t *testing.T) {
	rv := reviewFiles(t)
	want := "ctsec-idle=idle ctsec-new=idle ctsec-ready=ready ctsec-web=needs-rules ghost=needs-rules"
	if got := verdicts(rv); got != want {
		t.Errorf("verdicts:\n got %s\nwant %s", got, want)
	}
	web, _ := rv.Profile("ctsec-web")
	var rules []string
	for _, p := range web.Proposed {
		rules = append(rules, p.Text)
	}
	wantRules := []string{
		`dbus (send) bus=system path="/org/freedesktop/DBus" interface="org.freedesktop.DBus" member="Hello" peer=(name="org.freedesktop.DBus", label="unconfined"),`,
		`network inet stream,`,
		`owner "/var/log/nginx/my access.log" w,`,
		`signal (send) set=(term) peer="ctsec-web",`,
	}
	if strings.Join(rules, "\n") != strings.Join(wantRules, "\n") {
		t.Errorf("ctsec-web proposals:\n%s", strings.Join(rules, "\n"))
	}
	// Already allowed: the capability, and /etc/nginx/nginx.conf by the
	// profile's "/etc/nginx/**" pattern.
	if web.Events != 6 || web.Allowed != 6 || web.AlreadyAllowed != 2 || web.DaysInComplain != 24 {
		t.Errorf("ctsec-web: events %d allowed %d already %d days %d", web.Events, web.Allowed, web.AlreadyAllowed, web.DaysInComplain)
	}
	ready, _ := rv.Profile("ctsec-ready")
	if ready.Events != 2 || len(ready.Proposed) != 0 || ready.LastActivity.Unix() != 1795500101 {
		t.Errorf("ctsec-ready: %+v", ready)
	}
	if rv.Duplicates != 1 || rv.LostEvents {
		t.Errorf("duplicates %d lost %v", rv.Duplicates, rv.LostEvents)
	}
	if f := rv.Findings(); len(f) != 2 || f[0].Rule != "apparmor/review-needs-rules" {
		t.Errorf("findings %+v", f)
	}
}

func TestReviewBlockedByLoss(t *testing.T) {
	rv := reviewFiles(t, filepath.Join("testdata", "review", "loss.log"))
	if got := verdicts(rv); got != "ctsec-idle=blocked ctsec-new=blocked ctsec-ready=blocked ctsec-web=blocked ghost=blocked" {
		t.Errorf("verdicts %s", got)
	}
	if !strings.Contains(rv.Profiles[0].Reason, "1 audit backlog overflows") {
		t.Errorf("reason %q", rv.Profiles[0].Reason)
	}
}

func TestReviewRenderings(t *testing.T) {
	rv := reviewFiles(t)
	var text, md bytes.Buffer
	if err := rv.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := rv.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NEEDS-RULES  ctsec-web", `  + owner "/var/log/nginx/my access.log" w,   # 1 event(s)`,
		"READY  ctsec-ready", "5 profile(s): 1 ready, 2 needs-rules, 2 idle, 0 blocked"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	for _, want := range []string{"## AppArmor review 2026-11-18T00:00:00Z", "| `ctsec-ready` | ready | complain | 24 | 2 | 0 |", "### `ctsec-web` — needs-rules"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	b, err := json.Marshal(rv)
	if err != nil || !bytes.Contains(b, []byte(`"verdict":"needs-rules"`)) || !bytes.Contains(b, []byte(`"rule":"network inet stream,"`)) {
		t.Errorf("json %s %v", b, err)
	}
}

func TestReviewUnmodelledEventsAreNotReady(t *testing.T) {
	log := `type=AVC msg=audit(1795500100.000:301): apparmor="ALLOWED" operation="open" class="posix_mqueue" profile="ctsec-ready" name="/queue" pid=7 comm="app" requested="read" denied="read"` + "\n" +
		`type=AVC msg=audit(1795500101.000:302): apparmor="ALLOWED" operation="open" class="file" profile="ctsec-ready" name="/srv/app/data" pid=7 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=1` + "\n"
	rv, err := ReviewLogs([]Input{{Name: "l", Reader: strings.NewReader(log)}}, filepath.Join("testdata", "review", "profiles"),
		ReviewOptions{Since: reviewNow.Add(-7 * 24 * time.Hour), Clock: clock.Fixed(reviewNow), Profiles: []string{"ctsec-ready"}})
	if err != nil {
		t.Fatal(err)
	}
	p := rv.Profiles[0]
	if p.Verdict != VerdictNeedsRules || p.Skipped["posix_mqueue/open: not modelled"] != 1 || len(p.Proposed) != 0 {
		t.Errorf("%+v", p)
	}
}
