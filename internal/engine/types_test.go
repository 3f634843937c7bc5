package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
)

// apiTypes pairs each of ctsec's Engine API types with moby's type for
// the same object, the reference for the field names.
var apiTypes = []struct{ ours, moby any }{
	{Info{}, system.Info{}},
	{Version{}, system.VersionResponse{}},
	{ContainerSummary{}, container.Summary{}},
	{ContainerInspect{}, container.InspectResponse{}},
	{TopResponse{}, container.TopResponse{}},
	{ExecInspect{}, container.ExecInspectResponse{}},
	{ImageSummary{}, image.Summary{}},
	{ImageInspect{}, image.InspectResponse{}},
	{ImageConfig{}, dockerspec.DockerOCIImageConfig{}},
	{ImageHistoryItem{}, image.HistoryResponseItem{}},
}

// TestTypesNameAPIFields: every field of ctsec's types, at any depth, is a
// field of moby's type under the same JSON name and of the same kind, so a
// misspelt name cannot silently decode as zero (a check then passing on a
// value the engine never sent).
func TestTypesNameAPIFields(t *testing.T) {
	for _, p := range apiTypes {
		matchFields(t, reflect.TypeOf(p.ours).Name(), reflect.TypeOf(p.ours), reflect.TypeOf(p.moby))
	}
}

