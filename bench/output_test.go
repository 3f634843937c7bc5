package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/ctsec/ctsec/internal/testenv"
)

// goldenSnapshot is a whole host: the fake host tree, a daemon, and two
// containers, one hardened and one not.
func goldenSnapshot(t *testing.T) *Snapshot {
	s := hostSnapshot(t, fakeHost(t))
	s.Engine.Version, s.Engine.APIVersion = "20.10.24", "1.41"
	s.Engine.Info.Driver, s.Engine.Info.LoggingDriver = "overlay2", "json-file"
	s.Engine.Info.OperatingSystem = "Debian GNU/Linux 12 (bookworm)"
	s.Engine.Info.SecurityOptions = []string{"name=seccomp,profile=default"}
	s.Engine.Info.Swarm.LocalNodeState = engine.LocalNodeStateInactive
	pids := int64(64)
	s.Containers = []Container{
		ctr("web", func(c *engine.ContainerInspect) {
			c.HostConfig.Privileged = true
			c.Config.Image = "nginx:latest"
			c.State.Running = false
			c.State.Status = "created"
		}),
		ctr("hardened", func(c *engine.ContainerInspect) {
			c.Config.User = "65534"
			c.Config.Image = "app:1.2"
			c.Config.Healthcheck = &engine.HealthConfig{Test: []string{"CMD", "true"}}
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
	if err := WriteText(&text, d, report.Options{Width: 100}); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(text.String(), "\n") {
		if term.Len(l) > 100 {
			t.Errorf("text line of %d columns: %q", term.Len(l), l)
		}
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
	for _, f := range []report.Format{report.SARIF, report.JUnit, report.Markdown} {
		var b bytes.Buffer
		if err := report.Render(&b, Report(d), f, report.Options{Version: "test"}); err != nil {
			t.Fatal(err)
		}
		golden(t, "report."+string(f)+".golden", b.Bytes())
		if f == report.SARIF {
			testenv.MatchesSchema(t, "../internal/report/testdata/sarif-schema-2.1.0.json", b.Bytes())
		}
	}
}

// JUnit lists every check that ran: passed, failed, and skipped or manual
// with the reason, so a clean run still shows what was checked.
func TestJUnitHasEveryCheck(t *testing.T) {
	testenv.Root(t)
	s := goldenSnapshot(t)
	results, score := Run(s, Selection{})
	var b bytes.Buffer
	if err := report.Render(&b, Report(NewData(s, results, score)), report.JUnit, report.Options{}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Skipped  int `xml:"skipped,attr"`
			Cases    []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
				Skipped *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	suite := doc.Suites[0]
	passed := 0
	for _, c := range suite.Cases {
		if c.Failure == nil && c.Skipped == nil {
			passed++
		}
		if c.Skipped != nil && c.Skipped.Message == "" {
			t.Errorf("%s skipped without a reason", c.Name)
		}
	}
	if suite.Tests != len(results) || suite.Tests != len(Checks()) || passed != score.Passed || suite.Failures != score.Failed ||
		suite.Skipped != score.Skipped+score.Manual {
		t.Errorf("junit: %d tests (%d passed, %d failed, %d skipped); results %d, score %+v", suite.Tests, passed, suite.Failures, suite.Skipped, len(results), score)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", name), got)
}
