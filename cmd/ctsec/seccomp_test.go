package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
	"github.com/ctsec/ctsec/profiles"
)

type jsonReport struct {
	Findings []struct {
		Rule     string `json:"rule"`
		Severity string `json:"severity"`
		Message  string `json:"message"`
		File     string `json:"file"`
		Line     int    `json:"line"`
		Column   int    `json:"column"`
	} `json:"findings"`
	Data json.RawMessage `json:"data"`
}

func decodeReport(t *testing.T, out string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, out)
	}
	return r
}

func fixture(t *testing.T, name string) string {
	return testenv.Shared(t, "conformance", "moby-seccomp", name)
}

func TestSeccompValidateFixtures(t *testing.T) {
	for _, name := range []string{"default.json", "default-old-format.json", "conditional_include.json"} {
		out, errOut, code := ctsec(t, "seccomp", "validate", "--arch", "amd64", fixture(t, name))
		if code != 0 {
			t.Errorf("%s: exit %d\n%s%s", name, code, out, errOut)
		}
	}
	// example.json loads in moby but runc cannot use its errnoRet 12345.
	out, _, code := ctsec(t, "seccomp", "validate", "--format", "json", fixture(t, "example.json"))
	r := decodeReport(t, out)
	if code != 1 || len(r.Findings) == 0 || r.Findings[0].Rule != "seccomp/errno-ret" || r.Findings[0].Line != 30 {
		t.Errorf("example.json: exit %d %+v", code, r.Findings)
	}
	// Errors fail validation even with --fail-on none.
	if _, _, code := ctsec(t, "seccomp", "validate", "--fail-on", "none", fixture(t, "example.json")); code != 1 {
		t.Errorf("--fail-on none: exit %d", code)
	}
	var data struct {
		Profiles []struct {
			Compiled struct {
				Instructions int      `json:"instructions"`
				Arches       []string `json:"arches"`
			} `json:"compiled"`
		} `json:"profiles"`
	}
	out, _, _ = ctsec(t, "seccomp", "validate", "--arch", "amd64", "--format", "json", fixture(t, "default.json"))
	v := data.Profiles
	if err := json.Unmarshal(decodeReport(t, out).Data, &data); err != nil || len(data.Profiles) != 1 {
		t.Fatalf("validate data: %v %s", err, out)
	}
	if v = data.Profiles; v[0].Compiled.Instructions == 0 || len(v[0].Compiled.Arches) != 3 {
		t.Errorf("validate data: %+v", v)
	}
}

// TestSeccompBadInput: anything that is not a profile is exit 2 with one
// line naming the file and position.
func TestSeccompBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := filepath.Join(dir, "big.json")
	f, _ := os.Create(big)
	f.Truncate(100 << 20)
	f.Close()
	tests := []struct {
		name, path, want string
	}{
		{"empty", write("empty.json", nil), "empty.json: profile is empty"},
		{"truncated", write("trunc.json", []byte("{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscalls\": [{\"names\": [\"re")), "trunc.json:2:29: invalid JSON: unexpected end of input"},
		{"100 MB", big, "big.json: file is larger than the 1 MiB limit"},
		{"deep", write("deep.json", bytes.Repeat([]byte("[{\"a\":"), 100000)), "deep.json:1:"},
		{"wrong type", write("type.json", []byte(`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": true}]}`)), "type.json:1:80: syscalls[0].action: want a string, found a boolean"},
		{"missing", filepath.Join(dir, "nope.json"), "no such file"},
	}
	outDir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, args := range [][]string{
				{"seccomp", "validate", tt.path},
				{"seccomp", "lint", tt.path},
				{"seccomp", "compile", tt.path, "-o", filepath.Join(outDir, "x.bpf")},
				{"seccomp", "diff", "default", tt.path},
				{"seccomp", "exec", "--profile", tt.path, "--", "true"},
			} {
				out, errOut, code := ctsec(t, args...)
				if code != 2 || !strings.Contains(errOut, tt.want) || !strings.HasPrefix(errOut, "ctsec: ") || strings.Count(errOut, "\n") != 1 || out != "" {
					t.Errorf("%v: exit %d stdout %q stderr %q, want %q", args, code, out, errOut, tt.want)
				}
			}
			// profile gen reads the same files as lists of syscalls: its
			// messages differ (an empty file lists nothing), the contract not.
			args := []string{"profile", "gen", "x", "--syscalls-from", tt.path, "--dir", outDir}
			out, errOut, code := ctsec(t, args...)
			if code != 2 || !strings.Contains(errOut, filepath.Base(tt.path)) || strings.Count(errOut, "\n") != 1 || len(errOut) > 300 || out != "" {
				t.Errorf("%v: exit %d stdout %q stderr %q", args, code, out, errOut)
			}
		})
	}
	if left, _ := os.ReadDir(outDir); len(left) != 0 {
		t.Errorf("bad input left files behind: %v", left)
	}
}

