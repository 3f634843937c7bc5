package capabilities

import "testing"

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
		{"docker.io/library/postgres:16-alpine@sha256:abcd", "DAC_READ_SEARCH", false},
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
