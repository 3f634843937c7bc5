package schedule

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

// Every job's units pass systemd-analyze verify with no warning: systemd
// would silently ignore a hardening line it cannot parse.
func TestUnitsVerify(t *testing.T) {
	testenv.Tool(t, "systemd-analyze")
	dir := t.TempDir()
	s := Settings{Self: "/bin/true", StateDir: "/var/lib/ctsec", RandomDelay: 30 * time.Minute, Keep: 30, Policy: "/etc/ctsec/policy yaml"}
	var paths []string
	for _, j := range Jobs {
		for kind, data := range map[string][]byte{"service": j.ServiceUnit(s), "timer": j.TimerUnit(s)} {
			p := filepath.Join(dir, j.Unit(kind))
			os.WriteFile(p, data, 0o644)
			paths = append(paths, p)
		}
		svc := string(j.ServiceUnit(s))
		for _, want := range []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/ctsec", "CapabilityBoundingSet="} {
			if !strings.Contains(svc, want) {
				t.Errorf("%s: no %s", j.Unit("service"), want)
			}
		}
		if strings.Contains(svc, "policy") != (j.Name == "host-audit" || j.Name == "status") {
			t.Errorf("%s: the policy is passed to the wrong jobs:\n%s", j.Name, svc)
		}
		tm := string(j.TimerUnit(s))
		for _, want := range []string{"Persistent=true", "RandomizedDelaySec=1800", "OnCalendar=" + j.Calendar, "WantedBy=timers.target"} {
			if !strings.Contains(tm, want) {
				t.Errorf("%s: no %s", j.Unit("timer"), want)
			}
		}
	}
	if err := Verify(context.Background(), execx.Runner{}, paths); err != nil {
		t.Fatal(err)
	}
	// A unit systemd only warns about is refused.
	bad := filepath.Join(dir, "ctsec-x.service")
	os.WriteFile(bad, []byte("[Service]\nType=oneshot\nExecStart=/bin/true\nNoNewPrivileges=maybe\n"), 0o644)
	if err := Verify(context.Background(), execx.Runner{}, []string{bad}); err == nil || !strings.Contains(err.Error(), "maybe") {
		t.Errorf("a unit with an unparsable setting: %v", err)
	}
	missing := filepath.Join(dir, "ctsec-y.service")
	os.WriteFile(missing, []byte("[Service]\nType=oneshot\nExecStart=/nonexistent/ctsec\n"), 0o644)
	if err := Verify(context.Background(), execx.Runner{}, []string{missing}); err == nil {
		t.Error("a unit whose binary is missing passed")
	}
	if err := CheckCalendar(context.Background(), execx.Runner{}, "Mon 04:00"); err != nil {
		t.Error(err)
	}
	if err := CheckCalendar(context.Background(), execx.Runner{}, "every tuesday"); err == nil {
		t.Error("a bad calendar passed")
	}
}

func TestCompare(t *testing.T) {
	f := func(rule, target, msg string, line int) report.Finding {
		return report.Finding{Rule: rule, Target: target, Message: msg, Line: line, Severity: report.High}
	}
	prev := []report.Finding{f("a/x", "t1", "m", 1), f("a/x", "t2", "m", 1), f("a/y", "t", "dup", 0), f("a/y", "t", "dup", 0)}
	cur := []report.Finding{f("a/x", "t1", "m", 9), f("a/z", "t", "new", 0), f("a/y", "t", "dup", 0)}
	d := Compare(prev, cur)
	if len(d.New) != 1 || d.New[0].Rule != "a/z" {
		t.Errorf("new: %+v", d.New)
	}
	if len(d.Fixed) != 2 || d.Unchanged != 2 {
		t.Errorf("fixed %+v, unchanged %d (a moved line is the same finding; one of two duplicates is fixed)", d.Fixed, d.Unchanged)
	}
	if d := Compare(nil, nil); d.New == nil || d.Fixed == nil {
		t.Error("empty lists must be [] in JSON, not null")
	}
}