// TestProfileGenJunkLists: --syscalls-from files that are not lists of
// syscalls fail with the file and line of the first bad name.
func TestProfileGenJunkLists(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, src, want string }{
		{"prose.txt", "not json at all\n", `prose.txt:1: "not" is not a syscall`},
		{"typo.txt", "read\nopnat\n", `typo.txt:2: "opnat" is not a syscall (did you mean "openat"?)`},
		{"other.json", `{"syscalls":[{"name":"read"},{"name":"nosuchcall"}]}`, `other.json: syscalls[1].name: "nosuchcall" is not a syscall`},
		{"array.json", `["read"]`, `array.json:1: "[\"read\"]" is not a syscall name`},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, tt.name)
		os.WriteFile(p, []byte(tt.src), 0o644)
		out, errOut, code := ctsec(t, "profile", "gen", "x", "--syscalls-from", p, "--dir", dir)
		if code != 2 || !strings.Contains(errOut, tt.want) || strings.Count(errOut, "\n") != 1 || out != "" {
			t.Errorf("%s: exit %d %q, want %q", tt.name, code, errOut, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.seccomp.json")); err == nil {
		t.Error("a refused gen wrote a profile")
	}
}

// TestSeccompSeveralFiles: one broken file among several does not hide the
// others' findings, and still ends with exit 2.
func TestSeccompSeveralFiles(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{\n  \"defaultAction\": "), 0o644)
	out, errOut, code := ctsec(t, "seccomp", "validate", "--format", "json", fixture(t, "example.json"), bad)
	r := decodeReport(t, out)
	rules := map[string]int{}
	for _, f := range r.Findings {
		rules[f.Rule] = f.Line
	}
	if code != 2 || rules["seccomp/errno-ret"] != 30 || rules["seccomp/load"] != 2 || !strings.Contains(errOut, "1 of 2 profiles could not be loaded") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("exit %d, %q, findings %+v", code, errOut, r.Findings)
	}
	if _, _, code := ctsec(t, "seccomp", "lint", "strict", bad); code != 2 {
		t.Errorf("lint: exit %d", code)
	}
}

func TestSeccompLintCLI(t *testing.T) {
	p := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(p, []byte(`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
"syscalls":[{"names":["read","mount","userfaultfd"],"action":"SCMP_ACT_ALLOW"}]}`), 0o644)
	out, _, code := ctsec(t, "seccomp", "lint", "--format", "json", p)
	r := decodeReport(t, out)
	rules := map[string]int{}
	for _, f := range r.Findings {
		if f.Rule == "seccomp/dangerous-syscall" && f.Severity == "high" && f.Line == 2 {
			rules[f.Message[:strings.IndexByte(f.Message, ' ')]]++
		}
	}
	if code != 1 || rules["mount"] != 1 || rules["userfaultfd"] != 1 {
		t.Errorf("exit %d, findings %+v", code, r.Findings)
	}
	if _, _, code := ctsec(t, "seccomp", "lint", "strict"); code != 0 {
		t.Errorf("strict lints with exit %d", code)
	}
}

