package apparmor

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/report"
)

// reviewText reviews log text against profiles written into a temporary
// profiles directory (name → file text).
func reviewText(t *testing.T, profiles map[string]string, log string, o ReviewOptions) Review {
	t.Helper()
	dir := t.TempDir()
	for name, text := range profiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if o.Since.IsZero() {
		o.Since = reviewNow.Add(-7 * 24 * time.Hour)
	}
	o.Clock = clock.Fixed(reviewNow)
	rv, err := ReviewLogs([]Input{{Name: "audit.log", Reader: strings.NewReader(log)}}, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return rv
}

// avc writes one audit.log AVC record in the review week.
func avc(serial int, body string) string {
	return "type=AVC msg=audit(" + strconv.Itoa(1795500000+serial) + ".000:" + strconv.Itoa(serial) + "): " + body + "\n"
}

func proposalTexts(p ProfileReview) []string {
	var out []string
	for _, r := range p.Proposed {
		out = append(out, r.Text)
	}
	return out
}

const complainHeader = "# ctsec: complain since 2026-11-01T00:00:00Z\nabi <abi/3.0>,\n\n"

// 12.3: DENIED events caused by the profile's own deny rule are reported,
// never proposed as allows (promote --add-rules once proposed
// `"/usr/bin/curl" ix,` against `deny /usr/bin/curl x,`).
func TestReviewDenyRuleEventsAreNotProposed(t *testing.T) {
	profiles := map[string]string{"ctsec-web": complainHeader + `include <tunables/global>

profile "ctsec-web" flags=(complain) {
  file,
  deny /usr/bin/curl x,
  deny @{PROC}/sysrq-trigger rwklx,
  deny mount,
}
`}
	log := avc(1, `apparmor="DENIED" operation="exec" profile="ctsec-web" name="/usr/bin/curl" pid=7 comm="sh" requested_mask="x" denied_mask="x" fsuid=0 ouid=0`) +
		avc(2, `apparmor="DENIED" operation="open" profile="ctsec-web" name="/proc/sysrq-trigger" pid=7 comm="sh" requested_mask="w" denied_mask="w" fsuid=0 ouid=0`) +
		avc(3, `apparmor="DENIED" operation="mount" info="failed flags match" error=-13 profile="ctsec-web" name="/mnt/" pid=7 comm="mount" fstype="tmpfs" srcname="tmpfs" flags="rw"`)
	rv := reviewText(t, profiles, log, ReviewOptions{})
	p, ok := rv.Profile("ctsec-web")
	if !ok {
		t.Fatal("no review of ctsec-web")
	}
	if len(p.Proposed) != 0 {
		t.Errorf("proposed allows for events the profile's deny rules cause: %q", proposalTexts(p))
	}
	if len(p.DeniedByRule) != 3 {
		t.Fatalf("denied by rule: %+v", p.DeniedByRule)
	}
	want := map[string]string{`deny "/usr/bin/curl" x,`: "/usr/bin/curl", `deny "@{PROC}/sysrq-trigger" rwlkx,`: "/proc/sysrq-trigger", "deny mount,": "/mnt/"}
	for _, d := range p.DeniedByRule {
		if want[d.Rule] == "" || !strings.Contains(strings.Join(d.Examples, " "), want[d.Rule]) || len(d.Commands) == 0 {
			t.Errorf("denied by rule: %+v", d)
		}
	}
	var text bytes.Buffer
	rv.WriteText(&text)
	if !strings.Contains(text.String(), `deny "/usr/bin/curl" x,`) || !strings.Contains(text.String(), "sh") {
		t.Errorf("text does not show the deny rule and command:\n%s", text.String())
	}
	rules := rv.ProposedRules()["ctsec-web"]
	if len(rules) != 0 {
		t.Errorf("promote --add-rules would add %v", rules)
	}
}

// 12.3: an enforce-mode profile with denials is broken, not ready: shown
// first, high, with operation, path and command.
func TestReviewEnforceDenialsAreBreakage(t *testing.T) {
	profiles := map[string]string{
		"ctsec-app": "abi <abi/3.0>,\n\nprofile \"ctsec-app\" {\n  \"/srv/app/** \" r,\n  /srv/app/** r,\n}\n",
		"ctsec-new": complainHeader + "profile \"ctsec-new\" flags=(complain) {\n  /srv/new r,\n}\n",
	}
	log := avc(1, `apparmor="ALLOWED" operation="open" profile="ctsec-new" name="/srv/other" pid=8 comm="new" requested_mask="r" denied_mask="r" fsuid=0 ouid=1`) +
		avc(2, `apparmor="DENIED" operation="open" profile="ctsec-app" name="/etc/secret" pid=7 comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=1`) +
		avc(3, `apparmor="DENIED" operation="open" profile="ctsec-app" name="/etc/secret" pid=9 comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=1`) +
		avc(4, `apparmor="ALLOWED" operation="open" profile="ctsec-app" name="/srv/app/x" pid=9 comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=1`)
	rv := reviewText(t, profiles, log, ReviewOptions{})
	if len(rv.Profiles) == 0 || rv.Profiles[0].Profile != "ctsec-app" {
		t.Fatalf("the broken profile is not first: %s", verdicts(rv))
	}
	p := rv.Profiles[0]
	if p.Verdict == VerdictReady || p.Verdict != VerdictBreaking {
		t.Errorf("verdict %s (%s)", p.Verdict, p.Reason)
	}
	if len(p.Proposed) != 1 || p.Proposed[0].Denied != 2 || !slicesHas(p.Proposed[0].Commands, "cat") ||
		!slicesHas(p.Proposed[0].Operations, "open") || !slicesHas(p.Proposed[0].Examples, "/etc/secret") {
		t.Errorf("proposed %+v", p.Proposed)
	}
	f := rv.Findings()
	if len(f) == 0 || f[0].Severity != report.High || f[0].Target != "ctsec-app" ||
		!strings.Contains(f[0].Message, "open") || !strings.Contains(f[0].Message, "/etc/secret") || !strings.Contains(f[0].Message, "cat") {
		t.Errorf("findings %+v", f)
	}
	var text bytes.Buffer
	rv.WriteText(&text)
	first := strings.Index(text.String(), "ctsec-app")
	if first < 0 || first > strings.Index(text.String(), "ctsec-new") {
		t.Errorf("breakage not shown first:\n%s", text.String())
	}
}

func slicesHas(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// 12.3: a field outside its grammar rejects the event (counted and shown)
// instead of widening the rule.
func TestReviewMalformedFieldsRejectTheEvent(t *testing.T) {
	profiles := map[string]string{"ctsec-web": complainHeader + "profile \"ctsec-web\" flags=(complain) {\n  /srv/x r,\n}\n"}
	cases := []string{
		`apparmor="ALLOWED" operation="signal" profile="ctsec-web" pid=7 comm="kill" requested_mask="send" denied_mask="send" signal=bogus peer="unconfined"`,
		`apparmor="ALLOWED" operation="signal" profile="ctsec-web" pid=7 comm="kill" requested_mask="send" denied_mask="send" peer="unconfined"`,
		`apparmor="ALLOWED" operation="create" class="net" profile="ctsec-web" pid=7 comm="x" family="inet6" sock_type="bogus" protocol=0 requested="create" denied="create"`,
		`apparmor="ALLOWED" operation="open" profile="ctsec-web" name="/srv/y" pid=7 comm="x" requested_mask="r, junk" denied_mask="r, junk" fsuid=0 ouid=0`,
		`apparmor="ALLOWED" operation="mount" profile="ctsec-web" name="/mnt/" pid=7 comm="mount" fstype="ext4" srcname="/dev/sda1" flags="rw, bogusflag"`,
		`apparmor="ALLOWED" operation="connect" class="net" profile="ctsec-web" pid=7 comm="x" family="unix" sock_type="bogus" protocol=0 requested="connect" denied="connect" addr=none peer_addr="@x"`,
		`apparmor="ALLOWED" operation="ptrace" profile="ctsec-web" pid=7 comm="x" requested_mask="trace junk" denied_mask="trace junk" peer="unconfined"`,
		`apparmor="ALLOWED" operation="capable" profile="ctsec-web" pid=7 comm="x" capability=99 capname="bogus"`,
	}
	for i, c := range cases {
		rv := reviewText(t, profiles, avc(i+1, c), ReviewOptions{})
		p, _ := rv.Profile("ctsec-web")
		if len(p.Proposed) != 0 || len(p.Rejected) == 0 {
			t.Errorf("%s\n  proposed %q, rejected %v, skipped %v", c, proposalTexts(p), p.Rejected, p.Skipped)
		}
		if p.Verdict == VerdictReady {
			t.Errorf("%s: ready with a rejected event", c)
		}
		var text bytes.Buffer
		rv.WriteText(&text)
		if !strings.Contains(text.String(), "rejected") {
			t.Errorf("rejected event not shown:\n%s", text.String())
		}
	}
}

// 12.3: hats and named children are reviewed apart from their parent; the
// complain-mode null children of an exec belong to the parent when the exec
// becomes ix, and the review says which rule they became.
func TestReviewChildrenAndHats(t *testing.T) {
	profiles := map[string]string{"ctsec-web": complainHeader + `profile "ctsec-web" flags=(complain) {
  /srv/x r,
  profile child flags=(complain) {
    /srv/child r,
  }
  ^hat flags=(complain) {
    /srv/hat r,
  }
}
`}
	log := avc(1, `apparmor="ALLOWED" operation="open" profile="ctsec-web//child" name="/srv/c2" pid=7 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=1`) +
		avc(2, `apparmor="ALLOWED" operation="open" profile="ctsec-web//child" name="/srv/child" pid=7 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=1`) +
		avc(3, `apparmor="ALLOWED" operation="open" profile="ctsec-web//hat" name="/srv/h2" pid=7 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=1`) +
		avc(4, `apparmor="ALLOWED" operation="exec" profile="ctsec-web" name="/bin/busybox" pid=7 comm="sh" requested_mask="x" denied_mask="x" fsuid=0 ouid=0 target="ctsec-web//null-/bin/busybox"`) +
		avc(5, `apparmor="ALLOWED" operation="open" profile="ctsec-web//null-/bin/busybox" name="/etc/hostname" pid=7 comm="busybox" requested_mask="r" denied_mask="r" fsuid=0 ouid=1`) +
		avc(6, `apparmor="ALLOWED" operation="open" profile="ctsec-web" name="/srv/x" pid=7 comm="sh" requested_mask="r" denied_mask="r" fsuid=0 ouid=1`)
	rv := reviewText(t, profiles, log, ReviewOptions{})
	web, _ := rv.Profile("ctsec-web")
	got := strings.Join(proposalTexts(web), "\n")
	if got != `"/etc/hostname" r,`+"\n"+`owner "/bin/busybox" ix,` {
		t.Errorf("ctsec-web proposals:\n%s", got)
	}
	if len(web.Inherited) != 1 || web.Inherited[0].Label != "ctsec-web//null-/bin/busybox" || web.Inherited[0].ExecRule != `owner "/bin/busybox" ix,` || web.Inherited[0].Events != 1 {
		t.Errorf("inherited groups %+v", web.Inherited)
	}
	child, ok := rv.Profile("ctsec-web//child")
	if !ok || strings.Join(proposalTexts(child), " ") != `"/srv/c2" r,` || child.AlreadyAllowed != 1 {
		t.Errorf("child: %v %+v", ok, child)
	}
	hat, ok := rv.Profile("ctsec-web//hat")
	if !ok || strings.Join(proposalTexts(hat), " ") != `"/srv/h2" r,` {
		t.Errorf("hat: %v %+v", ok, hat)
	}
	var text bytes.Buffer
	rv.WriteText(&text)
	if !strings.Contains(text.String(), `ctsec-web//null-/bin/busybox`) || !strings.Contains(text.String(), `its exec became owner "/bin/busybox" ix,`) {
		t.Errorf("text does not say what the null child became:\n%s", text.String())
	}
}

// 12.3: rotated logs of the window are read by default, and a finding says
// when the logs read do not cover the whole window.
func TestReviewReadsRotatedLogsAndCoverage(t *testing.T) {
	root := t.TempDir()
	logDir := filepath.Join(root, "var/log/audit")
	os.MkdirAll(logDir, 0o755)
	line := func(ts int64, serial int, name string) string {
		return "type=AVC msg=audit(" + strconv.FormatInt(ts, 10) + ".000:" + strconv.Itoa(serial) + `): apparmor="ALLOWED" operation="open" profile="ctsec-web" name="` + name + `" pid=7 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=1` + "\n"
	}
	day := int64(24 * 3600)
	now := reviewNow.Unix()
	write := func(name, text string, mtime int64, gz bool) {
		data := []byte(text)
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(data)
			zw.Close()
			data = b.Bytes()
		}
		p := filepath.Join(logDir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, time.Unix(mtime, 0), time.Unix(mtime, 0))
	}
	write("audit.log", line(now-day, 3, "/srv/new"), now-day, false)
	write("audit.log.1", line(now-3*day, 2, "/srv/one"), now-3*day, false)
	write("audit.log.2.gz", line(now-6*day, 1, "/srv/two"), now-6*day+1, true)
	write("audit.log.3", line(now-9*day, 0, "/srv/old"), now-9*day, false)
	profDir := filepath.Join(root, DefaultProfilesDir)
	os.MkdirAll(profDir, 0o755)
	os.WriteFile(filepath.Join(profDir, "ctsec-web"), []byte(complainHeader+"profile \"ctsec-web\" flags=(complain) {\n}\n"), 0o644)

	review := func(since time.Time) Review {
		inputs, closeLogs, err := OpenLogs(t.Context(), root, nil, false, "", nil, since, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		defer closeLogs()
		rv, err := ReviewLogs(inputs, profDir, ReviewOptions{Since: since, Clock: clock.Fixed(reviewNow)})
		if err != nil {
			t.Fatal(err)
		}
		return rv
	}
	rv := review(reviewNow.Add(-7 * 24 * time.Hour))
	p, _ := rv.Profile("ctsec-web")
	if got := strings.Join(proposalTexts(p), " "); got != `"/srv/new" r, "/srv/one" r, "/srv/two" r,` {
		t.Errorf("proposals from the rotated logs of the window: %s (sources %+v)", got, rv.Sources)
	}
	for _, f := range rv.Findings() {
		if f.Rule == RuleReviewCoverage {
			t.Errorf("coverage finding though audit.log.3 predates the window: %+v", f)
		}
	}
	// Without audit.log.3 the logs start 6 days ago: a 7-day window is not covered.
	os.Remove(filepath.Join(logDir, "audit.log.3"))
	rv = review(reviewNow.Add(-7 * 24 * time.Hour))
	found := false
	for _, f := range rv.Findings() {
		if f.Rule == RuleReviewCoverage {
			found = true
		}
	}
	if !found {
		t.Errorf("no finding for logs that start after the window: %+v", rv.Findings())
	}
	if p, _ := rv.Profile("ctsec-web"); p.Verdict == VerdictReady {
		t.Errorf("ready on logs that do not cover the window")
	}
}
