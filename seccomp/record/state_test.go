package record

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// runcState is what runc 1.1.5 sends (captured shape, trimmed).
const runcState = `{"ociVersion":"1.0.2-dev","fds":["seccompFd"],"pid":4242,"metadata":"web","state":{"ociVersion":"1.0.2-dev","id":"ctsec-rec","status":"creating","pid":4242,"bundle":"/tmp/bundle"}}`

func TestParseState(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		nfds    int
		wantErr string
		wantIdx int
	}{
		{"runc", runcState, 1, "", 0},
		{"second fd", strings.Replace(runcState, `["seccompFd"]`, `["other","seccompFd"]`, 1), 2, "", 1},
		{"empty", "", 1, "empty message", 0},
		{"truncated", runcState[:40], 1, "invalid JSON", 0},
		{"syntax", `{"ociVersion":"1",}`, 1, "invalid JSON at byte", 0},
		{"wrong type", `{"ociVersion":"1","pid":"x"}`, 1, `"pid" at byte`, 0},
		{"no version", `{"fds":["seccompFd"],"state":{"id":"a"}}`, 1, "no ociVersion", 0},
		{"no seccompFd", strings.Replace(runcState, `["seccompFd"]`, `["x"]`, 1), 1, `no "seccompFd"`, 0},
		{"twice", strings.Replace(runcState, `["seccompFd"]`, `["seccompFd","seccompFd"]`, 1), 2, "named twice", 0},
		{"index beyond fds", strings.Replace(runcState, `["seccompFd"]`, `["a","seccompFd"]`, 1), 1, "only 1 came", 0},
		{"no id", strings.Replace(runcState, `"id":"ctsec-rec"`, `"id":""`, 1), 1, "no container id", 0},
		{"control in id", strings.Replace(runcState, `"id":"ctsec-rec"`, `"id":"a\nb"`, 1), 1, "control characters", 0},
		{"negative pid", strings.Replace(runcState, `"pid":4242,"metadata"`, `"pid":-1,"metadata"`, 1), 1, "pid -1", 0},
		{"too big", `{"ociVersion":"` + strings.Repeat("a", MaxStateSize) + `"}`, 1, "more than", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := ParseState([]byte(tt.data), tt.nfds)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.SeccompFd != tt.wantIdx || st.Container.ID != "ctsec-rec" || st.Container.Metadata != "web" || st.Container.Pid != 4242 || st.Container.Bundle != "/tmp/bundle" {
				t.Errorf("state %+v", st)
			}
		})
	}
}

func TestSafeNameAndPaths(t *testing.T) {
	for in, want := range map[string]string{
		"3f2a9c":                 "3f2a9c",
		"../../etc/passwd":       "_.._etc_passwd",
		"..":                     "container",
		"":                       "container",
		"a b/c":                  "a_b_c",
		strings.Repeat("x", 300): strings.Repeat("x", 128),
	} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
	c := &Container{ID: "abc", Metadata: "web"}
	for tmpl, want := range map[string]string{
		"/out/p.json":               "/out/p-abc.json",
		"/out/{id}.json":            "/out/abc.json",
		"/out/{metadata}-{id}.json": "/out/web-abc.json",
		"/out/{metadata}.json":      "/out/web.json",
	} {
		if got := ContainerPath(tmpl, c); got != want {
			t.Errorf("ContainerPath(%q) = %q, want %q", tmpl, got, want)
		}
	}
	if got := ObservationPath("/x/web.json"); got != "/x/web.syscalls.json" {
		t.Errorf("ObservationPath = %q", got)
	}
}

// FuzzParseState: whatever a socket client sends, ParseState never panics,
// and what it accepts is a usable, bounded state.
func FuzzParseState(f *testing.F) {
	f.Add([]byte(runcState), 1)
	f.Add([]byte(`{"ociVersion":"1","fds":["a","seccompFd"],"state":{"id":"x"}}`), 2)
	f.Add([]byte(`{"ociVersion":"1","fds":["seccompFd","seccompFd"]}`), 2)
	f.Add([]byte(`{"ociVersion":1}`), 0)
	f.Add([]byte(`[]`), 1)
	f.Add([]byte(`{"ociVersion":"1","fds":["seccompFd"],"pid":-5,"state":{"id":"\u0000"}}`), 1)
	f.Fuzz(func(t *testing.T, data []byte, nfds int) {
		st, err := ParseState(data, nfds)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") && !strings.Contains(string(data), "\n") {
				t.Errorf("multi-line error: %q", err)
			}
			return
		}
		if st.SeccompFd < 0 || st.SeccompFd >= nfds {
			t.Errorf("fd index %d of %d", st.SeccompFd, nfds)
		}
		id := st.Container.ID
		if id == "" || len(id) > maxIDLen || !utf8.ValidString(id) {
			t.Errorf("accepted id %q", id)
		}
		name := SafeName(id)
		if name == "" || strings.ContainsAny(name, "/\x00") || strings.HasPrefix(name, ".") || len(name) > 128 {
			t.Errorf("SafeName(%q) = %q", id, name)
		}
		if !json.Valid(data) {
			t.Error("accepted invalid JSON")
		}
	})
}
