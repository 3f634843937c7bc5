package capabilities

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	kb, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		image    string
		wantCap  string // a capability the entry must have, "" for none
		fallback bool
	}{
		{"postgres:16", "CHOWN", false},
		{"docker.io/library/postgres:16-alpine@sha256:abcd", "DAC_OVERRIDE", false},
		{"dpage/pgadmin4:8", "NET_BIND_SERVICE", false},
		{"registry.example:5000/nginx:1.27", "NET_BIND_SERVICE", false},
		{"nginxinc/nginx-unprivileged", "", false},
		{"mariadb:10.6.4-focal", "SETUID", false},
		{"timescale/timescaledb:latest-pg12", "CHOWN", false},
		{"${IMAGE}", "CHOWN", true},
		{"", "CHOWN", true},
		{"example/unknown-thing:1", "CHOWN", true},
	}
	for _, tt := range tests {
		e := kb.Lookup(tt.image)
		if e.Fallback != tt.fallback {
			t.Errorf("%q: fallback = %v, want %v", tt.image, e.Fallback, tt.fallback)
		}
		if tt.wantCap == "" && len(e.Caps) != 0 {
			t.Errorf("%q: caps %v, want none", tt.image, e.Caps)
		}
		if tt.wantCap != "" && !contains(e.Caps, tt.wantCap) {
			t.Errorf("%q: caps %v lack %s", tt.image, e.Caps, tt.wantCap)
		}
		if e.Reason == "" {
			t.Errorf("%q: no reason", tt.image)
		}
	}
}

func TestParseRejectsUnknownCapability(t *testing.T) {
	_, err := Parse([]byte("fallback: {caps: [CHOWN]}\nimages:\n  - images: [x]\n    caps: [SYS_AMDIN]\n"))
	if err == nil {
		t.Fatal("typo accepted")
	}
}

// TestParseRejectsBeyondDefaults: the knowledge base may only narrow
// Docker's default set; DAC_READ_SEARCH once slipped in for postgres and
// harden then added the shocker capability to every postgres service.
func TestParseRejectsBeyondDefaults(t *testing.T) {
	for _, c := range []string{"DAC_READ_SEARCH", "SYS_ADMIN", "NET_ADMIN"} {
		_, err := Parse([]byte("fallback: {caps: [CHOWN]}\nimages:\n  - images: [x]\n    user_caps: [" + c + "]\n"))
		if err == nil || !strings.Contains(err.Error(), c) {
			t.Errorf("%s: err = %v, want a refusal naming it", c, err)
		}
	}
}

// TestDefaultEntriesNotDangerous: no entry of the embedded base adds a
// capability the compose audit flags.
func TestDefaultEntriesNotDangerous(t *testing.T) {
	kb, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range append([]Entry{kb.Fallback}, kb.Images...) {
		for _, c := range append(append([]string(nil), e.Caps...), e.UserCaps...) {
			if why := Dangerous(c); why != "" {
				t.Errorf("entry %v adds %s: %s", e.Images, c, why)
			}
		}
	}
}

func TestImageName(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                         "nginx",
		"nginx:1.27":                    "nginx",
		"library/nginx":                 "nginx",
		"localhost:5000/team/app:v1":    "team/app",
		"ghcr.io/org/app@sha256:00":     "org/app",
		"portainer/portainer-ce:2.21.4": "portainer/portainer-ce",
	} {
		if got := ImageName(in); got != want {
			t.Errorf("ImageName(%q) = %q, want %q", in, got, want)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestFromMask(t *testing.T) {
	if got := strings.Join(FromMask(1<<13|1<<0|1<<40|1<<50), " "); got != "CHOWN NET_RAW CHECKPOINT_RESTORE CAP_50" {
		t.Errorf("FromMask = %q", got)
	}
	for _, c := range DockerDefaults() {
		if !DockerDefault(c) {
			t.Errorf("%s listed as a default but not known as one", c)
		}
	}
	if len(DockerDefaults()) != 14 {
		t.Errorf("%d defaults", len(DockerDefaults()))
	}
}

// TestCorrections: the entries issue 14 found wrong.
func TestCorrections(t *testing.T) {
	kb, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if e := kb.Lookup("memcached:1.6"); len(e.Caps) != 0 || !strings.Contains(e.Reason, "USER memcache") {
		t.Errorf("memcached: %+v", e)
	}
	for _, img := range []string{"elasticsearch:8.15.0", "rabbitmq:3-management", "clickhouse/clickhouse-server:24"} {
		if e := kb.Lookup(img); e.NoReadOnly == "" || len(e.Writable) != 0 {
			t.Errorf("%s: a read-only root is allowed: %+v", img, e)
		}
	}
	if e := kb.Lookup("elasticsearch:8"); !strings.Contains(e.NoReadOnly, "config") {
		t.Errorf("elasticsearch keystore: %q", e.NoReadOnly)
	}
	if e := kb.Lookup("rabbitmq:3"); !strings.Contains(e.NoReadOnly, "/etc/rabbitmq") {
		t.Errorf("rabbitmq: %q", e.NoReadOnly)
	}
	// NET_BIND_SERVICE does nothing for a non-root process, unless a file
	// capability needs it in the bounding set (and the reason says so).
	for _, e := range kb.Images {
		if contains(e.UserCaps, "NET_BIND_SERVICE") && !strings.Contains(e.Reason, "file capabilit") && !strings.Contains(e.Reason, "setcap") && !strings.Contains(e.Reason, "cap_net_bind_service") {
			t.Errorf("%v: NET_BIND_SERVICE for a user without a file capability", e.Images)
		}
	}
	for _, img := range []string{"clickhouse/clickhouse-server", "apache/kafka:3.8", "kong:3.8", "collabora/code", "onlyoffice/documentserver", "traefik:v3", "caddy:2", "minio/minio", "mongo:7", "mariadb:11", "mysql:8", "quay.io/keycloak/keycloak:25", "grafana/grafana:11", "prom/prometheus"} {
		e := kb.Lookup(img)
		if e.Fallback || len(e.Sources) == 0 {
			t.Errorf("%s: no entry with sources: %+v", img, e)
		}
	}
}

func TestExtendAndLoadFile(t *testing.T) {
	kb, _ := Default()
	dir := t.TempDir()
	p := filepath.Join(dir, "capabilities.yaml")
	os.WriteFile(p, []byte("images:\n  - images: [nginx]\n    caps: [CHOWN]\n    memory: 64m\n    pids: 32\n    reason: ours\n"), 0o600)
	extra, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	e := kb.Extend(extra).Lookup("nginx:1.27")
	if e.Reason != "ours" || e.Origin != p || !kb.Extend(extra).Lookup("x/unknown").Fallback {
		t.Errorf("extended lookup: %+v", e)
	}
	os.Chmod(p, 0o666)
	if _, err := LoadFile(p); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Errorf("world-writable kb: %v", err)
	}
	for _, bad := range []string{"images:\n  - images: [x]\n    capz: [CHOWN]\n", "images:\n  - caps: []\n    reason: x\n", "images:\n  - images: [x]\n    memory: lots\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
