package auditlog

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// libapparmorOut prints an event the way libapparmor's test_multi.c does, so
// results can be compared with the .out vectors byte for byte.
func libapparmorOut(name string, e *Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "START\nFile: %s\nEvent type: AA_RECORD_%s\n", name, e.Kind)
	str := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	num := func(k string, v int64) {
		if v != 0 {
			fmt.Fprintf(&b, "%s: %d\n", k, v)
		}
	}
	str("Audit ID", e.AuditID())
	str("Operation", e.Operation)
	str("Mask", e.Mask)
	str("Denied Mask", e.DeniedMask)
	if e.FSUID != -1 {
		fmt.Fprintf(&b, "fsuid: %d\n", e.FSUID)
	}
	if e.OUID != -1 {
		fmt.Fprintf(&b, "ouid: %d\n", e.OUID)
	}
	str("Profile", e.Profile)
	str("Peer profile", e.PeerProfile)
	str("Peer", e.Peer)
	str("Name", e.Name)
	str("Command", e.Command)
	if e.HasName2 {
		fmt.Fprintf(&b, "Name2: %s\n", e.Name2)
	}
	str("Namespace", e.Namespace)
	str("Attribute", e.Attribute)
	num("Task", e.Task)
	num("Parent", e.Parent)
	num("Token", int64(e.Token))
	str("Info", e.Info)
	str("Peer info", e.PeerInfo)
	num("ErrorCode", e.ErrorCode)
	num("PID", e.PID)
	num("Peer PID", e.PeerPID)
	str("Net Addr", e.NetAddr)
	str("Peer Addr", e.PeerAddr)
	str("Network family", e.Family)
	str("Socket type", e.SockType)
	str("Protocol", e.Protocol)
	str("Local addr", e.LocalAddr)
	str("Foreign addr", e.ForeignAddr)
	num("Local port", e.LocalPort)
	num("Foreign port", e.ForeignPort)
	str("DBus bus", e.DBusBus)
	str("DBus path", e.DBusPath)
	str("DBus interface", e.DBusInterface)
	str("DBus member", e.DBusMember)
	str("Signal", e.Signal)
	str("FS Type", e.FSType)
	str("Flags", e.Flags)
	str("Src name", e.SrcName)
	str("Execpath", e.ExecPath)
	str("Class", e.Class)
	num("Epoch", e.Epoch)
	num("Audit subid", int64(e.Serial))
	return b.String()
}

// minConformance is the pass count this parser reaches on the 179 vectors;
// it may only go up. The cases that differ are listed by the test.
const minConformance = 179

func TestLibapparmorConformance(t *testing.T) {
	dir := testenv.Shared(t, "conformance", "libapparmor-test_multi")
	ins, err := filepath.Glob(filepath.Join(dir, "*.in"))
	if err != nil || len(ins) == 0 {
		t.Fatalf("no vectors in %s: %v", dir, err)
	}
	pass := 0
	var failed []string
	for _, in := range ins {
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(strings.TrimSuffix(in, ".in") + ".out")
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 1023 { // test_multi.c reads at most 1023 bytes
			data = data[:1023]
		}
		ev := ParseRecord(data)
		got := libapparmorOut(filepath.Base(in), &ev)
		if got == string(want) {
			pass++
			continue
		}
		failed = append(failed, filepath.Base(in))
		t.Logf("%s differs:\n--- want\n%s--- got\n%s", filepath.Base(in), want, got)
	}
	t.Logf("libapparmor test_multi conformance: %d/%d pass", pass, len(ins))
	if pass < minConformance {
		t.Errorf("conformance %d/%d below the recorded minimum %d; differing: %s",
			pass, len(ins), minConformance, strings.Join(failed, " "))
	}
}

func testenvShared(t *testing.T) string {
	return testenv.Shared(t, "conformance", "libapparmor-test_multi")
}
