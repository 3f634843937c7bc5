package main

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// leanPair builds the two binaries scripts/install.sh installs, with its
// recipe (scripts/build.sh) and in its layout: PREFIX/bin/ctsec (the lean
// build) and PREFIX/libexec/ctsec/ctsec-compose.
func leanPair(t *testing.T) (lean, full string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	testenv.Tool(t, "go")
	prefix := t.TempDir()
	cmd := exec.Command(testenv.Tool(t, "bash"), "-c", `. scripts/build.sh && build_pair "$1" test`, "build", prefix)
	cmd.Dir = testenv.ModuleRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/build.sh: %v\n%s", err, b)
	}
	return filepath.Join(prefix, "bin", "ctsec"), filepath.Join(prefix, "libexec", "ctsec", "ctsec-compose")
}

type procResult struct {
	stdout, stderr string
	code           int
}

func runBinary(t *testing.T, bin string, env []string, args ...string) procResult {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1", "COLUMNS=100"}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running %s %v: %v", bin, args, err)
	}
	return procResult{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// TestLean builds the pair once and checks what the lean build is for and
// what it must not change.
func TestLean(t *testing.T) {
	lean, full := leanPair(t)
	t.Run("links", func(t *testing.T) { leanLinks(t, lean, full) })
	t.Run("init", func(t *testing.T) { leanInit(t, lean) })
	t.Run("prefault", func(t *testing.T) { leanPrefault(t, lean) })
	t.Run("delegates", func(t *testing.T) { leanDelegates(t, lean, full) })
	t.Run("without helper", func(t *testing.T) { leanWithoutHelper(t, lean, full) })
}

// leanLinks is the point of the lean build: the libraries whose init was
// most of every command's start-up are not in it.
func leanLinks(t *testing.T, lean, full string) {
	heavy := []string{
		"github.com/compose-spec/compose-go/v2",
		"github.com/santhosh-tekuri/jsonschema/v6",
		"github.com/cpuguy83/go-md2man/v2",
		"github.com/russross/blackfriday/v2",
		// moby's client, and with it the image-reference regexps and
		// OpenTelemetry: the lean commands use engine.Client.
		"github.com/moby/moby/client",
		"github.com/distribution/reference",
		"go.opentelemetry.io/otel",
		// OCI's image-spec and its digest package (regexps compiled in
		// init), linked by moby's container and image types: the lean
		// commands decode into engine's own (internal/engine/types.go).
		"github.com/opencontainers/go-digest",
		"github.com/opencontainers/image-spec",
	}
	deps := func(bin string) map[string]bool {
		bi, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, d := range bi.Deps {
			m[d.Path] = true
		}
		return m
	}
	leanDeps, fullDeps := deps(lean), deps(full)
	// Static: no dynamic loader or shared libraries to map at start-up.
	f, err := elf.Open(lean)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if libs, _ := f.ImportedLibraries(); len(libs) != 0 || f.Section(".interp") != nil {
		t.Errorf("the lean build is dynamically linked (%v)", libs)
	}
	for _, p := range heavy {
		if leanDeps[p] {
			t.Errorf("the lean build links %s", p)
		}
		if !fullDeps[p] {
			t.Errorf("ctsec-compose does not link %s: the check above proves nothing", p)
		}
	}
}

// leanPrefault: the kernel populated every read-only segment of the lean
// binary before its start (internal/prefault), as strace sees the calls.
func leanPrefault(t *testing.T, lean string) {
	f, err := elf.Open(lean)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[uint64]uint64{} // page-aligned start → end
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_W == 0 {
			want[p.Vaddr&^4095] = p.Vaddr + p.Memsz
		}
	}
	out, err := exec.Command(testenv.Tool(t, "strace"), "-e", "trace=madvise", "-o", "/dev/stdout", lean, "version").Output()
	if err != nil {
		t.Fatalf("strace: %v\n%s", err, out)
	}
	// madvise(0x401000, 7083601, MADV_POPULATE_READ) = 0
	for _, line := range strings.Split(string(out), "\n") {
		var start, n uint64
		var rc int
		if _, err := fmt.Sscanf(line, "madvise(%v, %d, MADV_POPULATE_READ) = %d", &start, &n, &rc); err != nil {
			continue
		}
		if end, ok := want[start]; ok && start+n == end && rc == 0 {
			delete(want, start)
		}
	}
	for start, end := range want {
		t.Errorf("segment %#x-%#x not populated at start; strace saw:\n%s", start, end, out)
	}
}

