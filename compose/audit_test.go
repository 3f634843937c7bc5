package compose

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/report"
)

func TestAuditRules(t *testing.T) {
	src, err := os.ReadFile("testdata/harden/unconfined.yml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse("unconfined.yml", src)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]report.Finding{}
	var all []string
	for _, f := range Audit(d) {
		key := fmt.Sprintf("%s@%d", f.Rule, f.Line)
		got[key] = f
		all = append(all, key+" "+f.Severity.String())
		if f.File != "unconfined.yml" || f.Line == 0 || f.Message == "" || f.Fix == "" {
			t.Errorf("finding lacks file, line, message or fix: %+v", f)
		}
	}
	want := []struct {
		rule string
		line int
		sev  report.Severity
	}{
		{RuleUnconfined, 5, report.High},        // seccomp:unconfined (colon form)
		{RuleUnconfined, 6, report.High},        // apparmor=unconfined
		{RuleNoNewPrivs, 7, report.Medium},      // no-new-privileges:false
		{RuleDangerousCap, 8, report.Critical},  // cap_add ALL
		{RulePidsLimit, 2, report.Medium},       // -1 is no limit
		{RuleDockerSocket, 11, report.Critical}, // docker.sock, even :ro
		{RuleSensitiveMount, 12, report.Medium}, // / read-only
		{RuleSensitiveMount, 13, report.High},   // /etc read-write
		{RuleDBPort, 16, report.High},           // 5432 on all interfaces
		{RuleSecretEnv, 19, report.Medium},      // literal password
		{RuleHostNamespace, 21, report.High},    // pid: host
		{RuleDockerSocket, 22, report.Critical}, // use_api_socket
		{RuleImageTag, 0, 0},                    // absent: ubuntu:24.04 is pinned
		{RuleMemoryLimit, 2, report.Medium},
		{RuleRootUser, 2, report.Low},
		{RuleWritableRootfs, 2, report.Low},
		{RuleHealthcheck, 2, report.Low},
	}
	for _, w := range want {
		key := fmt.Sprintf("%s@%d", w.rule, w.line)
		f, ok := got[key]
		if w.line == 0 {
			for k := range got {
				if strings.HasPrefix(k, w.rule+"@") {
					t.Errorf("unexpected %s", k)
				}
			}
			continue
		}
		if !ok {
			t.Errorf("missing %s; have %v", key, all)
			continue
		}
		if f.Severity != w.sev {
			t.Errorf("%s severity %v, want %v", key, f.Severity, w.sev)
		}
	}
	for k := range got {
		if strings.HasPrefix(k, RuleSensitiveMount) && strings.HasSuffix(k, "@14") {
			t.Errorf("/etc/localtime:ro flagged")
		}
		if strings.HasPrefix(k, RuleDBPort) && strings.HasSuffix(k, "@17") {
			t.Errorf("127.0.0.1-bound redis flagged")
		}
		if strings.HasPrefix(k, RuleSecretEnv) && strings.HasSuffix(k, "@20") {
			t.Errorf("${TOKEN} flagged as a literal secret")
		}
	}
}

func TestAuditNoNewPrivilegesSyntaxes(t *testing.T) {
	for _, opt := range []string{"no-new-privileges:true", "no-new-privileges=true", "no-new-privileges"} {
		d, err := Parse("f.yml", []byte("services:\n  a:\n    image: x:1\n    security_opt: [\""+opt+"\"]\n"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range Audit(d) {
			if f.Rule == RuleNoNewPrivs {
				t.Errorf("%s: flagged as missing", opt)
			}
		}
	}
}

func TestAuditHardenedIsQuieter(t *testing.T) {
	src := []byte("services:\n  a:\n    image: busybox:1.36\n")
	d, _ := Parse("f.yml", src)
	res, err := Harden(d, Options{Policy: Strict})
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := Parse("f.yml", res.Output)
	for _, f := range Audit(d2) {
		switch f.Rule {
		case RuleCapDropAll, RuleNoNewPrivs, RuleMemoryLimit, RulePidsLimit, RuleWritableRootfs:
			t.Errorf("still reported after harden: %s", f.Message)
		}
	}
}

// TestBadInput: every kind of bad input is one ParseError naming the file
// (and the line when there is one), and never a panic.
func TestBadInput(t *testing.T) {
	bomb := "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += n + ": &" + n + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n"
		prev = n
	}
	bomb += "services:\n  x:\n    image: busybox\n    command: *i\n"
	var many strings.Builder
	many.WriteString("name: many\nservices:\n")
	for i := 0; i <= MaxServices; i++ {
		fmt.Fprintf(&many, "  s%d: {image: busybox}\n", i)
	}
	tests := []struct {
		name, src string
		line      int
		msg       string
	}{
		{"invalid yaml", "services:\n  web:\n    image: [nginx\n  db: {}\n", 4, "invalid YAML: while parsing a flow sequence at line 3, column 12: did not find expected ',' or ']'"},
		{"tab indent", "services:\n\tweb: {}\n", 2, "invalid YAML"},
		{"not compose", "apiVersion: v1\nkind: Pod\n", 0, "not a valid compose file"},
		{"scalar top", "just text\n", 1, "top level must be a mapping"},
		{"empty", "", 0, "empty"},
		{"schema type", "services:\n  web:\n    image: x\n    cap_add: 3\n", 4, "cap_add must be a array"},
		{"unknown key", "services:\n  web:\n    image: x\n    privilegd: true\n", 4, "privilegd"},
		{"duplicate key", "services:\n  web:\n    image: x\n    image: y\n", 4, ""},
		{"billion laughs", bomb, 0, ""},
		{"binary", "services:\n  a: \xff\xfe\n", 2, "2:6: not UTF-8 text (byte 0xff)"},
		{"NUL", "services:\n  a:\n    image: x\x00y\n", 3, "3:13: NUL byte"},
		{"NUL after multibyte", "services:\n  é: {image: \"\x00\"}\n", 2, "2:15: NUL byte"},
		{"bare CR", "services:\n  a:\n    image: \"x\r y\"\n", 3, "3:14: U+000D is a line break to YAML"},
		{"CR at the end", "services:\n  a:\n    image: x\r", 3, "3:13: U+000D"},
		{"control character", "services:\n  a:\n    image: x\x01\n", 3, "3:13: invalid YAML: control characters are not allowed"},
		{"scanner error line", "a: 1\n\tb: 2\n", 2, "bad.yml:2:"},
		{"duplicate key names both", "services:\n  web:\n    image: x\n    image: y\n", 4, "mapping key \"image\" already defined at line 3"},
		{"too deep", "services:\n  a:\n    image: x\nx-d: " + strings.Repeat("{k: ", 2500) + "1" + strings.Repeat("}", 2500) + "\n", 4, "nested more than 64 levels"},
		{"huge mapping", "services:\n  a:\n    image: x\n" + manyKeys(100_000), 10_003, "a mapping of 100001 keys (starting at line 1)"},
		{"huge list", "x-a: &a 1\nx-l: [" + strings.Repeat("*a,", 20_000) + "1]\nservices:\n  a:\n    image: x\n", 2, "2:30007: a list of 20001 items"},
		{"reset with many aliases", "x-a: &a 1\nx-l:\n" + strings.Repeat("  - ["+strings.Repeat("*a,", 9_999)+"1]\n", 3) + "services:\n  a:\n    image: x\n    cap_add: !reset []\n", 1, "too many keys in one mapping or aliases of one anchor"},
		{"too many services", many.String(), 2, "more than the 5000"},
		{"recursive merge", "x-a: &a\n  <<: *a\n  image: x\nservices:\n  a:\n    image: x\n", 2, "recursive alias"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.yml", []byte(tt.src))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%T), want *ParseError", err, err)
			}
			if pe.File != "bad.yml" {
				t.Errorf("file = %q", pe.File)
			}
			if tt.line != 0 && pe.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", pe.Line, tt.line, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q lacks %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "x-a%d: &a%d 1\n", i, i)
	}
	return b.String()
}

func TestLoadFileTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.yml")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	// 50 MB, sparse: ctsec must refuse it by size, without reading it in.
	if err := f.Truncate(50 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = LoadFile(p)
	var pe *ParseError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
	// A stream (no size up front) is cut at the limit too.
	if _, err := ReadLimited("pipe", strings.NewReader(strings.Repeat("#", MaxFileSize+10))); err == nil {
		t.Fatal("oversized stream accepted")
	}
}

// TestParseManyNodes: compose-go stops at 100,000 node visits by default
// and says "invalid YAML … node visit limit" — a few thousand services.
// ctsec bounds alias expansion itself (inspect), and that bound is the
// limit instead.
func TestParseManyNodes(t *testing.T) {
	var b strings.Builder
	b.WriteString("services:\n  a:\n    image: busybox:1.36\n    x-data:\n")
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&b, "      l%d: [%s1]\n", i, strings.Repeat("1,", 9_999))
	}
	if _, err := Parse("many.yml", []byte(b.String())); err != nil {
		t.Fatalf("120,000 plain nodes: %v", err)
	}
	b.WriteString("      more: [" + strings.Repeat("1,", 9_999) + "1]\n" + "      more2: [" + strings.Repeat("1,", 9_999) + "1]\n" + "      more3: [" + strings.Repeat("1,", 9_999) + "1]\n")
	if _, err := Parse("many.yml", []byte(b.String())); err == nil || !strings.Contains(err.Error(), "more than 150000 YAML nodes") {
		t.Fatalf("150,000+ nodes: %v", err)
	}
}