func TestSeccompDiffShowCompile(t *testing.T) {
	out, _, code := ctsec(t, "seccomp", "diff", "default", "strict", "--format", "json")
	var d struct {
		Removed []struct{ Name string } `json:"removed"`
		Added   []struct{ Name string } `json:"added"`
	}
	if err := json.Unmarshal(decodeReport(t, out).Data, &d); err != nil || code != 0 {
		t.Fatal(err, code)
	}
	found := false
	for _, r := range d.Removed {
		found = found || r.Name == "ptrace"
	}
	if !found || len(d.Added) != 0 {
		t.Errorf("diff %+v", d)
	}
	out, _, _ = ctsec(t, "seccomp", "diff", "default", "strict")
	if !strings.Contains(out, "removed (") || !strings.Contains(out, "ptrace") {
		t.Errorf("text diff:\n%s", out)
	}

	for _, name := range profiles.SeccompNames() {
		out, _, code := ctsec(t, "seccomp", "show", name)
		want, _ := profiles.Seccomp(name)
		if code != 0 || strings.TrimSpace(out) != strings.TrimSpace(string(want)) {
			t.Errorf("show %s: exit %d", name, code)
		}
	}
	if _, errOut, code := ctsec(t, "seccomp", "show", "lax"); code != 2 || !strings.Contains(errOut, "no built-in seccomp profile") {
		t.Errorf("show lax: %d %q", code, errOut)
	}

	bpf := filepath.Join(t.TempDir(), "default.bpf")
	out, _, code = ctsec(t, "seccomp", "compile", "--arch", "amd64", "default", "-o", bpf)
	data, err := os.ReadFile(bpf)
	if code != 0 || err != nil || len(data) == 0 || len(data)%8 != 0 || !strings.Contains(out, "BPF instructions for amd64+x86+x32") || !strings.Contains(out, "  x32 ") {
		t.Errorf("compile: exit %d, %d bytes, %v, %q", code, len(data), err, out)
	}
	out, _, code = ctsec(t, "seccomp", "compile", "--pfc", "--arch", "amd64", "strict")
	if code != 0 || !strings.Contains(out, "# filter for arch x86_64") || !strings.Contains(out, "# filter for syscall \"read\"") {
		t.Errorf("pfc: exit %d\n%.400s", code, out)
	}
	if _, errOut, code := ctsec(t, "seccomp", "compile", fixture(t, "example.json")); code != 2 || !strings.Contains(errOut, "example.json:30:25: errno 12345") {
		t.Errorf("compile of invalid profile: %d %q", code, errOut)
	}
}

// TestSeccompCompileRunc: the count follows the runc that loads the filter:
// runc 1.1 loads libseccomp's linear filter (1,001 instructions for Docker's
// default) behind its 14-instruction ENOSYS stub, runc 1.2 the binary tree.
// Before, compile reported 1,246 whatever the runc, where runc 1.1.5's kernel
// program has 1,015 (seccomp.TestCompileMatchesKernel reads it back).
func TestSeccompCompileRunc(t *testing.T) {
	for _, tt := range []struct {
		runc                string
		total, filter, stub int
		optimize            int
	}{{"1.1.5", 1015, 1001, 14, 1}, {"1.2.0", 1260, 1246, 14, 2}, {"v1.4.2", 1260, 1246, 14, 2}} {
		out, errOut, code := ctsec(t, "seccomp", "compile", "--arch", "amd64", "--runc", tt.runc, "default", "--format", "json")
		var got struct {
			Data struct {
				Instructions int            `json:"instructions"`
				Filter       int            `json:"filter_instructions"`
				Stub         int            `json:"stub_instructions"`
				Optimize     int            `json:"optimize"`
				PerArch      map[string]int `json:"per_arch"`
				Runc         struct{ Version, Source string }
			}
		}
		if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
			t.Fatalf("--runc %s: exit %d %s %s", tt.runc, code, out, errOut)
		}
		d := got.Data
		if d.Instructions != tt.total || d.Filter != tt.filter || d.Stub != tt.stub || d.Optimize != tt.optimize || len(d.PerArch) != 3 || d.Runc.Source != "--runc" {
			t.Errorf("--runc %s: %+v", tt.runc, d)
		}
	}
	if _, errOut, code := ctsec(t, "seccomp", "compile", "--runc", "latest", "default"); code != 2 || !strings.Contains(errOut, "--runc") {
		t.Errorf("--runc latest: exit %d %q", code, errOut)
	}
}

