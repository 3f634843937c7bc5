package engine

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzClientAnswers: whatever an engine (or something posing as one on
// the socket) answers — any API version header, status and body — the
// client returns a value or an error, in bounded time, without panicking;
// a name that could change the request path never reaches it.
func FuzzClientAnswers(f *testing.F) {
	f.Add("1.41", 200, []byte(`{"Id":"abc","State":{"Running":true}}`), "web")
	f.Add("1.99", 404, []byte(`{"message":"No such container: web"}`), "web")
	f.Add("", 500, []byte(`not json`), "../info")
	f.Add("1.x.3", 200, []byte(`{"Id": 7`), "a b")
	f.Add("v1.41", 101, []byte{}, "..")
	f.Add("1.4?all=1", 200, []byte(`{}`), "web")
	sock := filepath.Join(f.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		f.Fatal(err)
	}
	var answer struct {
		version string
		status  int
		body    []byte
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "..") || r.URL.RawQuery != "" && !strings.HasSuffix(r.URL.Path, "/containers/json") {
			panic("a name or version from outside changed the request: " + r.URL.String())
		}
		w.Header().Set("Api-Version", answer.version)
		w.WriteHeader(answer.status)
		w.Write(answer.body)
	})}
	go srv.Serve(l)
	f.Cleanup(func() { srv.Close() })
	f.Fuzz(func(t *testing.T, version string, status int, body []byte, name string) {
		if status < 200 || status > 599 || strings.ContainsAny(version, "\r\n\x00") {
			return
		}
		answer.version, answer.status, answer.body = version, status, body
		c, err := Connect("unix://" + sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		in, err := c.ContainerInspect(ctx, name)
		if err == nil && status >= 400 {
			t.Fatalf("status %d gave no error: %+v", status, in)
		}
		if v := c.APIVersion(); err == nil && !validVersion(v) {
			t.Fatalf("a call succeeded with API version %q", v)
		}
		c.Info(ctx)
		c.ContainerList(ctx)
	})
}
