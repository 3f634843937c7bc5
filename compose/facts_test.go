package compose

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHardenFromFacts: what a trial learnt wins over what the image says,
// which wins over the knowledge base, which wins over the default; each
// edit's comment says which decided.
func TestHardenFromFacts(t *testing.T) {
	learnt := func(l LearntFacts) *LearntFacts {
		if l.NoNewPrivileges == "" {
			l.NoNewPrivileges = "works"
		}
		return &l
	}
	tests := []struct {
		name   string
		svc    string
		env    Env
		facts  ServiceFacts
		want   []string // in the output
		absent []string // not in the output
		warn   string   // in a warning
	}{
		{
			name:   "no facts: strict adds no read_only for an unknown image",
			svc:    "    image: example/app:1.0\n",
			want:   []string{"# ctsec: example/app:1.0: default: image not in the knowledge base", "mem_limit: 1g"},
			absent: []string{"read_only", "tmpfs"},
			warn:   "read_only not added: where example/app:1.0 writes is not known; run ctsec compose learn",
		},
		{
			name:   "image runs as a user: no capabilities",
			svc:    "    image: memcached:1.6\n",
			facts:  ServiceFacts{Image: &ImageFacts{Ref: "memcached:1.6", User: "memcache"}},
			want:   []string{"cap_drop:\n      - ALL\n", "runs as user memcache (image memcached:1.6): capabilities are not in effect"},
			absent: []string{"cap_add"},
		},
		{
			name: "file capabilities: in the bounding set, and no no-new-privileges",
			svc:  "    image: pgadmin/app:8\n",
			facts: ServiceFacts{Image: &ImageFacts{Ref: "pgadmin/app:8", User: "5050",
				FileCaps: []FileCap{{Path: "/usr/local/bin/python3.12", Caps: []string{"NET_BIND_SERVICE"}, Effective: true}}}},
			want:   []string{"cap_add:\n      - NET_BIND_SERVICE\n", "/usr/local/bin/python3.12 carries file capabilities NET_BIND_SERVICE"},
			absent: []string{"no-new-privileges"},
			warn:   "no-new-privileges not added: /usr/local/bin/python3.12 carries file capabilities",
		},
		{
			name: "learnt beats the knowledge base",
			svc:  "    image: nginx:1.27\n",
			facts: ServiceFacts{Image: &ImageFacts{Ref: "nginx:1.27"}, Learnt: learnt(LearntFacts{Caps: []string{"CHOWN", "SETUID", "SETGID"},
				MemoryPeak: 40 << 20, MemoryEvidence: "cgroup memory.max_usage_in_bytes", PidsPeak: 5, PidsEvidence: "sampled",
				Writes: []Write{{"/var/cache/nginx", "C", true}, {"/var/cache/nginx/client_temp", "A", true}, {"/run", "C", true}, {"/run/nginx.pid", "A", false}}})},
			want: []string{"learnt: the trial needed CHOWN, SETUID, SETGID", "cap_add:\n      - CHOWN\n      - SETUID\n      - SETGID\n",
				"pids_limit: 256", "mem_limit: 296m", "the knowledge base's 256 is higher", "tmpfs:\n      - /var/cache/nginx/client_temp\n      - /run\n", "read_only: true",
				"no-new-privileges:true", "learnt: the trial stayed healthy with no-new-privileges"},
			absent: []string{"NET_BIND_SERVICE"},
		},
		{
			name:   "learnt: no-new-privileges breaks it",
			svc:    "    image: example/setuid:1\n",
			facts:  ServiceFacts{Learnt: learnt(LearntFacts{NoNewPrivileges: "breaks", NoNewPrivilegesEvidence: "exit 1: su: must be suid"})},
			absent: []string{"no-new-privileges"},
			warn:   "no-new-privileges not added: the trial broke with it (exit 1: su: must be suid)",
		},
		{
			name:   "learnt: a shipped file changed in place: no read_only",
			svc:    "    image: example/usermod:1\n",
			facts:  ServiceFacts{Learnt: learnt(LearntFacts{Writes: []Write{{"/etc", "C", true}, {"/etc/passwd", "C", false}}})},
			absent: []string{"read_only"},
			warn:   "read_only not added: the trial changed or deleted files the image ships (/etc/passwd)",
		},
		{
			name:   "learnt: a write where the image ships files: no tmpfs over them",
			svc:    "    image: example/tmp:1\n",
			facts:  ServiceFacts{Image: &ImageFacts{Ref: "example/tmp:1", Shipped: []string{"/tmp/seed.db"}}, Learnt: learnt(LearntFacts{Writes: []Write{{"/tmp", "C", true}, {"/tmp/x", "A", false}}})},
			absent: []string{"read_only"},
			warn:   "the service writes to /tmp, where image example/tmp:1 ships files a tmpfs would hide",
		},
		{
			name:   "a heap in the environment raises the memory limit",
			svc:    "    image: elasticsearch:8.15.0\n    environment:\n      ES_JAVA_OPTS: -Xms2g -Xmx2g\n",
			want:   []string{"mem_limit: 3g", "raised above the heap of 2g (environment ES_JAVA_OPTS: -Xmx2g)"},
			absent: []string{"mem_limit: 1g"},
		},
		{
			name:  "a heap the image sets",
			svc:   "    image: example/jvm:1\n",
			facts: ServiceFacts{Image: &ImageFacts{Ref: "example/jvm:1", Heap: &Heap{Bytes: 4 << 30, Evidence: "environment JAVA_OPTS: -Xmx4g"}}},
			want:  []string{"mem_limit: 6g", "image example/jvm:1 environment JAVA_OPTS: -Xmx4g"},
		},
		{
			name:   "${VAR} image and user resolve through the environment",
			svc:    "    image: ${PG_IMAGE}\n    user: \"${UID:-50000}:0\"\n",
			env:    Env{"PG_IMAGE": "postgres:16"},
			want:   []string{"# ctsec: ${PG_IMAGE}: runs as user 50000:0 (the file)", "mem_limit: 1g"},
			absent: []string{"postgres:16", "cap_add"},
		},
		{
			name:   "facts about another image are not used",
			svc:    "    image: nginx:1.27\n",
			facts:  ServiceFacts{Image: &ImageFacts{Ref: "nginx:1.25", User: "nginx"}},
			want:   []string{"knowledge base (nginx)", "- NET_BIND_SERVICE"},
			warn:   "facts are about image nginx:1.25, the file runs nginx:1.27",
			absent: []string{"runs as user"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := []byte("services:\n  app:\n" + tt.svc)
			d, err := Parse("f.yml", src)
			if err != nil {
				t.Fatal(err)
			}
			d.SetEnv(tt.env)
			o := Options{Policy: Strict, Facts: &Facts{Version: FactsVersion, Services: map[string]ServiceFacts{"app": tt.facts}}}
			res, err := Harden(d, o)
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyFull(d, res.Output, res.done); err != nil {
				t.Fatal(err)
			}
			out := string(res.Output[len(src):]) + string(res.Output)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, res.Output)
				}
			}
			for _, w := range tt.absent {
				if strings.Contains(string(res.Output), w) {
					t.Errorf("output has %q:\n%s", w, res.Output)
				}
			}
			var warnings []string
			for _, w := range res.Warnings {
				warnings = append(warnings, w.Message)
			}
			if tt.warn != "" && !strings.Contains(strings.Join(warnings, "\n"), tt.warn) {
				t.Errorf("no warning %q in %q", tt.warn, warnings)
			}
		})
	}
}

