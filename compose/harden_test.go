package compose

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/testenv"
	"github.com/ctsec/ctsec/internal/textdiff"
)

// checkHarden hardens src and asserts the invariants every run must keep:
// the output loads (Harden verifies the model), removing the insertions
// gives back the input byte for byte, every comment line survives, and a
// second run changes nothing.
func checkHarden(t *testing.T, name string, src []byte, o Options) *Result {
	t.Helper()
	d, err := Parse(name, src)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	res, err := Harden(d, o)
	if err != nil {
		t.Fatalf("harden: %v", err)
	}
	if res.Changed() {
		// The tree comparison must agree with a full compose-go reload.
		if err := verifyFull(d, res.Output, res.done); err != nil {
			t.Fatalf("full reload disagrees with harden's verification: %v", err)
		}
	}
	// Bytes outside the edits are identical: strip the insertions.
	if !bytes.Equal(withoutInsertions(res), src) {
		t.Fatalf("output minus insertions differs from input")
	}
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") && !bytes.Contains(res.Output, []byte(line)) {
			t.Errorf("comment line lost: %q", line)
		}
	}
	d2, err := Parse(name, res.Output)
	if err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	res2, err := Harden(d2, o)
	if err != nil {
		t.Fatalf("second harden: %v", err)
	}
	if res2.Changed() {
		t.Errorf("second run is not a no-op:\n%s", res2.Diff("a", "b"))
	}
	return res
}

type placed struct {
	outOff int
	text   string
}

// withoutInsertions is the output with every inserted text cut out again.
func withoutInsertions(res *Result) []byte {
	var back []byte
	prev := 0
	for _, in := range sortedInsertions(res.p) {
		back = append(back, res.Output[prev:in.outOff]...)
		prev = in.outOff + len(in.text)
	}
	return append(back, res.Output[prev:]...)
}

// sortedInsertions returns where each insertion sits in the output.
func sortedInsertions(p *patcher) []placed {
	ins := append([]insertion(nil), p.ins...)
	sortInsertions(ins)
	out := make([]placed, len(ins))
	shift := 0
	for i, in := range ins {
		out[i] = placed{outOff: in.off + shift, text: in.text}
		shift += len(in.text)
	}
	return out
}

func TestHardenGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/harden/*.yml")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, f := range files {
		for _, pol := range []Policy{Baseline, Strict} {
			t.Run(filepath.Base(f)+"/"+string(pol), func(t *testing.T) {
				src, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				res := checkHarden(t, f, src, Options{Policy: pol, ProfilesDir: "testdata/harden/profiles"})
				var got strings.Builder
				got.WriteString(res.Diff("a/"+filepath.Base(f), "b/"+filepath.Base(f)))
				for _, w := range res.Warnings {
					got.WriteString("# warning " + w.Where() + " " + w.Rule + ": " + w.Message + "\n")
				}
				applyWithPatch(t, src, res.Output, res.Diff("a/x.yml", "b/x.yml"))
				golden := strings.TrimSuffix(f, ".yml") + "." + string(pol) + ".diff"
				testenv.Golden(t, golden, []byte(got.String()))
			})
		}
	}
}

// TestCorpus runs every compose file of the shared corpus through audit and
// harden under both policies.
func TestCorpus(t *testing.T) {
	root := testenv.Shared(t, "corpus", "compose")
	var files []string
	filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && (strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 50 {
		t.Fatalf("corpus has only %d files", len(files))
	}
	changed := 0
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		t.Run(rel, func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Parse(f, src)
			if err != nil {
				t.Fatalf("corpus file does not parse: %v", err)
			}
			before := Audit(d)
			if len(before) == 0 {
				t.Error("audit found nothing in an unhardened corpus file")
			}
			for _, pol := range []Policy{Baseline, Strict} {
				res := checkHarden(t, f, src, Options{Policy: pol})
				if res.Changed() {
					changed++
				}
				checkNoNewFindings(t, f, before, res.Output)
			}
		})
	}
	t.Logf("%d corpus files, %d hardened runs changed the file", len(files), changed)
}

// checkNoNewFindings: harden must never make the audit worse; no rule may
// fire more often on the output than on the input (it once added
// DAC_READ_SEARCH to every postgres service).
func checkNoNewFindings(t *testing.T, name string, before []report.Finding, out []byte) {
	t.Helper()
	d, err := Parse(name, out)
	if err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	count := map[string]int{}
	for _, f := range before {
		count[f.Rule]++
	}
	for _, f := range Audit(d) {
		if count[f.Rule]--; count[f.Rule] < 0 {
			t.Errorf("harden introduced %s: %s", f.Rule, f.Message)
		}
	}
}

func TestHardenOnly(t *testing.T) {
	src := []byte("services:\n  a:\n    image: busybox:1.36\n")
	res := checkHarden(t, "only.yml", src, Options{Only: []string{RuleNoNewPrivs}})
	for _, c := range res.Changes {
		if c.Rule != RuleNoNewPrivs {
			t.Errorf("--only no-new-privileges made %+v", c)
		}
	}
	if len(res.Changes) != 1 {
		t.Errorf("changes = %+v", res.Changes)
	}
	if _, err := NormalizeRule("cap-drop"); err == nil {
		t.Error("unknown rule accepted")
	}
}

func TestHardenSwarmFlag(t *testing.T) {
	src := []byte("services:\n  a:\n    image: busybox:1.36\n")
	yes := true
	res := checkHarden(t, "s.yml", src, Options{Swarm: &yes})
	out := string(res.Output)
	if strings.Contains(out, "no-new-privileges") || strings.Contains(out, "mem_limit") {
		t.Errorf("swarm got service-level options:\n%s", out)
	}
	if !strings.Contains(out, "deploy:\n      resources:\n        limits:\n          # ctsec: limits: knowledge base (busybox)\n          pids: 64\n          memory: 128m\n") {
		t.Errorf("swarm limits not under deploy.resources.limits:\n%s", out)
	}
	if len(res.Warnings) == 0 || res.Warnings[0].Rule != RuleSwarm {
		t.Errorf("no swarm warning: %+v", res.Warnings)
	}
}

// TestDiffAgreesWithLCS: the insertion-based diff and a plain LCS diff of
// input and output describe the same change (same added and removed lines).
func TestDiffAgreesWithLCS(t *testing.T) {
	files, _ := filepath.Glob("testdata/harden/*.yml")
	for _, f := range files {
		src, _ := os.ReadFile(f)
		d, err := Parse(f, src)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Harden(d, Options{Policy: Strict})
		if err != nil {
			t.Fatal(err)
		}
		count := func(diff string) (plus, minus int) {
			for _, l := range strings.Split(diff, "\n") {
				switch {
				case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
				case strings.HasPrefix(l, "+"):
					plus++
				case strings.HasPrefix(l, "-"):
					minus++
				}
			}
			return
		}
		p1, m1 := count(res.Diff("a", "b"))
		p2, m2 := count(textdiff.Unified("a", "b", src, res.Output))
		if p1 != p2 || m1 != m2 {
			t.Errorf("%s: insertion diff +%d -%d, LCS diff +%d -%d", f, p1, m1, p2, m2)
		}
	}
}

// applyWithPatch proves the diff is a real unified diff: GNU patch applied to
// the input gives exactly the output.
func applyWithPatch(t *testing.T, src, want []byte, diff string) {
	t.Helper()
	if diff == "" {
		return
	}
	patch := testenv.Tool(t, "patch")
	dir := t.TempDir()
	file := filepath.Join(dir, "x.yml")
	os.WriteFile(file, src, 0o644)
	cmd := exec.Command(patch, "--binary", "-s", "-p1", "-d", dir)
	cmd.Stdin = strings.NewReader(diff)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("patch: %v: %s", err, out)
	}
	got, _ := os.ReadFile(file)
	if !bytes.Equal(got, want) {
		t.Errorf("patch result differs from the output")
	}
}

// TestCommentInjection: an image name cannot end the reason comment and
// smuggle YAML into the file.
func TestCommentInjection(t *testing.T) {
	for _, img := range []string{"evil\u2028privileged: true", "evil\u0085x: 1", "evil\\nx"} {
		src := []byte("services:\n  a:\n    image: \"" + img + "\"\n")
		res := checkHarden(t, "inj.yml", src, Options{})
		if strings.Contains(string(res.Output), "\n    privileged") || strings.ContainsAny(string(res.Output[len(src):]), "\u2028\u0085") {
			t.Errorf("image %q leaked into the YAML:\n%s", img, res.Output)
		}
	}
}

// TestSwarmPidsNeedsSchema39: docker stack deploy validates against the
// schema of the declared version, and deploy.resources.limits.pids only
// exists from 3.9; adding it to a "3.2" file would make the deploy fail.
func TestSwarmPidsNeedsSchema39(t *testing.T) {
	for _, tt := range []struct {
		version string
		pids    bool
	}{
		{"version: '3.2'\n", false},
		{"version: \"3.8\"\n", false},
		{"version: '3.9'\n", true},
		{"version: '3'\n", true},
		{"", true},
	} {
		src := []byte(tt.version + "services:\n  web:\n    image: nginx:1.27\n    deploy:\n      mode: global\n")
		res := checkHarden(t, "stack.yml", src, Options{})
		if got := bytes.Contains(res.Output, []byte("pids:")); got != tt.pids {
			t.Errorf("%q: pids added = %v, want %v\n%s", tt.version, got, tt.pids, res.Output)
		}
		warned := false
		for _, w := range res.Warnings {
			warned = warned || (w.Rule == RulePidsLimit && strings.Contains(w.Message, "3.9"))
		}
		if warned == tt.pids {
			t.Errorf("%q: warning about the 3.9 schema = %v, want %v", tt.version, warned, !tt.pids)
		}
		if !bytes.Contains(res.Output, []byte("memory: 256m")) {
			t.Errorf("%q: memory limit missing", tt.version)
		}
	}
}

// TestLimitsFollowDeployResources: a service that keeps its resources
// under deploy.resources gets its limits there too, not mem_limit and
// pids_limit at service level, which docker stack deploy ignores (and a
// 3.x schema refuses) — issue 18.10. security_opt is still added: the file
// is not a swarm stack (no swarm-only deploy keys), docker compose honours it.
func TestLimitsFollowDeployResources(t *testing.T) {
	svc := "services:\n  api:\n    image: example/api:1.0\n    deploy:\n      replicas: 2\n      restart_policy:\n        condition: on-failure\n      resources:\n        reservations:\n          memory: 128M\n"
	for _, tt := range []struct {
		version string
		pids    bool
	}{
		{"version: \"3.8\"\n", false},
		{"", true},
	} {
		src := []byte(tt.version + svc)
		res := checkHarden(t, "deploy.yml", src, Options{})
		out := string(res.Output)
		if strings.Contains(out, "mem_limit") || strings.Contains(out, "pids_limit") {
			t.Errorf("%q: service-level limits added:\n%s", tt.version, out)
		}
		want := "      resources:\n        reservations:\n          memory: 128M\n        limits:\n"
		if !strings.Contains(out, want) || !strings.Contains(out, "          memory: 1g\n") {
			t.Errorf("%q: memory limit not under deploy.resources.limits:\n%s", tt.version, out)
		}
		if got := strings.Contains(out, "          pids: 512\n"); got != tt.pids {
			t.Errorf("%q: pids under deploy.resources.limits = %v, want %v:\n%s", tt.version, got, tt.pids, out)
		}
		if !strings.Contains(out, "no-new-privileges:true") {
			t.Errorf("%q: no-new-privileges not added (this is not a swarm stack):\n%s", tt.version, out)
		}
		warned := false
		for _, w := range res.Warnings {
			warned = warned || (w.Rule == RulePidsLimit && strings.Contains(w.Message, "3.9"))
		}
		if warned == tt.pids {
			t.Errorf("%q: 3.9 warning = %v", tt.version, warned)
		}
	}
}

// TestHardenAnchoredService: a service others merge is hardened when its
// edits are what every merging service needs (the merge carries them);
// when one of them needs other edits, it is left as it was with a finding
// in the result, and the merging services are hardened on their own
// (issue 14.6).
func TestHardenAnchoredService(t *testing.T) {
	same := []byte("services:\n  web: &web\n    image: nginx:1.27\n    environment:\n      A: \"1\"\n  worker:\n    <<: *web\n    command: worker\n")
	res := checkHarden(t, "anchored.yml", same, Options{})
	out := string(res.Output)
	if strings.Count(out, "cap_drop:") != 1 || !strings.Contains(out, "    command: worker\n") || strings.Contains(out[strings.Index(out, "worker:"):], "cap_drop") {
		t.Errorf("web not hardened once for both:\n%s", out)
	}
	inherited := 0
	for _, c := range res.Changes {
		if c.Service == "worker" && strings.Contains(c.Reason, "from the edit to web") {
			inherited++
		}
	}
	if inherited == 0 {
		t.Errorf("worker's inherited changes not reported: %+v", res.Changes)
	}
	for _, w := range res.Warnings {
		if w.Rule == RuleNotHardened {
			t.Errorf("warning: %s", w.Message)
		}
	}

	differ := append(append([]byte(nil), same...), []byte("  cache:\n    <<: *web\n    image: redis:7\n")...)
	res = checkHarden(t, "anchored.yml", differ, Options{})
	out = string(res.Output)
	// cache needs other capabilities: it gets its own cap_add, and the
	// rest comes through the merge.
	if web := out[:strings.Index(out, "  worker:")]; !strings.Contains(web, "cap_drop") {
		t.Errorf("web not edited:\n%s", out)
	}
	if cache := out[strings.Index(out, "  cache:"):]; !strings.Contains(cache, "cap_add:") || strings.Contains(cache, "cap_drop") {
		t.Errorf("cache should have its own cap_add and inherit the rest:\n%s", out)
	}

	// A merging service that is not to get an edit (privileged: no
	// capability hardening): the anchored service is left, with a finding.
	priv := append(append([]byte(nil), same...), []byte("  debug:\n    <<: *web\n    privileged: true\n")...)
	res = checkHarden(t, "anchored.yml", priv, Options{})
	var found bool
	for _, w := range res.Warnings {
		found = found || (w.Rule == RuleNotHardened && strings.Contains(w.Message, "merged by debug, which is not to get cap_drop") && w.Line == 2)
	}
	if !found {
		t.Errorf("no finding for the anchored service: %+v", res.Warnings)
	}
	if web := string(res.Output[:strings.Index(string(res.Output), "  worker:")]); strings.Contains(web, "cap_drop") {
		t.Errorf("web edited although debug must not get cap_drop:\n%s", res.Output)
	}
}
