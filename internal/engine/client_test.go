package engine

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
)

// TestClientRealEngine: every call the Client makes, against dockerd, on
// a container made with the docker CLI.
func TestClientRealEngine(t *testing.T) {
	docker := testenv.Docker(t)
	img := testenv.Busybox(t)
	name := "ctsec-engine-client-test"
	exec.Command(docker, "rm", "-f", name).Run()
	if out, err := exec.Command(docker, "run", "-d", "--name", name, img, "sleep", "300").CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(docker, "rm", "-f", name).Run() })
	c, err := Connect("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	list, err := c.ContainerList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, s := range list {
		for _, n := range s.Names {
			if n == "/"+name {
				id = s.ID
			}
		}
	}
	if id == "" {
		t.Fatalf("ContainerList has no %s: %d containers", name, len(list))
	}
	if v := c.APIVersion(); !strings.HasPrefix(v, "1.") {
		t.Errorf("APIVersion after a call = %q", v)
	}
	in, err := c.ContainerInspect(ctx, name)
	if err != nil || in.ID != id || in.State == nil || !in.State.Running || in.Config == nil || in.Config.Image != img {
		t.Fatalf("ContainerInspect: %v %+v", err, in)
	}
	top, err := c.ContainerTop(ctx, id)
	if err != nil || len(top.Processes) == 0 || !strings.Contains(strings.Join(top.Processes[0], " "), "sleep 300") {
		t.Errorf("ContainerTop: %v %+v", err, top)
	}
	code, out, err := Exec(ctx, c, id, []string{"sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"})
	if err != nil || code != 3 || !strings.Contains(string(out), "to-stdout") || !strings.Contains(string(out), "to-stderr") {
		t.Errorf("Exec: code %d, %v, output %q", code, err, out)
	}
	before := in.State.StartedAt
	if err := Restart(ctx, c, id); err != nil {
		t.Fatal(err)
	}
	if in, err := c.ContainerInspect(ctx, id); err != nil || in.State.StartedAt == before {
		t.Errorf("after Restart: %v, started %s (before %s)", err, in.State.StartedAt, before)
	}
	if _, err := c.ContainerInspect(ctx, "ctsec-no-such-container"); !IsNotFound(err) {
		t.Errorf("inspecting a missing container: %v, want a not-found error", err)
	}
	images, err := c.ImageList(ctx)
	if err != nil || len(images) == 0 {
		t.Fatalf("ImageList: %v, %d images", err, len(images))
	}
	if ii, err := c.ImageInspect(ctx, in.Image); err != nil || ii.ID != in.Image {
		t.Errorf("ImageInspect %s: %v %s", in.Image, err, ii.ID)
	}
	if h, err := c.ImageHistory(ctx, in.Image); err != nil || len(h) == 0 {
		t.Errorf("ImageHistory: %v %d layers", err, len(h))
	}
	nets, err := c.NetworkList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var bridge string
	for _, n := range nets {
		if n.Name == "bridge" {
			bridge = n.ID
		}
	}
	if n, err := c.NetworkInspect(ctx, bridge); err != nil || n.Name != "bridge" {
		t.Errorf("NetworkInspect bridge: %v %q", err, n.Name)
	}
	if info, err := c.Info(ctx); err != nil || info.ID == "" {
		t.Errorf("Info: %v", err)
	}
}

// fakeEngine answers on a unix socket the way dockerd does (API version
// in /_ping's header, errors as {"message": …}) and records the paths asked.
func fakeEngine(t *testing.T, apiVersion string) (host string, paths func() []string) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		switch {
		case r.URL.Path == "/_ping":
			w.Header().Set("Api-Version", apiVersion)
			w.Write([]byte("OK"))
		case strings.HasSuffix(r.URL.Path, "/version"):
			json.NewEncoder(w).Encode(map[string]string{"Version": "20.10.24", "ApiVersion": apiVersion})
		case strings.HasSuffix(r.URL.Path, "/containers/broken/json"):
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"message":"the store is locked"}`))
		case strings.HasSuffix(r.URL.Path, "/containers/garbled/json"):
			w.Write([]byte(`{"Id": 7`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"page not found"}`))
		}
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func TestClientNegotiatesAndReportsErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, server, pin, want string
	}{
		{"older engine: its version", "1.41", "", "/v1.41/version"},
		{"newer engine: ours", "1.99", "", "/v" + MaxAPIVersion + "/version"},
		{"DOCKER_API_VERSION: no ping", "1.41", "1.43", "/v1.43/version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DOCKER_API_VERSION", tt.pin)
			host, paths := fakeEngine(t, tt.server)
			c, err := Connect(host)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			v, err := c.ServerVersion(ctx)
			if err != nil || v.Version != "20.10.24" {
				t.Fatalf("ServerVersion: %v %+v", err, v)
			}
			got := paths()
			if got[len(got)-1] != tt.want || (tt.pin != "") != (got[0] != "/_ping") {
				t.Errorf("paths asked %v, want the last %s", got, tt.want)
			}
		})
	}

	host, paths := fakeEngine(t, "1.41")
	c, err := Connect(host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ContainerInspect(ctx, "broken"); err == nil || IsNotFound(err) || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "the store is locked") {
		t.Errorf("500: err = %v", err)
	}
	if _, err := c.ContainerInspect(ctx, "gone"); !IsNotFound(err) {
		t.Errorf("404: err = %v, want not found", err)
	}
	if _, err := c.ContainerInspect(ctx, "garbled"); err == nil || !strings.Contains(err.Error(), "/containers/garbled/json") {
		t.Errorf("truncated JSON: err = %v", err)
	}
	// A name that would change the path is refused before anything is sent.
	n := len(paths())
	for _, bad := range []string{"", "..", "../../info", "a?b", "x#y", " web", "%2e%2e"} {
		if _, err := c.ContainerInspect(ctx, bad); err == nil || !strings.Contains(err.Error(), "not a name or ID") {
			t.Errorf("ContainerInspect(%q): err = %v", bad, err)
		}
	}
	if got := paths(); len(got) != n {
		t.Errorf("refused names reached the engine: %v", got[n:])
	}
	// A version header that is not one never goes into a request path.
	odd, _ := fakeEngine(t, "1.4?all=1")
	if c, err := Connect(odd); err != nil {
		t.Fatal(err)
	} else if _, err := c.Info(ctx); err == nil || !strings.Contains(err.Error(), `"1.4?all=1"`) {
		t.Errorf("odd API version header: err = %v", err)
	}
	t.Setenv("DOCKER_API_VERSION", "latest")
	if _, err := Connect(host); err == nil || !strings.Contains(err.Error(), "DOCKER_API_VERSION") {
		t.Errorf("DOCKER_API_VERSION=latest: err = %v", err)
	}
	t.Setenv("DOCKER_API_VERSION", "")
	for _, bad := range []string{"ftp://host", "unix://", "tcp://", "nonsense"} {
		if _, err := Connect(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("Connect(%q): err = %v", bad, err)
		}
	}
}