func TestSeccompExecCLI(t *testing.T) {
	bb := testenv.Tool(t, "busybox")
	dir := t.TempDir()
	p := filepath.Join(dir, "nomkdir.json")
	os.WriteFile(p, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`), 0o644)
	out, errOut, code := ctsec(t, "seccomp", "exec", "--profile", p, "--", bb, "mkdir", filepath.Join(dir, "d"))
	if code != 1 || !strings.Contains(out+errOut, "Permission denied") {
		t.Errorf("mkdir with EACCES rule: exit %d %q %q", code, out, errOut)
	}
	out, _, code = ctsec(t, "seccomp", "exec", "--profile", p, "--", bb, "echo", "fine")
	if code != 0 || strings.TrimSpace(out) != "fine" {
		t.Errorf("echo: %d %q", code, out)
	}
	if _, errOut, code := ctsec(t, "seccomp", "exec", "--", bb, "true"); code != 2 || !strings.Contains(errOut, "--profile is required") {
		t.Errorf("no profile: %d %q", code, errOut)
	}
	// A kill by the filter is named as such; any other signal is not blamed on it.
	kill := filepath.Join(dir, "killmkdir.json")
	os.WriteFile(kill, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_KILL_PROCESS"}]}`), 0o644)
	if _, errOut, code := ctsec(t, "seccomp", "exec", "--profile", kill, "--", bb, "mkdir", filepath.Join(dir, "k")); code != 128+31 || !strings.Contains(errOut, "SIGSYS: the profile kills") {
		t.Errorf("killed by the filter: %d %q", code, errOut)
	}
	if _, errOut, code := ctsec(t, "seccomp", "exec", "--profile", p, "--", bb, "sh", "-c", "kill -TERM $$"); code != 128+15 || strings.Contains(errOut, "profile") || !strings.Contains(errOut, "killed by signal terminated") {
		t.Errorf("killed by SIGTERM: %d %q", code, errOut)
	}
}

