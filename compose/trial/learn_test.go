package trial

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/compose"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/testenv"
	"github.com/ctsec/ctsec/profiles/capabilities"
	"github.com/moby/moby/client"
)

func images(t *testing.T) (*client.Client, *compose.Document, []byte) {
	t.Helper()
	testenv.Docker(t)
	for _, img := range []string{testenv.WritesEtcImage, testenv.DropperImage, testenv.FileCapImage, testenv.HogImage, testenv.ShippedTmpImage} {
		testenv.ServiceImage(t, img)
	}
	c, err := Connect(engine.Target{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	src, err := os.ReadFile("testdata/images.yml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := compose.Parse("testdata/images.yml", src)
	if err != nil {
		t.Fatal(err)
	}
	return c, d, src
}

// leftovers lists what trials left on the engine.
func leftovers(t *testing.T, c *client.Client, id string) {
	t.Helper()
	ctx := context.Background()
	f := client.Filters{}.Add("label", labelTrial+"="+id)
	cs, _ := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	vs, _ := c.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	ns, _ := c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if len(cs.Items)+len(vs.Items)+len(ns.Items) > 0 {
		t.Errorf("trial %s left %d containers, %d volumes, %d networks", id, len(cs.Items), len(vs.Items), len(ns.Items))
	}
}

// TestLearn: a trial of each test image on the real engine finds what it
// needs: the write to /etc/app, CHOWN and SETUID for the dropper (and no
// other capability), NET_RAW for the file capability and that
// no-new-privileges breaks it, about 200 MB for the hog; and it leaves
// nothing behind.
func TestLearn(t *testing.T) {
	c, d, src := images(t)
	ctx := context.Background()
	p, err := LoadProject(ctx, d.Name, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	facts, err := Learn(ctx, c, d, p, LearnOptions{Options: Options{Duration: 3 * time.Second, Progress: &progress}, Clock: testenv.Clock(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(progress.String())
	get := func(name string) *compose.LearntFacts {
		sf := facts.Services[name]
		if sf.Learnt == nil {
			t.Fatalf("%s not learnt: %+v", name, sf.Failure)
		}
		return sf.Learnt
	}
	etc := get("etc")
	if !slices.ContainsFunc(etc.Writes, func(w compose.Write) bool { return w.Path == "/etc/app" && w.Kind == "A" && w.Dir }) {
		t.Errorf("etc: writes %+v lack /etc/app", etc.Writes)
	}
	if len(etc.Caps) != 0 || etc.NoNewPrivileges != "works" || !strings.Contains(etc.Healthy, "healthcheck passed") {
		t.Errorf("etc: %+v", etc)
	}
	dropper := get("dropper")
	if !slices.Equal(dropper.Caps, []string{"CHOWN", "SETUID"}) || !strings.Contains(dropper.Healthy, "port 8080 accepted") {
		t.Errorf("dropper: caps %v, healthy %q\n%s", dropper.Caps, dropper.Healthy, strings.Join(dropper.CapsEvidence, "\n"))
	}
	fc := get("filecap")
	if !slices.Equal(fc.Caps, []string{"NET_RAW"}) || fc.NoNewPrivileges != "breaks" {
		t.Errorf("filecap: caps %v, no-new-privileges %s (%s)", fc.Caps, fc.NoNewPrivileges, fc.NoNewPrivilegesEvidence)
	}
	if hog := get("hog"); hog.MemoryPeak < 200<<20 || hog.MemoryEvidence == "" {
		t.Errorf("hog: peak %d (%s)", hog.MemoryPeak, hog.MemoryEvidence)
	}
	if tmp := facts.Services["tmp"]; tmp.Learnt == nil || !slices.Contains(tmp.Image.Shipped, "/tmp/seed.txt") {
		t.Errorf("tmp: %+v", tmp)
	}
	if !strings.Contains(get("etc").Seccomp, "Docker 23") && !strings.Contains(get("etc").Seccomp, "profile record") {
		t.Errorf("seccomp note: %q", get("etc").Seccomp)
	}
	id := strings.Fields(strings.TrimPrefix(progress.String(), "ctsec: trial "))[0]
	leftovers(t, c, strings.TrimSuffix(id, ":"))

	// Hardened from these facts (strict), every service runs healthy as the
	// engine shows it: no backing off, and the edits in docker inspect.
	progress.Reset()
	res, outcomes, err := Verify(ctx, c, d, compose.Options{Policy: compose.Strict, Facts: facts}, Options{Duration: 3 * time.Second, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s\n%s", progress.String(), res.Output)
	for _, o := range outcomes {
		if o.Healthy == "" || len(o.BackedOff) > 0 {
			t.Errorf("%s hardened from its facts: %+v", o.Service, o)
		}
		h := o.Host
		if h == nil || !slices.Equal(h.CapDrop, []string{"ALL"}) || h.PidsLimit == nil || h.Memory == 0 {
			t.Errorf("%s: inspected %+v", o.Service, h)
			continue
		}
		nnp := slices.Contains(h.SecurityOpt, "no-new-privileges:true")
		switch o.Service {
		case "etc":
			if _, ok := h.Tmpfs["/etc/app"]; !ok || !h.ReadonlyRootfs || !nnp || len(h.CapAdd) != 0 {
				t.Errorf("etc: read-only %v tmpfs %v nnp %v caps %v", h.ReadonlyRootfs, h.Tmpfs, nnp, h.CapAdd)
			}
		case "dropper":
			if !slices.Equal(upper(h.CapAdd), []string{"CHOWN", "SETUID"}) || !nnp || h.ReadonlyRootfs {
				t.Errorf("dropper: caps %v nnp %v read-only %v", h.CapAdd, nnp, h.ReadonlyRootfs)
			}
		case "filecap":
			if !slices.Equal(upper(h.CapAdd), []string{"NET_RAW"}) || nnp || !h.ReadonlyRootfs {
				t.Errorf("filecap: caps %v nnp %v read-only %v", h.CapAdd, nnp, h.ReadonlyRootfs)
			}
		case "hog":
			if h.Memory < 250<<20 {
				t.Errorf("hog: memory limit %d below its 200 MB", h.Memory)
			}
		case "tmp":
			if _, hidden := h.Tmpfs["/tmp"]; hidden || !h.ReadonlyRootfs {
				t.Errorf("tmp: tmpfs %v read-only %v", h.Tmpfs, h.ReadonlyRootfs)
			}
		}
	}
	if len(outcomes) != 5 {
		t.Errorf("%d services verified", len(outcomes))
	}
}

// TestVerifyBacksOff: with a knowledge base that is wrong about two images
// (no write to /etc, no file capability), strict harden breaks them;
// --verify runs them, backs off the read-only root for one and
// no-new-privileges for the other, and the result runs.
func TestVerifyBacksOff(t *testing.T) {
	c, _, _ := images(t)
	src := []byte("services:\n  etc:\n    image: ctsec-test/writes-etc:1\n  filecap:\n    image: ctsec-test/filecap:1\n")
	d, err := compose.Parse("wrong.yml", src)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := capabilities.Parse([]byte(`fallback: {caps: [], user_caps: [], memory: 1g, pids: 512, writable: [], reason: default}
images:
  - images: [ctsec-test/writes-etc, ctsec-test/filecap]
    caps: [NET_RAW]
    user_caps: [NET_RAW]
    memory: 256m
    pids: 128
    writable: [/tmp]
    reason: "wrong on purpose: no write to /etc, and no file capability"
`))
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	res, outcomes, err := Verify(context.Background(), c, d, compose.Options{Policy: compose.Strict, KB: kb}, Options{Duration: 3 * time.Second, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(progress.String())
	byName := map[string]Outcome{}
	for _, o := range outcomes {
		byName[o.Service] = o
	}
	etc, fc := byName["etc"], byName["filecap"]
	if etc.Healthy == "" || len(etc.BackedOff) != 1 || !slices.Equal(etc.BackedOff[0].Rules, []string{compose.RuleWritableRootfs}) ||
		!strings.Contains(describe(etc.BackedOff[0].Failure), "read-only file system") {
		t.Errorf("etc: %+v", etc)
	}
	if fc.Healthy == "" || len(fc.BackedOff) != 3 || !slices.Equal(fc.BackedOff[2].Rules, []string{compose.RuleNoNewPrivs}) {
		t.Errorf("filecap: %+v", fc)
	}
	out := string(res.Output)
	if strings.Contains(out, "read_only") || strings.Count(out, "no-new-privileges") != 1 || strings.Count(out, "cap_drop") != 2 {
		t.Errorf("backed-off result:\n%s", out)
	}
	// What ran is what would be written: caps dropped, as docker inspect says.
	if etc.Host == nil || !slices.Equal(etc.Host.CapDrop, []string{"ALL"}) || fc.Host == nil || !slices.Equal(upper(fc.Host.CapAdd), []string{"NET_RAW"}) {
		t.Errorf("inspected: %+v %+v", etc.Host, fc.Host)
	}
}