func matchFields(t *testing.T, path string, ours, moby reflect.Type) {
	t.Helper()
	ours, moby = deref(ours), deref(moby)
	if ours == moby {
		return // the same type (netip.Prefix, network.PortMap, time.Duration)
	}
	switch ours.Kind() {
	case reflect.Struct:
		if moby.Kind() != reflect.Struct {
			t.Errorf("%s: a struct here, %s in moby's type", path, moby)
			return
		}
		theirs := jsonFields(moby)
		for name, f := range jsonFields(ours) {
			m, ok := theirs[name]
			if !ok {
				t.Errorf("%s.%s: no such field in moby's %s", path, name, moby)
				continue
			}
			matchFields(t, path+"."+name, f, m)
		}
	case reflect.Slice, reflect.Array, reflect.Map:
		if moby.Kind() != ours.Kind() && !(ours.Kind() == reflect.Slice && moby.Kind() == reflect.Array) {
			t.Errorf("%s: %s here, %s in moby's type", path, ours, moby)
			return
		}
		matchFields(t, path+"[]", ours.Elem(), moby.Elem())
	default:
		if ours.Kind() != moby.Kind() {
			t.Errorf("%s: %s here, %s in moby's type", path, ours, moby)
		}
	}
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// jsonFields are a struct's fields by the name encoding/json gives them,
// embedded structs' fields included.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && name == "" && deref(f.Type).Kind() == reflect.Struct {
			for n, ft := range jsonFields(deref(f.Type)) {
				if _, ok := out[n]; !ok {
					out[n] = ft
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// TestTypesDecodeAsMoby: the real engine's answers, decoded into ctsec's
// types and into moby's, give the same value for every field ctsec has.
func TestTypesDecodeAsMoby(t *testing.T) {
	docker := testenv.Docker(t)
	img := testenv.Busybox(t)
	name := "ctsec-engine-types-test"
	exec.Command(docker, "rm", "-f", name).Run()
	// what the checks read, set to something other than its zero value
	run := []string{"run", "-d", "--name", name, "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD",
		"--security-opt", "no-new-privileges", "--read-only", "--memory", "64m", "--cpu-shares", "512",
		"--pids-limit", "50", "--restart", "on-failure:3", "--ulimit", "nofile=1024:2048",
		"--health-cmd", "true", "--health-interval", "30s", "-p", "127.0.0.1::80", "-v", "ctsec-engine-types-test:/data",
		"--tmpfs", "/run", "--user", "65534", "-e", "A=1", "--label", "ctsec-test=types", img, "sleep", "300"}
	if out, err := exec.Command(docker, run...).CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v: %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command(docker, "rm", "-f", "-v", name).Run()
		exec.Command(docker, "volume", "rm", "ctsec-engine-types-test").Run()
	})
	c, err := Connect("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	imgPath := "/images/" + url.PathEscape(img)
	for _, q := range []struct {
		path         string
		query        url.Values
		ours, theirs any
	}{
		{"/info", nil, &Info{}, &system.Info{}},
		{"/version", nil, &Version{}, &system.VersionResponse{}},
		{"/containers/json", url.Values{"all": {"1"}}, &[]ContainerSummary{}, &[]container.Summary{}},
		{"/containers/" + name + "/json", nil, &ContainerInspect{}, &container.InspectResponse{}},
		{"/containers/" + name + "/top", nil, &TopResponse{}, &container.TopResponse{}},
		{"/images/json", nil, &[]ImageSummary{}, &[]image.Summary{}},
		{imgPath + "/json", nil, &ImageInspect{}, &image.InspectResponse{}},
		{imgPath + "/history", nil, &[]ImageHistoryItem{}, &[]image.HistoryResponseItem{}},
	} {
		var raw json.RawMessage
		if err := c.get(ctx, q.path, q.query, &raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, q.ours); err != nil {
			t.Fatalf("%s into ctsec's type: %v", q.path, err)
		}
		if err := json.Unmarshal(raw, q.theirs); err != nil {
			t.Fatalf("%s into moby's type: %v", q.path, err)
		}
		ours, theirs := generic(t, q.ours), generic(t, q.theirs)
		if n := subset(t, q.path, ours, theirs); n == 0 {
			t.Errorf("%s: no value compared", q.path)
		}
	}
	// the fields the checks read came through
	var in ContainerInspect
	if err := c.get(ctx, "/containers/"+name+"/json", nil, &in); err != nil {
		t.Fatal(err)
	}
	h := in.HostConfig
	if h == nil || !h.ReadonlyRootfs || h.Memory != 64<<20 || h.CPUShares != 512 || h.PidsLimit == nil || *h.PidsLimit != 50 ||
		h.RestartPolicy.Name != "on-failure" || h.RestartPolicy.MaximumRetryCount != 3 || len(h.Ulimits) != 1 || h.Ulimits[0].Hard != 2048 ||
		fmt.Sprint(h.CapAdd) != "[CAP_NET_ADMIN]" || fmt.Sprint(h.SecurityOpt) != "[no-new-privileges]" || len(h.PortBindings) != 1 {
		t.Errorf("HostConfig as decoded: %+v", h)
	}
	if cf := in.Config; cf == nil || cf.User != "65534" || cf.Healthcheck == nil || cf.Healthcheck.Interval != 30*time.Second || len(in.Mounts) != 1 || in.Mounts[0].Name != "ctsec-engine-types-test" {
		t.Errorf("Config and Mounts as decoded: %+v %+v", in.Config, in.Mounts)
	}
}

func generic(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// subset reports where ours has a value theirs does not, and returns how
// many values it compared. A key theirs leaves out (omitempty) must be
// zero in ours.
func subset(t *testing.T, path string, ours, theirs any) int {
	t.Helper()
	switch o := ours.(type) {
	case map[string]any:
		th, ok := theirs.(map[string]any)
		if !ok {
			t.Errorf("%s: an object in ctsec's, %T in moby's", path, theirs)
			return 0
		}
		n := 0
		for k, v := range o {
			tv, ok := th[k]
			if !ok {
				if !reflect.ValueOf(v).IsValid() || reflect.ValueOf(v).IsZero() || isEmpty(v) {
					continue
				}
				t.Errorf("%s.%s = %v in ctsec's, absent from moby's", path, k, v)
				continue
			}
			n += subset(t, path+"."+k, v, tv)
		}
		return n
	case []any:
		th, ok := theirs.([]any)
		if !ok || len(th) != len(o) {
			t.Errorf("%s: %d values in ctsec's, %v in moby's", path, len(o), theirs)
			return 0
		}
		n := 0
		for i := range o {
			n += subset(t, fmt.Sprintf("%s[%d]", path, i), o[i], th[i])
		}
		return n
	default:
		if !reflect.DeepEqual(ours, theirs) {
			t.Errorf("%s = %v in ctsec's, %v in moby's", path, ours, theirs)
		}
		return 1
	}
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if !isEmpty(e) {
				return false
			}
		}
		return true
	case []any:
		return len(x) == 0
	case nil:
		return true
	default:
		return reflect.ValueOf(v).IsZero()
	}
}
