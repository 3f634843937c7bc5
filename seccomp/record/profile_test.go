package record

import (
	"encoding/json"
	"testing"
	"time"

	ctseccomp "github.com/ctsec/ctsec/seccomp"
	"github.com/moby/profiles/seccomp"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

func TestProfileShape(t *testing.T) {
	now := time.Now()
	obs := &Observation{
		Syscalls: []Syscall{{Name: "read", Arch: "x86_64", Count: 1, FirstSeen: now, LastSeen: now}},
		Implicit: implicitFor(SourceProcess),
	}
	p, err := Profile(obs, ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.DefaultAction != "SCMP_ACT_ERRNO" || p.DefaultErrnoRet == nil || *p.DefaultErrnoRet != 1 {
		t.Errorf("default %s %v", p.DefaultAction, p.DefaultErrnoRet)
	}
	allowed := map[string]bool{}
	for _, n := range p.Syscalls[0].Names {
		allowed[n] = true
	}
	for _, want := range []string{"read", "exit_group", "rt_sigreturn", "restart_syscall", "clock_gettime"} {
		if !allowed[want] {
			t.Errorf("%s not allowed", want)
		}
	}
	if allowed["capset"] {
		t.Error("runtime base added without --base runtime")
	}
	if last := p.Syscalls[len(p.Syscalls)-1]; last.Names[0] != "clone3" || *last.ErrnoRet != 38 {
		t.Errorf("clone3 rule %+v", last)
	}
	if err := verify(p); err != nil {
		t.Errorf("profile does not compile: %v", err)
	}
	withBase, err := Profile(obs, ProfileOptions{Base: BaseRuntime})
	if err != nil || len(withBase.Syscalls[0].Names) <= len(p.Syscalls[0].Names) {
		t.Errorf("runtime base: %v", err)
	}
	if _, err := Profile(obs, ProfileOptions{Base: "default"}); err == nil {
		t.Error("unknown base accepted")
	}
}

// TestRecordingProfile: every syscall libseccomp knows is notified except
// the implicit container set, and the profile compiles.
func TestRecordingProfile(t *testing.T) {
	p, err := RecordingProfile("/run/x.sock", "meta")
	if err != nil {
		t.Fatal(err)
	}
	if p.ListenerPath != "/run/x.sock" || p.ListenerMetadata != "meta" || p.DefaultAction != "SCMP_ACT_LOG" {
		t.Errorf("header %+v", p.LinuxSeccomp)
	}
	arches, _ := nativeArches()
	all := syscallNames(arches)
	n := len(p.Syscalls[0].Names) + len(p.Syscalls[1].Names)
	if n < len(all)-2 || n > len(all) { // sigreturn exists only on compat arches
		t.Errorf("%d names in the profile, libseccomp knows %d", n, len(all))
	}
	for _, name := range p.Syscalls[1].Names {
		if name == "write" {
			t.Error("write is notified: runc refuses that")
		}
	}
	if err := verify(p); err != nil {
		t.Errorf("recording profile does not compile: %v", err)
	}
	if native, _ := libseccomp.GetNativeArch(); native == libseccomp.ArchAMD64 && len(p.Architectures) != 3 {
		t.Errorf("architectures %v", p.Architectures)
	}
}

// TestRecordingProfileLint: ctsec seccomp lint recognises the recording
// profile and says the one thing that matters about it (high: it confines
// nothing), not the deny-list, dangerous-syscall and clone3 findings its
// design implies; a recorded profile gets no recording verdict.
func TestRecordingProfileLint(t *testing.T) {
	rec, err := RecordingProfile("/run/x.sock", "")
	if err != nil {
		t.Fatal(err)
	}
	rules := lintRules(t, rec)
	if rules[ctseccomp.LintRecording] != 1 || rules[ctseccomp.LintDefaultAllow]+rules[ctseccomp.LintDangerous]+rules[ctseccomp.LintClone3] != 0 {
		t.Errorf("recording profile lints to %v", rules)
	}
	now := time.Now()
	recorded, err := Profile(&Observation{Syscalls: []Syscall{{Name: "read", Arch: "x86_64", Count: 1, FirstSeen: now, LastSeen: now}}}, ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rules := lintRules(t, recorded); rules[ctseccomp.LintRecording] != 0 || rules[ctseccomp.LintClone3] != 0 {
		t.Errorf("recorded profile lints to %v", rules)
	}
}

func lintRules(t *testing.T, p *seccomp.Seccomp) map[string]int {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	prof, _, err := ctseccomp.Parse("p.json", data)
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]int{}
	for _, f := range ctseccomp.Lint(prof, ctseccomp.DefaultTarget()) {
		rules[f.Rule]++
	}
	return rules
}