// Each run is kept with its diff against the previous one; rotation keeps
// the newest; a state directory others can write is refused.
func TestReportsKeepDiffRotate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	r := Reports{Dir: dir, Clock: clock.NewStep(testenv.Now(t), time.Hour)}
	one := report.Finding{Rule: "status/ssh-key-only", Target: "sshd passwordauthentication", Message: "yes", Severity: report.High}
	two := report.Finding{Rule: "status/firewall", Target: "ufw", Message: "off", Severity: report.High}
	runs := [][]report.Finding{{one}, {one, two}, {two}, {two}}
	for i, fs := range runs {
		raw := []byte(`{"tool":"ctsec","command":"status","findings":` + mustJSON(t, fs) + `}`)
		rec := &Record{Job: "status", Report: raw}
		if err := r.Save(rec, fs, 3); err != nil {
			t.Fatal(err)
		}
		switch i {
		case 0:
			if rec.Diff.Previous != "" || len(rec.Diff.New) != 1 {
				t.Errorf("first run: %+v", rec.Diff)
			}
		case 1:
			if len(rec.Diff.New) != 1 || rec.Diff.New[0].Rule != "status/firewall" || len(rec.Diff.Fixed) != 0 {
				t.Errorf("second run: %+v", rec.Diff)
			}
		case 2:
			if len(rec.Diff.Fixed) != 1 || rec.Diff.Fixed[0].Rule != "status/ssh-key-only" || len(rec.Diff.New) != 0 {
				t.Errorf("third run: %+v", rec.Diff)
			}
		case 3:
			if len(rec.Diff.New)+len(rec.Diff.Fixed) != 0 || rec.Diff.Unchanged != 1 {
				t.Errorf("fourth run: %+v", rec.Diff)
			}
		}
	}
	files, err := r.List("status")
	if err != nil || len(files) != 3 {
		t.Fatalf("kept %d reports (%v), want 3", len(files), err)
	}
	latest, err := r.Latest("status")
	if err != nil || latest.Diff.Unchanged != 1 {
		t.Fatalf("latest: %+v %v", latest, err)
	}
	if st, _ := os.Stat(files[0]); st.Mode().Perm() != 0o600 {
		t.Errorf("a report is %04o, want 0600", st.Mode().Perm())
	}
	// A run that could not run keeps its error and is skipped as a base.
	failed := &Record{Job: "status", Exit: 2, Error: "no engine"}
	if err := r.Save(failed, nil, 3); err != nil {
		t.Fatal(err)
	}
	next := &Record{Job: "status", Report: []byte(`{"findings":[]}`)}
	if err := r.Save(next, nil, 3); err != nil || len(next.Diff.Fixed) != 1 {
		t.Errorf("after a failed run the diff is against the last report: %+v %v", next.Diff, err)
	}
	os.Chmod(filepath.Join(dir, "reports", "status"), 0o777)
	if _, err := r.List("status"); err == nil {
		t.Error("a reports directory others can write is trusted")
	}
	if _, err := r.List("../../etc"); err == nil {
		t.Error("a job name as a path")
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/local/bin/ctsec": "/usr/local/bin/ctsec",
		"/var/lib/my state":    `"/var/lib/my state"`,
		`/x/"q"$HOME%n`:        `"/x/\"q\"$$HOME%%n"`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
	if _, err := PlanInstall(t.TempDir(), Jobs, Settings{Self: "/bin/true", StateDir: "/var/lib/ctsec\nExecStartPre=/bin/evil"}, nil); err == nil {
		t.Error("a state directory with a newline went into a unit")
	}
	// Found in the lab guest: PrivateTmp hides a state directory in /tmp
	// from the service, which then fails at NAMESPACE.
	if _, err := PlanInstall("/", Jobs, Settings{Self: "/bin/true", StateDir: "/tmp/x/state"}, nil); err == nil || !strings.Contains(err.Error(), "PrivateTmp") {
		t.Errorf("a state directory under /tmp: %v", err)
	}
}

// FuzzServiceUnit: whatever the paths, the service unit has exactly one
// ExecStart line and every hardening line, so no path can add a setting.
func FuzzServiceUnit(f *testing.F) {
	f.Add("/usr/local/bin/ctsec", "/var/lib/ctsec", "")
	f.Add("/a b/c\"d", "/x%y$z", "/p;q")
	f.Fuzz(func(t *testing.T, self, state, policy string) {
		if !strings.HasPrefix(self, "/") || !strings.HasPrefix(state, "/") {
			return
		}
		p, err := PlanInstall(t.TempDir(), Jobs[2:3], Settings{Self: self, StateDir: state, Policy: policy, Keep: 1}, nil)
		if err != nil {
			return
		}
		unit := string(p.Files[0].data)
		if strings.Count(unit, "\nExecStart=") != 1 || strings.Count(unit, "\nReadWritePaths=") != 1 {
			t.Fatalf("a path added lines to the unit:\n%s", unit)
		}
		for _, h := range Jobs[2].Hardening {
			if !strings.Contains(unit, "\n"+h+"\n") {
				t.Fatalf("lost %s:\n%s", h, unit)
			}
		}
	})
}

func mustJSON(t *testing.T, fs []report.Finding) string {
	r := report.New("x", fs, nil)
	b, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), `"findings":`)
	j := strings.Index(string(b), `,"summary"`)
	return string(b)[i+len(`"findings":`) : j]
}
