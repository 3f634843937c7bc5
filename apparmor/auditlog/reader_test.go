package auditlog

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var mixedNow = time.Unix(1795500000, 0).Add(24 * time.Hour).UTC()

// readAll merges readers over the named testdata files and returns events
// and the combined stats.
func readAll(t *testing.T, opts Options, names ...string) ([]*Event, *Merge, Stats) {
	t.Helper()
	var readers []*Reader
	var srcs []Source
	for _, n := range names {
		f, err := os.Open(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		o := opts
		o.Name = n
		r := NewReader(f, o)
		readers = append(readers, r)
		srcs = append(srcs, r)
	}
	m := NewMerge(srcs...)
	var evs []*Event
	for {
		ev, err := m.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		e := *ev
		evs = append(evs, &e)
	}
	var total Stats
	for _, r := range readers {
		s := r.Stats()
		total.Lines += s.Lines
		total.Events += s.Events
		total.Malformed += s.Malformed
		total.Oversized += s.Oversized
		total.Loss.Add(s.Loss)
	}
	return evs, m, total
}

func TestMixedSourcesDedupAndLoss(t *testing.T) {
	evs, m, st := readAll(t, Options{Now: mixedNow}, "mixed/audit.log", "mixed/kern.log", "mixed/journal.json")
	var got []string
	for _, e := range evs {
		got = append(got, string(e.Kind)+" "+e.Operation+" "+e.Profile+" "+e.Name+" ["+e.Command+"] "+e.AuditID())
	}
	want := []string{
		"ALLOWED open ctsec-web /etc/nginx/nginx.conf [nginx] 1795500000.100:101",
		"ALLOWED open ctsec-web /var/log/nginx/my access.log [nginx worker] 1795500001.200:102",
		"ALLOWED capable ctsec-web net_bind_service [nginx] 1795500002.300:103",
		"ALLOWED dbus_method_call ctsec-web org.freedesktop.DBus [/usr/bin/dbus-daemon] 1795500003.400:104",
		"STATUS profile_replace unconfined ctsec-web [apparmor_parser] 1795500004.000:110",
		"ALLOWED connect ctsec-web  [nginx] 1795500005.000:105",
		"DENIED dbus_bind ctsec-web org.example.Web [] ",
		"ALLOWED signal ctsec-web  [nginx] 1795500010.000:111",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if m.Duplicates != 3 {
		t.Errorf("duplicates = %d, want 3 (101 via kern.log, 102 via journal audit, 105 via journal kernel)", m.Duplicates)
	}
	if st.Events != 11 {
		t.Errorf("events read before dedup = %d, want 11", st.Events)
	}
	wantLoss := Loss{BacklogExceeded: 1, AuditLostLines: 1, AuditLost: 12, Suppressed: 7, JournalMissed: 4, Unrelated: 3}
	st.Loss.Last = time.Time{}
	if st.Loss != wantLoss {
		t.Errorf("loss = %+v, want %+v", st.Loss, wantLoss)
	}
	if !st.Loss.Blocking() {
		t.Error("loss not blocking")
	}
}

func TestWindowAndOversized(t *testing.T) {
	long := "type=AVC msg=audit(1795500000.100:7): apparmor=\"DENIED\" operation=\"open\" name=\"/" + strings.Repeat("a", 300) + "\"\n"
	in := long +
		"type=AVC msg=audit(1700000000.000:8): apparmor=\"DENIED\" operation=\"open\" profile=\"old\" name=\"/x\"\n" +
		"type=AVC msg=audit(1795500000.000:9): apparmor=\"DENIED\" operation=\"open\" profile=\"new\" name=\"/y\"\n" +
		"type=AVC msg=audit(1795500000.000:10): apparmor=\"DENIED\" operation=\"open\" profile=\"unterminated name=\"/y\n"
	r := NewReader(strings.NewReader(in), Options{MaxLine: 200, Since: time.Unix(1790000000, 0)})
	var profiles []string
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		profiles = append(profiles, ev.Profile)
	}
	st := r.Stats()
	if strings.Join(profiles, ",") != "new" || st.Oversized != 1 || st.Outside != 1 || st.Malformed != 1 || st.Lines != 4 {
		t.Errorf("profiles %v stats %+v", profiles, st)
	}
}

func TestDedupWindowIsBounded(t *testing.T) {
	// Events one minute apart for a day: the dedup memory holds only the
	// window, not the day.
	var b strings.Builder
	for i := range 1440 {
		b.WriteString("type=AVC msg=audit(")
		b.WriteString(strconv.Itoa(1795500000 + i*60))
		b.WriteString(".000:")
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteString("): apparmor=\"ALLOWED\" operation=\"open\" profile=\"p\" name=\"/x\"\n")
	}
	m := NewMerge(NewReader(strings.NewReader(b.String()), Options{}))
	n := 0
	for {
		if _, err := m.Next(); err != nil {
			break
		}
		n++
	}
	if n != 1440 || len(m.seen) > 4 {
		t.Errorf("events %d, keys held %d (want ≤ 4 for a 2 min window)", n, len(m.seen))
	}
}

func TestSplitUserAVCIsJoined(t *testing.T) {
	dir := testenvShared(t)
	data, err := os.ReadFile(filepath.Join(dir, "testcase_dbus_09.in"))
	if err != nil {
		t.Fatal(err)
	}
	// The split record, then an ordinary one that must not be swallowed.
	in := string(data) + "\n" + `type=AVC msg=audit(1795500000.100:7): apparmor="DENIED" operation="open" profile="p" name="/x" requested_mask="r" denied_mask="r"` + "\n"
	r := NewReader(strings.NewReader(in), Options{})
	var got []string
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Operation+" "+ev.Command+" "+ev.AuditID())
	}
	want := "dbus_method_call /usr/bin/dbus-daemon 1561053426.749:186|open  1795500000.100:7"
	if strings.Join(got, "|") != want {
		t.Errorf("events %q, want %q", strings.Join(got, "|"), want)
	}
}
