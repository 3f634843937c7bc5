package seccomp

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
)

var amd64Target = Target{Arch: "amd64", Caps: DockerDefaultCaps, Kernel: KernelVersion{6, 1}}

// TestConformanceFixtures: every moby fixture must load (upstream's
// LoadProfile accepts them all) and validate with zero errors.
func TestConformanceFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.Shared(t, "conformance", "moby-seccomp"), "*.json"))
	if err != nil || len(files) < 4 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	res := NewResolver()
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			p, schema, err := Load(file)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			v := Validate(p, schema, amd64Target, res)
			var errs []report.Finding
			for _, f := range v.Findings {
				if f.Severity >= report.High {
					errs = append(errs, f)
				}
			}
			if filepath.Base(file) == "example.json" {
				// Upstream only loads it; its syslog errnoRet 12345 makes
				// runc fail to start a container (verified with dockerd), so
				// ctsec must say so, at the errnoRet's position.
				if len(errs) != 1 || errs[0].Rule != RuleErrnoRet || errs[0].Line != 30 || errs[0].Column != 25 || errs[0].Path != "syscalls[3].errnoRet" {
					t.Errorf("example.json errors = %+v", errs)
				}
				return
			}
			for _, f := range errs {
				t.Errorf("error finding: %s %s %s", f.Where(), f.Rule, f.Message)
			}
			if v.Compiled == nil || v.Compiled.Instructions == 0 {
				t.Errorf("not compiled: %+v", v.Compiled)
			}
		})
	}
}