func TestLocate(t *testing.T) {
	src := "x-x: &x\n  ports: [\"80:80\"]\nservices:\n  web:\n    <<: *x\n    image: nginx\n    volumes:\n      - a:/a\n      - b:/b\n"
	d, err := Parse("f.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path []string
		line int
	}{
		{[]string{"services", "web", "image"}, 6},
		{[]string{"services", "web", "volumes", "1"}, 9},
		{[]string{"services", "web", "ports"}, 2}, // through the merge key
		{[]string{"services", "web", "nothing"}, 4},
		{[]string{"nope"}, 0},
	} {
		if l, _ := d.Locate(tt.path...); l != tt.line {
			t.Errorf("Locate(%v) = %d, want %d", tt.path, l, tt.line)
		}
	}
}

// TestWorstCases: each input that once took minutes is either refused at
// once with a position, or audited and hardened (how long each takes is
// BenchmarkWorstCases's to say).
func TestWorstCases(t *testing.T) {
	refused := map[string]bool{"20000-aliases-of-one-anchor": true, "100000-top-level-anchors-and-aliases": true,
		"100000-anchors-and-aliases-in-labels": true, "2500-deep-mapping": true}
	for name, src := range worstCases() {
		t.Run(name, func(t *testing.T) {
			d, err := Parse("worst.yml", src)
			var pe *ParseError
			if refused[name] {
				if !errors.As(err, &pe) || pe.Line == 0 {
					t.Fatalf("not refused with a position: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(Audit(d)) == 0 {
				t.Error("no findings")
			}
			if _, err := Harden(d, Options{Policy: Strict}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestAuditVariables: a socket mount or a database port written with
// ${VAR} is judged through the environment (.env, defaults) as docker
// compose will read it, reported as "cannot tell" when it has no value,
// and never passed over in silence; locally built images have no tag to
// pin (issue 14.6).
func TestAuditVariables(t *testing.T) {
	src := []byte(`services:
  a:
    image: x:1
    volumes:
      - ${SOCK:-/var/run/docker.sock}:/var/run/docker.sock
      - ${ETC}:/host-etc
      - ${DATA}:/data
      - ${SOCK2}:/run/docker.sock
    ports:
      - "${BIND}:5432:5432"
      - "${PG_PORT:-6379}:6379"
      - "${WEB_PORTS}"
  built:
    build: .
    image: myapp
  local:
    image: local/app
    pull_policy: never
  var:
    image: ${APP_IMAGE}
`)
	for _, tt := range []struct {
		name string
		env  Env
		want []string // rule@line severity: message part
	}{
		{"no values", nil, []string{
			"compose/docker-socket@5 critical: mounts /var/run/docker.sock (${SOCK:-/var/run/docker.sock})",
			"compose/sensitive-mount@6 low: cannot tell what host path ${ETC} mounts at /host-etc",
			"compose/docker-socket@8 high: cannot tell what ${SOCK2} mounts at /run/docker.sock",
			"compose/db-port-exposed@10 medium: cannot tell where PostgreSQL port 5432 is published",
			"compose/db-port-exposed@11 high: Redis port 6379 published on all interfaces",
			"compose/port-all-interfaces@12 low: cannot tell what ${WEB_PORTS} publishes",
			"compose/image-tag@20 low: cannot tell the tag of image ${APP_IMAGE}",
		}},
		{"values from .env", Env{"ETC": "/etc", "DATA": "./data", "SOCK2": "/run/podman/podman.sock", "BIND": "127.0.0.1", "WEB_PORTS": "8080:80", "APP_IMAGE": "app:latest"}, []string{
			"compose/sensitive-mount@6 high: mounts host /etc (${ETC}) read-write",
			"compose/docker-socket@8 critical: mounts /run/podman/podman.sock (${SOCK2})",
			"compose/port-all-interfaces@12 low: port 8080→80 published on all interfaces (${WEB_PORTS})",
			"compose/image-tag@20 medium: image app:latest uses :latest",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse("vars.yml", src)
			if err != nil {
				t.Fatal(err)
			}
			d.SetEnv(tt.env)
			var got []string
			for _, f := range Audit(d) {
				got = append(got, fmt.Sprintf("%s@%d %s: %s", f.Rule, f.Line, f.Severity, strings.TrimPrefix(f.Message, "service "+strings.TrimPrefix(f.Target, "service ")+": ")))
			}
			all := strings.Join(got, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("no finding %q in\n%s", w, all)
				}
			}
			if strings.Contains(all, "compose/image-tag@14") || strings.Contains(all, "compose/image-tag@17") {
				t.Errorf("image-tag on a locally built image:\n%s", all)
			}
			if tt.env != nil && strings.Contains(all, "@10") && strings.Contains(all, "db-port-exposed@10") {
				t.Errorf("127.0.0.1-bound port reported:\n%s", all)
			}
		})
	}
}
