package auditlog

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func addSeeds(f *testing.F) {
	for _, s := range []string{
		`type=AVC msg=audit(1279948288.415:39): apparmor="DENIED" operation="open" parent=12332 profile="/usr/sbin/cupsd" name="/home/user/.ssh/" pid=12333 comm="ls" requested_mask="r" denied_mask="r" fsuid=0 ouid=1000`,
		"type=AVC msg=audit(1661734785.992:270): apparmor=\"ALLOWED\" operation=\"open\" profile=\"/usr/bin/dolphin\" name=\"/x\" fsuid=1000 ouid=0\x1dFSUID=\"otis\"",
		`Jul 24 12:25:33 spriggan kernel: [42416.178567] type=1400 audit(1279967133.365:54): apparmor="DENIED" operation="open" profile="/usr/sbin/cupsd" name="/boot/" pid=19651 comm="ls" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`,
		`type=USER_AVC msg=audit(1375323416.656:167): pid=363 uid=102 msg='apparmor="DENIED" operation="dbus_bind"  bus="system" name="org.x" mask="bind" pid=2838 profile="/p"  exe="/bin/dbus-daemon"'`,
		`{"MESSAGE":"AVC apparmor=\"DENIED\" operation=\"open\" profile=\"p\" name=2F61","_TRANSPORT":"audit","_AUDIT_ID":"5","_SOURCE_REALTIME_TIMESTAMP":"1795000000000000"}`,
		`{"MESSAGE":[97,112,112,97,114,109,111,114,61],"__REALTIME_TIMESTAMP":"1"}`,
		`2013-01-01T15:09:04.562575-08:00 localhost kernel: [ 1911.569682] type=1400 audit(1357024144.556:6368): apparmor="ALLOWED" operation="open" comm=4143504920506F6C6C6572`,
		`[ 1612.746129] audit: type=1400 audit(1284061910.975:672): apparmor="DENIED" operation="capable" capability=23  capname="sys_nice"`,
		`Oct 29 09:20:01 host kernel: [87589.487390] kauditd_printk_skb: 36 callbacks suppressed`,
		`type=AVC msg=audit(1.1:1): apparmor="DENIED" operation="ptrace" target=8022C0FF81`,
		`type=AVC msg=audit(12799=====8288.415:39): apparmor="DENIED"`,
		`type=AVC msg=audit(1.2:3): apparmor="DENIED" name="unterminated`,
	} {
		f.Add([]byte(s))
	}
	ins, _ := filepath.Glob("../../../shared/conformance/libapparmor-test_multi/*.in")
	for _, in := range ins {
		if b, err := os.ReadFile(in); err == nil {
			f.Add(b)
		}
	}
}

// FuzzParseRecord: any input parses without panicking into a consistent event.
func FuzzParseRecord(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ev := ParseRecord(data)
		switch ev.Kind {
		case Invalid, Audit, Allowed, Denied, Hint, Status, Error:
		default:
			t.Fatalf("kind %q", ev.Kind)
		}
		if ev.Serial != 0 && ev.AuditID() == "" {
			t.Fatal("serial without audit id")
		}
		if ev.Millis < 0 || ev.Millis > 999 {
			t.Fatalf("millis %d", ev.Millis)
		}
	})
}

// FuzzReader: any stream reads without panicking, within the line bound,
// and yields only valid events.
func FuzzReader(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.Join([][]byte{data, data}, []byte("\n"))
		r := NewReader(bytes.NewReader(in), Options{MaxLine: 512})
		m := NewMerge(r)
		n := 0
		for {
			ev, err := m.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind == Invalid {
				t.Fatal("invalid event returned")
			}
			n++
		}
		st := r.Stats()
		if st.Bytes != int64(len(in)) || int64(n)+m.Duplicates != st.Events || st.Events > st.Lines {
			t.Fatalf("stats %+v, %d events, %d duplicates, %d bytes in", st, n, m.Duplicates, len(in))
		}
	})
}
