package bench

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
)

// goldenSnapshot is a whole host: the fake host tree, a daemon, and two
// containers, one hardened and one not.
func goldenSnapshot(t *testing.T) *Snapshot {
	s := hostSnapshot(t, fakeHost(t))
	s.Engine.Version, s.Engine.APIVersion = "20.10.24", "1.41"
	s.Engine.Info.Driver, s.Engine.Info.LoggingDriver = "overlay2", "json-file"
	s.Engine.Info.OperatingSystem = "Debian GNU/Linux 12 (bookworm)"
	s.Engine.Info.SecurityOptions = []string{"name=seccomp,profile=default"}
	s.Engine.Info.Swarm.LocalNodeState = swarm.LocalNodeStateInactive
	pids := int64(64)
	s.Containers = []Container{
		ctr("web", func(c *container.InspectResponse) {
			c.HostConfig.Privileged = true
			c.Config.Image = "nginx:latest"
			c.State.Running = false
			c.State.Status = "created"
		}),
		ctr("hardened", func(c *container.InspectResponse) {
			c.Config.User = "65534"
			c.Config.Image = "app:1.2"
			c.Config.Healthcheck = &container.HealthConfig{Test: []string{"CMD", "true"}}
			c.HostConfig.ReadonlyRootfs = true
			c.HostConfig.Memory = 64 << 20
			c.HostConfig.CPUShares = 512
			c.HostConfig.PidsLimit = &pids
			c.HostConfig.SecurityOpt = []string{"no-new-privileges"}
			c.HostConfig.NetworkMode = "none"
		}),
	}
	return s
}

func TestOutputGolden(t *testing.T) {
	testenv.Root(t) // the fake host's files must be owned by root
	s := goldenSnapshot(t)
	results, score := Run(s, Selection{})
	d := NewData(s, results, score)
	var text bytes.Buffer
	if err := WriteText(&text, d, false); err != nil {
		t.Fatal(err)
	}
	var js bytes.Buffer
	if err := report.Render(&js, Report(d), report.JSON, report.Options{}); err != nil {
		t.Fatal(err)
	}
	var parsed map[string]any
	if err := json.Unmarshal(js.Bytes(), &parsed); err != nil {
		t.Fatalf("JSON output does not parse: %v", err)
	}
	golden(t, "text.golden", text.Bytes())
	golden(t, "report.json.golden", js.Bytes())
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", name), got)
}