func TestProfileGen(t *testing.T) {
	dir := t.TempDir()
	state := t.TempDir()
	obs := filepath.Join(dir, "observed.json")
	os.WriteFile(obs, []byte(`{"syscalls":[{"name":"getrandom","arch":"x86_64","count":3,"first_seen":"2026-11-25T10:00:00Z","last_seen":"2026-11-25T10:00:01Z"},{"name":"uname","arch":"x86_64","count":1}],"command":["x"]}`), 0o644)
	out, errOut, code := ctsec(t, "profile", "gen", "api", "--base", "runtime", "--syscalls-from", obs, "--allow", "ppoll", "--dir", dir, "--state-dir", state)
	path := filepath.Join(dir, "api.seccomp.json")
	if code != 0 || !strings.Contains(out, "security_opt:\n  - seccomp="+path) {
		t.Fatalf("gen: exit %d\n%s%s", code, out, errOut)
	}
	data, _ := os.ReadFile(path)
	for _, want := range []string{`"getrandom"`, `"uname"`, `"ppoll"`, `"execve"`, `"comment": "added by ctsec profile gen"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("generated profile lacks %s", want)
		}
	}
	if _, _, code := ctsec(t, "seccomp", "validate", path); code != 0 {
		t.Errorf("generated profile does not validate (exit %d)", code)
	}
	// Same again: unchanged. Different without --force: refused, file kept.
	if _, _, code := ctsec(t, "profile", "gen", "api", "--base", "runtime", "--syscalls-from", obs, "--allow", "ppoll", "--dir", dir, "--state-dir", state); code != 0 {
		t.Errorf("idempotent run: exit %d", code)
	}
	_, errOut, code = ctsec(t, "profile", "gen", "api", "--base", "strict", "--dir", dir, "--state-dir", state)
	if again, _ := os.ReadFile(path); code != 1 || !strings.Contains(errOut, "use --force") || !bytes.Equal(again, data) {
		t.Errorf("overwrite without --force: exit %d %q", code, errOut)
	}
	out, _, code = ctsec(t, "profile", "gen", "api", "--base", "strict", "--dir", dir, "--state-dir", state, "--force", "--format", "json")
	var res struct {
		Data struct {
			Backup string `json:"backup"`
			Files  []struct {
				Kind    string `json:"kind"`
				Written bool   `json:"written"`
			} `json:"files"`
		} `json:"data"`
	}
	written := 0
	err := json.Unmarshal([]byte(out), &res)
	for _, f := range res.Data.Files {
		if f.Written {
			written++
		}
	}
	if err != nil || code != 0 || res.Data.Backup == "" || written != 1 {
		t.Fatalf("--force: exit %d %v %s", code, err, out)
	}
	backups, _ := filepath.Glob(filepath.Join(state, "backups", res.Data.Backup, "*api.seccomp.json"))
	if len(backups) != 1 {
		t.Errorf("no backup in %s", state)
	} else if b, _ := os.ReadFile(backups[0]); !bytes.Equal(b, data) {
		t.Error("backup differs from the replaced file")
	}
	plain := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(plain, nil, 0o644)
	for _, bad := range [][]string{
		{"profile", "gen", "../evil", "--dir", dir},
		{"profile", "gen", "x", "--allow", "opnat", "--dir", dir},
		{"profile", "gen", "x", "--base", "lax", "--dir", dir},
		{"profile", "gen", "x", "--allow", "opnat", "--dir", filepath.Join(dir, "missing")},
		{"profile", "gen", "x", "--dir", filepath.Join(plain, "sub")},
		{"profile", "gen", "x", "--dir", plain},
	} {
		if _, errOut, code := ctsec(t, bad...); code != 2 || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d %q", bad, code, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.seccomp.json")); err == nil {
		t.Error("a refused gen wrote a file")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); err == nil {
		t.Error("a refused gen made its output directory")
	}
	// A missing output directory is made when the gen goes through.
	nested := filepath.Join(dir, "new", "profiles")
	if _, errOut, code := ctsec(t, "profile", "gen", "x", "--dir", nested, "--state-dir", t.TempDir()); code != 0 {
		t.Fatalf("gen into a new directory: exit %d %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(nested, "x.seccomp.json")); err != nil {
		t.Errorf("gen into a new directory: %v", err)
	}
}

// TestDockerStrictProfile is the end-to-end proof: dockerd starts a real
// container under the generated strict profile, the container runs, and
// syscalls the profile denies fail inside it (mount even with CAP_SYS_ADMIN,
// where Docker's default would allow it; chmod, denied with --deny). The
// same profile under `ctsec seccomp exec` denies the same outside Docker.
func TestDockerStrictProfile(t *testing.T) {
	testenv.Root(t)
	image := testenv.Busybox(t)
	docker := testenv.Docker(t)
	dir := t.TempDir()
	if _, errOut, code := ctsec(t, "profile", "gen", "web", "--base", "strict", "--deny", "chmod,fchmodat,fchmodat2", "--dir", dir); code != 0 {
		t.Fatalf("gen: %d %s", code, errOut)
	}
	profile := filepath.Join(dir, "web.seccomp.json")
	run := func(seccompOpt string, script string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		// apparmor=unconfined: on hosts with AppArmor, docker-default would
		// deny mount itself and blur what the seccomp profile does.
		out, err := exec.CommandContext(ctx, docker, "run", "--rm", "--network", "none", "--cap-add", "SYS_ADMIN",
			"--security-opt", "apparmor=unconfined", "--security-opt", "seccomp="+seccompOpt, image, "sh", "-c", script).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("docker run: %v: %s", err, out)
		}
		return string(out), code
	}
	script := `echo started; touch /tmp/f; chmod 600 /tmp/f && echo chmod-ok; mount -t tmpfs none /tmp && echo mount-ok; exit 0`
	out, code := run(profile, script)
	if code != 0 || !strings.Contains(out, "started") {
		t.Fatalf("container under the strict profile did not run: %d %s", code, out)
	}
	if strings.Contains(out, "chmod-ok") || !strings.Contains(out, "chmod: /tmp/f: Operation not permitted") {
		t.Errorf("chmod not denied in the container:\n%s", out)
	}
	if strings.Contains(out, "mount-ok") || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("mount not denied in the container:\n%s", out)
	}
	// Control: Docker's default with CAP_SYS_ADMIN allows both, so the
	// denials above are the profile's doing.
	def := filepath.Join(dir, "default.json")
	data, _ := profiles.Seccomp("default")
	os.WriteFile(def, data, 0o644)
	out, _ = run(def, script)
	if !strings.Contains(out, "chmod-ok") || !strings.Contains(out, "mount-ok") {
		t.Errorf("control run under Docker's default:\n%s", out)
	}

	// Outside a container, the same profile under ctsec seccomp exec.
	bb := testenv.Tool(t, "busybox")
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, nil, 0o644)
	o, e, code := ctsec(t, "seccomp", "exec", "--profile", profile, "--caps", "ALL", "--", bb, "chmod", "600", f)
	if code == 0 || !strings.Contains(o+e, "Operation not permitted") {
		t.Errorf("seccomp exec chmod: %d %q %q", code, o, e)
	}
	o, e, code = ctsec(t, "seccomp", "exec", "--profile", profile, "--caps", "ALL", "--", bb, "unshare", "-m", "true")
	if code == 0 || !strings.Contains(o+e, "Operation not permitted") {
		t.Errorf("seccomp exec unshare: %d %q %q", code, o, e)
	}
	if o, e, code := ctsec(t, "seccomp", "exec", "--profile", profile, "--", bb, "cat", f); code != 0 {
		t.Errorf("allowed command failed: %d %q %q", code, o, e)
	}
}

// TestDockerRuntimeProfile: the runtime base set is enough for runc to start
// a container and run a static binary, and nothing more is allowed.
func TestDockerRuntimeProfile(t *testing.T) {
	testenv.Root(t)
	image := testenv.Busybox(t)
	docker := testenv.Docker(t)
	dir := t.TempDir()
	if _, errOut, code := ctsec(t, "profile", "gen", "base", "--base", "runtime", "--dir", dir); code != 0 {
		t.Fatalf("gen: %d %s", code, errOut)
	}
	run := func(argv ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		args := append([]string{"run", "--rm", "--network", "none",
			"--security-opt", "seccomp=" + filepath.Join(dir, "base.seccomp.json"), image}, argv...)
		out, err := exec.CommandContext(ctx, docker, args...).CombinedOutput()
		return string(out), err
	}
	// busybox runs its applets in-process: no fork, so a shell cannot be used.
	if out, err := run("echo", "started"); err != nil || strings.TrimSpace(out) != "started" {
		t.Fatalf("container under the runtime profile: %v\n%s", err, out)
	}
	out, err := run("mkdir", "/tmp/d")
	if err == nil || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("mkdir is not in the runtime set but succeeded: %v\n%s", err, out)
	}
}

// TestSeccompDiffInvalid: diff refuses a profile with schema errors (Docker
// would ignore the misspelt key and allow everything the diff calls removed).
func TestSeccompDiffInvalid(t *testing.T) {
	p := filepath.Join(t.TempDir(), "typo.json")
	os.WriteFile(p, []byte(`{"defaultAction":"SCMP_ACT_ERRNO","sycalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`), 0o644)
	out, errOut, code := ctsec(t, "seccomp", "diff", "default", p)
	if code != 2 || !strings.Contains(errOut, "typo.json:1:") || !strings.Contains(errOut, "run ctsec seccomp validate") || strings.Count(errOut, "\n") != 1 || out != "" {
		t.Errorf("exit %d stdout %q stderr %q", code, out, errOut)
	}
}

// TestSeccompShowJSON: the listing and a named profile are reports like
// every command's JSON; in text a named profile is printed as itself.
func TestSeccompShowJSON(t *testing.T) {
	out, _, code := ctsec(t, "seccomp", "show", "--format", "json")
	r := decodeReport(t, out)
	var list struct {
		Profiles []struct {
			Name, Description string
			Profile           json.RawMessage
		}
	}
	if err := json.Unmarshal(r.Data, &list); err != nil || code != 0 || r.Findings == nil || len(list.Profiles) != len(profiles.SeccompNames()) {
		t.Errorf("exit %d %v %s", code, err, out)
	}
	want, _ := profiles.Seccomp("strict")
	out, _, _ = ctsec(t, "seccomp", "show", "strict")
	if strings.TrimSuffix(out, "\n") != strings.TrimSuffix(string(want), "\n") {
		t.Error("show strict is not the profile byte for byte")
	}
	out, _, _ = ctsec(t, "seccomp", "show", "strict", "--format", "json")
	if err := json.Unmarshal(decodeReport(t, out).Data, &list); err != nil || len(list.Profiles) != 1 || list.Profiles[0].Name != "strict" {
		t.Fatalf("show strict --format json: %v\n%s", err, out)
	}
	var got, exp any
	json.Unmarshal(list.Profiles[0].Profile, &got)
	json.Unmarshal(want, &exp)
	if !reflect.DeepEqual(got, exp) {
		t.Error("show strict --format json does not carry the profile")
	}
}

// TestProfileGenPassesItsOwnValidation (issue 16): what profile gen writes
// passes `seccomp validate --fail-on medium` for every base, on this host's
// libseccomp too. The names Docker's default lists that libseccomp 2.5.4
// cannot resolve (mseal, listmount...) were nine medium findings; in an
// allow-list they fail closed (the call stays denied), which is low. Lint
// passes at medium for strict and runtime; Docker's default keeps its real
// socketcall-bypass finding.
func TestProfileGenPassesItsOwnValidation(t *testing.T) {
	for _, base := range []string{"default", "strict", "runtime"} {
		dir := t.TempDir()
		if _, errOut, code := ctsec(t, "profile", "gen", "svc", "--base", base, "--allow", "io_setup", "-o", dir, "--state-dir", t.TempDir()); code != 0 {
			t.Fatalf("profile gen --base %s: exit %d: %s", base, code, errOut)
		}
		file := filepath.Join(dir, "svc.seccomp.json")
		cmds := [][]string{{"seccomp", "validate", "--fail-on", "medium", file}}
		if base != "default" {
			cmds = append(cmds, []string{"seccomp", "lint", "--fail-on", "medium", file})
		}
		for _, cmd := range cmds {
			if out, errOut, code := ctsec(t, cmd...); code != 0 {
				t.Errorf("--base %s: %v: exit %d\n%s%s", base, cmd, code, out, errOut)
			}
		}
	}
}