// leanInit keeps start-up work from creeping back: Go reports each
// package's initialisation (GODEBUG=inittrace=1) with the bytes it
// allocated, which do not depend on the machine's speed. ctsec's own
// packages compile their regexps and templates on first use.
func leanInit(t *testing.T, lean string) {
	r := runBinary(t, lean, []string{"GODEBUG=inittrace=1"}, "version")
	if r.code != 0 {
		t.Fatalf("version: %+v", r)
	}
	// All packages together allocate about 140 KB (yaml.v3 25 KB,
	// encoding/xml 19 KB, unicode 11 KB the largest); moby's container
	// and image types brought go-digest's 90 KB more.
	const ownLimit, allLimit = 16 << 10, 192 << 10
	var all, n int
	for _, line := range strings.Split(r.stderr, "\n") {
		// init PKG @T ms, C ms clock, B bytes, A allocs
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		b, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("inittrace line %q: %v", line, err)
		}
		n++
		all += b
		if strings.HasPrefix(f[1], "github.com/ctsec/ctsec/") && b > ownLimit {
			t.Errorf("%s allocates %d bytes in its init (limit %d): compile it on first use", f[1], b, ownLimit)
		}
	}
	if n < 50 {
		t.Fatalf("only %d init lines in:\n%s", n, r.stderr)
	}
	if all > allLimit {
		t.Errorf("start-up allocates %d bytes in package init (limit %d)", all, allLimit)
	}
}

// leanDelegates runs every kind of command line the lean build hands to
// ctsec-compose through both binaries: what the user sees is the same.
func leanDelegates(t *testing.T, lean, full string) {
	stack := testenv.Shared(t, "corpus", "compose", "awesome-compose", "nginx-flask-mysql", "compose.yaml")
	for _, args := range [][]string{
		{"--help"},
		{"compose"},
		{"compose", "--help"},
		{"help", "portainer"},
		{"help", "compose", "harden"},
		{"compose", "audit", stack},
		{"-f", "json", "compose", "audit", stack},
		{"compose", "audit", "--fail-on", "none", "-f", "sarif", stack},
		{"compose", "harden", stack},
		{"compose", "audit", "/nonexistent/compose.yaml"},
		{"compose", "bogus"},
		{"portainer", "stacks"},
		{"__complete", "compose", "ha"},
		{"__complete", "portainer", "--"},
		{"__complete", ""},
		{"version", "-f", "json"},
		{"seccomp", "--help"},
		{"completion", "bash"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			got := runBinary(t, lean, nil, args...)
			want := runBinary(t, full, nil, args...)
			if got != want {
				t.Errorf("lean build:\n%+v\nctsec-compose:\n%+v", got, want)
			}
			if want.stdout == "" && want.stderr == "" {
				t.Errorf("no output at all: the comparison proves nothing")
			}
		})
	}
	t.Run("man", func(t *testing.T) {
		leanDir, fullDir := t.TempDir(), t.TempDir()
		if r := runBinary(t, lean, nil, "man", "--dir", leanDir); r.code != 0 {
			t.Fatalf("man: %+v", r)
		}
		if r := runBinary(t, full, nil, "man", "--dir", fullDir); r.code != 0 {
			t.Fatalf("man: %+v", r)
		}
		for _, page := range []string{"ctsec.1", "ctsec-compose-harden.1", "ctsec-portainer-stacks.1", "ctsec-host-apply.1"} {
			a, err := os.ReadFile(filepath.Join(leanDir, page))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(fullDir, page))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("%s differs between the builds", page)
			}
		}
	})
}

