package apparmor

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/testenv"
)

// weekly reviews the same profiles on week i (from reviewNow) with the log
// text and the history in state, as the review command does.
func weekly(t *testing.T, dir, state string, week int, log string) Review {
	t.Helper()
	now := reviewNow.AddDate(0, 0, 7*week)
	// auditd logs other records too: the log reaches back over the window
	log = "type=SYSCALL msg=audit(" + itoaT(now.AddDate(0, 0, -7).Unix()) + ".000:1): arch=c000003e syscall=257\n" + log
	rv, err := ReviewLogs([]Input{{Name: "audit.log", Reader: strings.NewReader(log)}}, dir,
		ReviewOptions{Since: now.AddDate(0, 0, -7), Clock: clock.Fixed(now), MinComplain: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h := History{Dir: HistoryDir(state)}
	prev, err := h.Reviews(rv.Until, 12)
	if err != nil {
		t.Fatal(err)
	}
	modes, err := h.Modes()
	if err != nil {
		t.Fatal(err)
	}
	rv.AddTrends(prev, modes)
	if err := h.Record(&rv); err != nil {
		t.Fatal(err)
	}
	return rv
}

// event is an ALLOWED open in week w (counting from reviewNow) of path.
func event(w, serial int, profile, path string) string {
	at := reviewNow.AddDate(0, 0, 7*w).Add(-time.Hour).Unix()
	return "type=AVC msg=audit(" + itoaT(at) + ".000:" + itoaT(int64(serial)) + `): apparmor="ALLOWED" operation="open" profile="` + profile + `" name="` + path + `" pid=7 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=1` + "\n"
}

func itoaT(n int64) string { return strconv.FormatInt(n, 10) }

// 12.4: each review leaves its verdicts and rules under the state
// directory, and the next shows the trend: new rules since the last
// review, how long a profile has been quiet, when it was promoted.
func TestReviewHistoryTrend(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state")
	write(t, filepath.Join(dir, "ctsec-web"), complainHeader+"profile \"ctsec-web\" flags=(complain) {\n  /srv/known r,\n}\n")
	// Week 0: one rule. Week 1: three more. Weeks 2 and 3: quiet.
	weekly(t, dir, state, 0, event(0, 1, "ctsec-web", "/srv/a")+event(0, 2, "ctsec-web", "/srv/known"))
	rv := weekly(t, dir, state, 1, event(1, 3, "ctsec-web", "/srv/a")+event(1, 4, "ctsec-web", "/srv/b")+
		event(1, 5, "ctsec-web", "/srv/c")+event(1, 6, "ctsec-web", "/srv/d"))
	p, _ := rv.Profile("ctsec-web")
	if p.Trend == nil || p.Trend.NewRules != 3 || !strings.Contains(p.Trend.Summary, "3 new rule(s) since the last review") {
		t.Fatalf("week 1 trend: %+v", p.Trend)
	}
	// The rules were added by hand; the service goes on the same way.
	write(t, filepath.Join(dir, "ctsec-web"), complainHeader+"profile \"ctsec-web\" flags=(complain) {\n  /srv/* r,\n}\n")
	weekly(t, dir, state, 2, event(2, 7, "ctsec-web", "/srv/a"))
	rv = weekly(t, dir, state, 3, event(3, 8, "ctsec-web", "/srv/b"))
	p, _ = rv.Profile("ctsec-web")
	if p.Trend == nil || !strings.Contains(p.Trend.Summary, "quiet for 2 week(s)") || p.Verdict != VerdictReady {
		t.Fatalf("week 3: %s %+v", p.Verdict, p.Trend)
	}
	var text strings.Builder
	rv.WriteText(&text)
	if !strings.Contains(text.String(), "trend: 0 new rule(s) since the last review") || !strings.Contains(text.String(), "quiet for 2 week(s)") {
		t.Errorf("text:\n%s", text.String())
	}

	// promote records when the profile went to enforce; the review says so.
	at := reviewNow.AddDate(0, 0, 7*3+1)
	res, err := SetMode(context.Background(), []string{"ctsec-web"}, "enforce", ChangeOptions{Root: t.TempDir(), Dir: dir,
		StateDir: state, Write: true, Clock: clock.Fixed(at)})
	if err != nil || res[0].Warning != "" {
		t.Fatalf("promote: %v %+v", err, res)
	}
	rv = weekly(t, dir, state, 4, event(4, 9, "ctsec-web", "/srv/c"))
	p, _ = rv.Profile("ctsec-web")
	if p.Trend == nil || p.Trend.ModeChange != "promoted" || !p.Trend.ModeChanged.Equal(at) || !strings.Contains(p.Trend.Summary, "promoted on "+at.Format("2006-01-02")) {
		t.Errorf("after promote: %+v", p.Trend)
	}
	if _, err := SetMode(context.Background(), []string{"ctsec-web"}, "complain", ChangeOptions{Root: t.TempDir(), Dir: dir,
		StateDir: state, Write: true, Clock: clock.Fixed(at.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	modes, _ := History{Dir: HistoryDir(state)}.Modes()
	if len(modes) != 2 || modes[0].Mode != "enforce" || modes[1].Mode != "complain" || modes[1].Command != "apparmor demote" {
		t.Errorf("modes %+v", modes)
	}
}

// The history is read back only from a state directory nobody else can
// write: a group-writable one is refused, and nothing is taken from it.
func TestReviewHistoryUntrusted(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	h := History{Dir: HistoryDir(state)}
	rv := Review{Until: reviewNow, WindowCovered: true, Profiles: []ProfileReview{{Profile: "ctsec-web", Verdict: VerdictReady}}}
	if err := h.Record(&rv); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(h.reviewsDir()); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("reviews dir: %v %v", st.Mode(), err)
	}
	if got, err := h.Reviews(reviewNow.Add(time.Second), 5); err != nil || len(got) != 1 {
		t.Fatalf("reviews: %v %v", got, err)
	}
	os.Chmod(h.reviewsDir(), 0o770)
	if _, err := h.Reviews(reviewNow.Add(time.Second), 5); !safefile.IsUntrusted(err) {
		t.Errorf("group-writable history read: %v", err)
	}
	if err := h.Record(&rv); !safefile.IsUntrusted(err) {
		t.Errorf("group-writable history written: %v", err)
	}
}

// 12.4: the events of a profile are attributed to the container that runs
// under it, asked from the real engine; a profile two containers share is
// said to be shared.
func TestReviewAttributesContainers(t *testing.T) {
	docker := testenv.Docker(t)
	image := testenv.Busybox(t)
	base := "ctsec-aa-attr-" + filepath.Base(t.TempDir())
	names := map[string]string{base + "-one": "ctsec-attr-one", base + "-a": "ctsec-attr-two", base + "-b": "ctsec-attr-two"}
	for n, profile := range names {
		out, err := exec.Command(docker, "create", "--name", n, "--security-opt", "apparmor="+profile, image, "true").CombinedOutput()
		if err != nil {
			t.Fatalf("docker create: %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command(docker, "rm", "-f", n).Run() })
	}
	cli, err := engine.Connect("")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	cs, err := Containers(context.Background(), cli)
	if err != nil {
		t.Fatal(err)
	}
	rv := reviewText(t, nil, avc(1, `apparmor="ALLOWED" operation="open" profile="ctsec-attr-one" name="/x" pid=7 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=1`)+
		avc(2, `apparmor="ALLOWED" operation="open" profile="ctsec-attr-two" name="/y" pid=7 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=1`), ReviewOptions{})
	rv.AddContainers(cs)
	one, _ := rv.Profile("ctsec-attr-one")
	two, _ := rv.Profile("ctsec-attr-two")
	if one.AttributedTo != base+"-one" || len(one.Containers) != 1 {
		t.Errorf("one: %q %+v", one.AttributedTo, one.Containers)
	}
	if two.AttributedTo != "" || len(two.Containers) != 2 {
		t.Errorf("two: %q %+v", two.AttributedTo, two.Containers)
	}
	var text strings.Builder
	rv.WriteText(&text)
	if !strings.Contains(text.String(), "events of container "+base+"-one") || !strings.Contains(text.String(), "shared by 2 containers") {
		t.Errorf("text:\n%s", text.String())
	}
}