func TestParseFacts(t *testing.T) {
	good := `{"version": 1, "services": {"web": {"learnt": {"healthy": "healthcheck passed", "writes": [], "memory_peak": 1, "memory_evidence": "x", "pids_peak": 1, "pids_evidence": "x", "caps": ["CHOWN"], "caps_evidence": [], "no_new_privileges": "works", "no_new_privileges_evidence": "x"}}}}`
	f, err := ParseFacts("f.json", []byte(good))
	if err != nil || f.Services["web"].Learnt.Caps[0] != "CHOWN" {
		t.Fatalf("%v %+v", err, f)
	}
	b, _ := f.Marshal()
	if g, err := ParseFacts("g.json", b); err != nil || g.Services["web"].Learnt.MemoryPeak != 1 {
		t.Fatalf("round trip: %v", err)
	}
	for _, tt := range []struct{ src, want string }{
		{`{"version": 2, "services": {}}`, "facts version 2"},
		{`{"version": 1, "services": {}, "extra": 1}`, `unknown field "extra"`},
		{"{\"version\": 1,\n \"services\": {\"a\": {\"learnt\": {\"caps\": [\"CAP_WIZARD\"]}}}}", `unknown capability "CAP_WIZARD"`},
		{"{\"version\": 1,\n\n \"services\": [}", "f.json:3:"},
		{`{"version": 1, "services": {}} {}`, "data after the object"},
	} {
		_, err := ParseFacts("f.json", []byte(tt.src))
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.src, err, tt.want)
		}
	}
	if f, err := ReadFacts(filepath.Join(t.TempDir(), "none.json")); f != nil || err != nil {
		t.Errorf("missing facts file: %v %v", f, err)
	}
	if _, err := ReadFacts(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory as facts: %v", err)
	}
}

func TestLoadEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yml")
	os.WriteFile(filepath.Join(dir, ".env"), []byte("TAG=1.27\nIMG=nginx:${TAG}\nFROM_OS=file\n"), 0o644)
	other := filepath.Join(dir, "prod.env")
	os.WriteFile(other, []byte("TAG=2\n"), 0o644)
	env, err := LoadEnv(file, nil, []string{"FROM_OS=os"})
	if err != nil {
		t.Fatal(err)
	}
	if env["IMG"] != "nginx:1.27" || env["FROM_OS"] != "os" {
		t.Errorf(".env: %v", env)
	}
	env, _ = LoadEnv(file, []string{other}, nil)
	if env["TAG"] != "2" || env["IMG"] != "" {
		t.Errorf("--env-file replaces .env: %v", env)
	}
	env, _ = LoadEnv(file, nil, []string{"COMPOSE_DISABLE_ENV_FILE=1"})
	if _, ok := env["TAG"]; ok {
		t.Errorf("COMPOSE_DISABLE_ENV_FILE: %v", env)
	}
	if _, err := LoadEnv(file, []string{filepath.Join(dir, "missing.env")}, nil); err == nil {
		t.Error("missing --env-file accepted")
	}
	for _, tt := range []struct {
		in, out string
		ok      bool
	}{
		{"plain", "plain", true},
		{"${TAG}", "1.27", true},
		{"${NOPE}", "", false},
		{"${NOPE:-d}", "d", true},
		{"${NOPE-d}", "d", true},
		{"${NOPE:?need it}", "", false},
		{"a$${X}", "a${X}", true},
	} {
		out, ok := (Env{"TAG": "1.27"}).Resolve(tt.in)
		if out != tt.out || ok != tt.ok {
			t.Errorf("Resolve(%q) = %q %v, want %q %v", tt.in, out, ok, tt.out, tt.ok)
		}
	}
}

func TestHeapSetting(t *testing.T) {
	for _, tt := range []struct {
		env  []string
		args []string
		want int64
	}{
		{[]string{"JAVA_OPTS=-Xms512m -Xmx1G"}, nil, 1 << 30},
		{[]string{"KAFKA_HEAP_OPTS=-Xmx2048m"}, nil, 2 << 30},
		{[]string{"MAX_HEAP_SIZE=4G"}, nil, 4 << 30},
		{[]string{"HEAP_SIZE=512"}, nil, 512 << 20},
		{[]string{"NODE_OPTIONS=--max-old-space-size=4096"}, nil, 4 << 30},
		{nil, []string{"java", "-Xmx3g", "-jar", "x.jar"}, 3 << 30},
		{[]string{"JAVA_OPTS=-Xmx99999999999999999999t"}, nil, 0},
		{[]string{"PATH=/bin", "HEAPS=1g"}, nil, 0},
	} {
		h := HeapSetting(tt.env, tt.args)
		got := int64(0)
		if h != nil {
			got = h.Bytes
		}
		if got != tt.want {
			t.Errorf("%v %v: %d, want %d (%+v)", tt.env, tt.args, got, tt.want, h)
		}
	}
}