// leanWithoutHelper: a lean ctsec installed alone still runs what it links
// and says in one line what is missing for the rest.
func leanWithoutHelper(t *testing.T, lean, full string) {
	alone := copyExecutable(t, lean, filepath.Join(t.TempDir(), "bin", "ctsec"), 0o755)
	if r := runBinary(t, alone, nil, "version"); r.code != 0 || !strings.Contains(r.stdout, "ctsec") {
		t.Errorf("version without ctsec-compose: %+v", r)
	}
	r := runBinary(t, alone, nil, "compose", "audit", "x.yml")
	if r.code != 2 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 ||
		!strings.Contains(r.stderr, "ctsec-compose") || !strings.Contains(r.stderr, "scripts/install.sh") {
		t.Errorf("compose without ctsec-compose: want exit 2 and one line naming what is missing, got %+v", r)
	}
	if c := composeDoctorCheck(t, alone); c.OK {
		t.Errorf("doctor without ctsec-compose: %+v", c)
	}
	if c := composeDoctorCheck(t, lean); !c.OK || c.Detail != "run through "+full {
		t.Errorf("doctor beside ctsec-compose: %+v", c)
	}
	if r := runBinary(t, alone, []string{"CTSEC_COMPOSE=" + full}, "compose", "--help"); r.code != 0 || !strings.Contains(r.stdout, "harden") {
		t.Errorf("CTSEC_COMPOSE=%s: %+v", full, r)
	}
	// A helper others could replace would run as root: refused, with what to do.
	writable := copyExecutable(t, full, filepath.Join(t.TempDir(), "ctsec-compose"), 0o777)
	if r := runBinary(t, alone, []string{"CTSEC_COMPOSE=" + writable}, "compose", "--help"); r.code != 2 || !strings.Contains(r.stderr, "chmod go-w") {
		t.Errorf("a world-writable helper: want exit 2, got %+v", r)
	}
	openDir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(openDir, 0o755); err != nil {
		t.Fatal(err)
	}
	inOpen := copyExecutable(t, full, filepath.Join(openDir, "ctsec-compose"), 0o755)
	if err := os.Chmod(openDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if r := runBinary(t, alone, []string{"CTSEC_COMPOSE=" + inOpen}, "compose", "--help"); r.code != 2 || !strings.Contains(r.stderr, "not sticky") {
		t.Errorf("a helper in a world-writable directory: want exit 2, got %+v", r)
	}
	if r := runBinary(t, alone, []string{"CTSEC_COMPOSE=" + alone}, "compose", "--help"); r.code != 2 || !strings.Contains(r.stderr, "itself") {
		t.Errorf("CTSEC_COMPOSE naming the lean build: want exit 2, not a loop; got %+v", r)
	}
	if r := runBinary(t, alone, []string{"CTSEC_COMPOSE=ctsec-compose"}, "compose", "--help"); r.code != 2 || !strings.Contains(r.stderr, "absolute") {
		t.Errorf("relative CTSEC_COMPOSE: want exit 2, got %+v", r)
	}
}

// composeDoctorCheck is what bin's doctor says of the compose commands.
func composeDoctorCheck(t *testing.T, bin string) doctorCheck {
	t.Helper()
	r := runBinary(t, bin, nil, "doctor", "--fail-on", "none", "-f", "json")
	var doc struct {
		Data doctorResult `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("doctor -f json: %v\n%+v", err, r)
	}
	for _, c := range doc.Data.Checks {
		if c.Rule == "doctor/compose-commands" {
			return c
		}
	}
	t.Fatalf("doctor has no doctor/compose-commands check:\n%s", r.stdout)
	return doctorCheck{}
}

// copyExecutable copies the program src to dst (making dst's directory)
// with mode perm, whatever the umask.
func copyExecutable(t *testing.T, src, dst string, perm os.FileMode) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, perm); err != nil {
		t.Fatal(err)
	}
	return dst
}