func loadFixture(t *testing.T, name string) *Profile {
	t.Helper()
	p, _, err := Load(testenv.Shared(t, "conformance", "moby-seccomp", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadProfile mirrors upstream TestLoadProfile on example.json.
func TestLoadProfile(t *testing.T) {
	p := loadFixture(t, "example.json")
	e := p.Resolve(amd64Target)
	type rule struct {
		Names    []string
		Action   string
		ErrnoRet *uint
		Args     []Arg
	}
	var got []rule
	for _, r := range e.Rules {
		got = append(got, rule{r.Names, r.Action, r.ErrnoRet, r.Args})
	}
	want := []rule{
		{[]string{"clone"}, ActAllow, nil, []Arg{{Index: 0, Value: 2114060288, Op: "SCMP_CMP_MASKED_EQ"}}},
		{[]string{"open"}, ActAllow, nil, []Arg{}},
		{[]string{"close"}, ActAllow, nil, []Arg{}},
		{[]string{"syslog"}, ActErrno, errnoPtr(12345), []Arg{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rules = %+v\nwant %+v", got, want)
	}
	if e.DefaultAction != ActErrno || e.DefaultErrnoRet == nil || *e.DefaultErrnoRet != 1 || p.Architectures != nil {
		t.Errorf("profile = %+v", p)
	}
}

// TestLoadConditional mirrors upstream TestLoadConditional.
func TestLoadConditional(t *testing.T) {
	p := loadFixture(t, "conditional_include.json")
	for _, tt := range []struct {
		caps []string
		want []string
	}{
		{nil, []string{"chmod", "ptrace"}},
		{[]string{"CAP_SYSLOG"}, []string{"chmod", "syslog", "ptrace"}},
		{[]string{"CAP_SYS_ADMIN"}, []string{"chmod"}},
	} {
		e := p.Resolve(Target{Arch: "amd64", Caps: tt.caps, Kernel: KernelVersion{6, 1}})
		var got []string
		for _, r := range e.Rules {
			got = append(got, r.Names[0])
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("caps %v: %v, want %v", tt.caps, got, tt.want)
		}
	}
}

// TestLoadLegacyProfile mirrors upstream TestLoadLegacyProfile.
func TestLoadLegacyProfile(t *testing.T) {
	p := loadFixture(t, "default-old-format.json")
	if p.DefaultAction != ActErrno || len(p.Syscalls) != 311 {
		t.Fatalf("default %s, %d rules", p.DefaultAction, len(p.Syscalls))
	}
	if !reflect.DeepEqual(p.Architectures, []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}) {
		t.Errorf("arches %v", p.Architectures)
	}
	r := p.Syscalls[0]
	if !reflect.DeepEqual(r.AllNames(), []string{"accept"}) || r.Action != ActAllow || len(r.Args) != 0 {
		t.Errorf("first rule %+v", r)
	}
}

// TestDefaultKernelAndCaps: default.json's ptrace needs kernel 4.8, clone3
// gets ENOSYS without CAP_SYS_ADMIN and is allowed with it.
func TestDefaultKernelAndCaps(t *testing.T) {
	p := loadFixture(t, "default.json")
	has := func(e *Effective, name, action string) bool {
		for _, r := range e.Rules {
			if contains(r.Names, name) && r.Action == action {
				return true
			}
		}
		return false
	}
	old := p.Resolve(Target{Arch: "amd64", Caps: DockerDefaultCaps, Kernel: KernelVersion{4, 4}})
	cur := p.Resolve(amd64Target)
	admin := p.Resolve(Target{Arch: "amd64", Caps: append([]string{"CAP_SYS_ADMIN"}, DockerDefaultCaps...), Kernel: KernelVersion{6, 1}})
	arm := p.Resolve(Target{Arch: "arm64", Caps: DockerDefaultCaps, Kernel: KernelVersion{6, 1}})
	switch {
	case has(old, "ptrace", ActAllow) || !has(cur, "ptrace", ActAllow):
		t.Error("ptrace minKernel 4.8 not applied")
	case !has(cur, "clone3", ActErrno) || has(cur, "clone3", ActAllow):
		t.Error("clone3 without CAP_SYS_ADMIN should be ERRNO")
	case has(admin, "clone3", ActErrno) || !has(admin, "clone3", ActAllow):
		t.Error("clone3 with CAP_SYS_ADMIN should be allowed")
	case !has(cur, "arch_prctl", ActAllow) || has(arm, "arch_prctl", ActAllow) || !has(arm, "cacheflush", ActAllow):
		t.Error("includes.arches not applied")
	}
	if got := p.FilterArches("amd64"); !reflect.DeepEqual(got, []string{"amd64", "x86", "x32"}) {
		t.Errorf("archMap for amd64 = %v", got)
	}
	if got := p.FilterArches("arm64"); !reflect.DeepEqual(got, []string{"arm64", "arm"}) {
		t.Errorf("archMap for arm64 = %v", got)
	}
}

// TestUpstreamInlineVectors are the inline profiles of upstream's
// seccomp_linux_test.go: three must load, two must fail with moby's text.
func TestUpstreamInlineVectors(t *testing.T) {
	load := []string{
		`{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 6}`,
		`{"defaultAction": "SCMP_ACT_ERRNO", "listenerPath": "/var/run/seccompaget.sock", "listenerMetadata": "opaque-metadata"}`,
		`{"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"]}`,
	}
	for _, src := range load {
		p, schema, err := Parse("inline.json", []byte(src))
		if err != nil || len(schema) != 0 {
			t.Errorf("%s: %v %v", src, err, schema)
		}
		_ = p
	}
	p, _, _ := Parse("x.json", []byte(load[0]))
	if p.DefaultErrnoRet == nil || *p.DefaultErrnoRet != 6 {
		t.Error("defaultErrnoRet lost")
	}
	p, _, _ = Parse("x.json", []byte(load[1]))
	if p.ListenerPath != "/var/run/seccompaget.sock" || p.ListenerMetadata != "opaque-metadata" {
		t.Error("listener fields lost")
	}
	p, _, _ = Parse("x.json", []byte(load[2]))
	if !reflect.DeepEqual(p.Flags, []string{"SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"}) {
		t.Errorf("flags %v", p.Flags)
	}
	fail := map[string]string{
		`{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["A", "B", "C"], "archMap": [{"architecture": "A", "subArchitectures": ["B", "C"]}]}`: "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'",
		`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "accept", "names": ["accept"], "action": "SCMP_ACT_ALLOW"}]}`:                    "both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'",
	}
	for src, want := range fail {
		_, schema, err := Parse("inline.json", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, f := range schema {
			found = found || (f.Message == want && f.Severity == report.High && f.Line == 1 && f.Column > 1)
		}
		if !found {
			t.Errorf("%s: no finding %q in %+v", src, want, schema)
		}
	}
}

// TestMinKernelVectors are upstream's TestMarshalUnmarshalFilter values.
func TestMinKernelVectors(t *testing.T) {
	bad := []string{`3`, `3.12`, `true`, `"0.0"`, `"3"`, `".3"`, `"3."`, `"true"`, `"3.12.1\""`, `"4.15abc"`, `"300.1"`}
	good := []string{`null`, `""`, `"0.5"`, `"0.50"`, `"5.0"`, `"50.0"`, `"4.15"`}
	src := func(v string) []byte {
		return []byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":` + v + `}}]}`)
	}
	for _, v := range bad {
		_, schema, err := Parse("k.json", src(v))
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if len(schema) != 1 || schema[0].Rule != RuleMinKernel || !strings.Contains(schema[0].Message, "invalid kernel version") || schema[0].Line != 1 {
			t.Errorf("minKernel %s: %+v", v, schema)
		}
	}
	for _, v := range good {
		_, schema, err := Parse("k.json", src(v))
		if err != nil || len(schema) != 0 {
			t.Errorf("minKernel %s: %v %+v", v, err, schema)
		}
	}
}

// TestParseKernel mirrors upstream TestParseRelease.
func TestParseKernel(t *testing.T) {
	good := map[string]KernelVersion{
		"3.8": {3, 8}, "3.8.0": {3, 8}, "3.8.0-19-generic": {3, 8}, "3.4.54.longterm-1": {3, 4},
		"3.10.0-862.2.3.el7.x86_64": {3, 10}, "3.12.8tag": {3, 12}, "3.12-1-amd64": {3, 12},
		"3.12foobar": {3, 12}, "99.999.999-19-generic": {99, 999},
	}
	for in, want := range good {
		if got, err := ParseKernel(in); err != nil || got != want {
			t.Errorf("%q = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "3", "3.", "3a", "3.a", "a", "a.a", "a.a.a-a", "-3", "-3.", "-3.8", "-3.-8", "3.-8"} {
		if _, err := ParseKernel(in); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}
