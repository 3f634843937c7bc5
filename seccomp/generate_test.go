package seccomp

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	res := NewResolver()
	p, err := Generate(GenOptions{Base: "strict", Allow: []string{"ptrace", "clone3", "read"}, Deny: []string{"chmod", "fchmodat", "fchmodat2"}}, res)
	if err != nil {
		t.Fatal(err)
	}
	e := p.Resolve(amd64Target)
	actionOf := func(name string) []string {
		var out []string
		for _, r := range e.Rules {
			if slices.Contains(r.Names, name) {
				out = append(out, r.Action)
			}
		}
		return out
	}
	if got := actionOf("chmod"); got != nil {
		t.Errorf("chmod still in %v", got)
	}
	if got := actionOf("ptrace"); !slices.Equal(got, []string{ActAllow}) {
		t.Errorf("ptrace: %v", got)
	}
	// clone3 allowed: the ENOSYS rule must go, or libseccomp sees a conflict.
	if got := actionOf("clone3"); !slices.Equal(got, []string{ActAllow}) {
		t.Errorf("clone3: %v", got)
	}
	last := p.Syscalls[len(p.Syscalls)-1]
	if last.Comment != GenComment || !slices.Equal(last.Names, []string{"clone3", "ptrace"}) {
		t.Errorf("added rule %+v (read is already allowed)", last)
	}
	data, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	q, schema, err := Parse("gen.json", data)
	if err != nil || len(schema) != 0 {
		t.Fatal(err, schema)
	}
	if v := Validate(q, schema, amd64Target, res); v.Errors() != 0 || v.Compiled == nil {
		t.Errorf("generated profile does not validate: %+v", v.Findings)
	}
	for _, bad := range []GenOptions{
		{Base: "nope"},
		{Base: "default", Allow: []string{"opnat"}},
		{Base: "default", Allow: []string{"../etc"}},
		{Base: "default", Allow: []string{"read"}, Deny: []string{"read"}},
	} {
		if _, err := Generate(bad, res); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if _, err := Generate(GenOptions{Base: "default", Allow: []string{"opnat"}}, res); !strings.Contains(err.Error(), `did you mean "openat"`) {
		t.Errorf("no suggestion: %v", err)
	}
}

func TestReadSyscalls(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	tests := []struct {
		name, src string
		want      []string
		err       string
	}{
		{"list", "# observed\nread\nwrite, openat # trailing\n\n", []string{"read", "write", "openat"}, ""},
		{"profile", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},{"names":["mount"],"action":"SCMP_ACT_ERRNO"}]}`, []string{"read", "write"}, ""},
		{"observation", `{"syscalls":[{"name":"read","arch":"x86_64","count":12,"first_seen":"2026-01-01T00:00:00Z","last_seen":"2026-01-01T00:00:01Z"},{"name":"futex","arch":"x86_64","count":1}],"command":["x"],"duration":"1s"}`, []string{"read", "futex"}, ""},
		{"bad name", "read\nrm -rf /\n", nil, `:2: "rm" is not a syscall`},
		{"bad token", "read\n-rf\n", nil, `:2: "-rf" is not a syscall name`},
		{"bad json", `{"syscalls":[`, nil, "unexpected end of input"},
		{"neither", `{"foo":1}`, nil, "not a seccomp profile"},
		{"empty", "  \n", nil, "no syscalls listed"},
		{"unknown in list", "read\nopnat\n", nil, `:2: "opnat" is not a syscall (did you mean "openat"?)`},
		{"prose", "not json at all\n", nil, `:1: "not" is not a syscall`},
		{"long junk", strings.Repeat("[", 100000) + "\n", nil, `:1: "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["… is not a syscall name`},
		{"unknown in observation", `{"syscalls":[{"name":"read"},{"name":"nosuchcall"}]}`, nil, `syscalls[1].name: "nosuchcall" is not a syscall`},
		{"unknown in profile", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","opnat"],"action":"SCMP_ACT_ALLOW"}]}`, nil, `:1:64: "opnat" is not a syscall`},
		{"obs no name", `{"syscalls":[{"arch":"x86_64"}]}`, nil, "syscalls[0] has no name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadSyscalls(write(tt.name, tt.src), NewResolver())
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("got %v %v", got, err)
			}
		})
	}
}

// FuzzReadSyscalls: any file yields names or a one-line error, never a panic.
func FuzzReadSyscalls(f *testing.F) {
	f.Add([]byte("read\nwrite\n# c\n"))
	f.Add([]byte(`{"syscalls":[{"name":"read"}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`))
	dir := f.TempDir()
	res := NewResolver()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "in")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadSyscalls(p, res); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
	})
}

// FuzzGenerate: whatever names are asked for, the generator refuses them or
// writes a profile that loads strictly and compiles.
func FuzzGenerate(f *testing.F) {
	f.Add("strict", "ptrace clone3", "chmod")
	f.Add("runtime", "read write openat", "")
	f.Add("default", "opnat", "read")
	res := NewResolver()
	f.Fuzz(func(t *testing.T, base, allow, deny string) {
		p, err := Generate(GenOptions{Base: base, Allow: strings.Fields(allow), Deny: strings.Fields(deny)}, res)
		if err != nil {
			return
		}
		data, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		q, schema, err := Parse("gen.json", data)
		if err != nil || len(schema) != 0 {
			t.Fatalf("generated profile does not load: %v %+v", err, schema)
		}
		if _, err := q.Resolve(amd64Target).Compile(); err != nil {
			t.Fatalf("generated profile does not compile: %v", err)
		}
	})
}
