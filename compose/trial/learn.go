package trial

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/ctsec/ctsec/compose"
	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/profiles/capabilities"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// LearnOptions steer Learn.
type LearnOptions struct {
	Options
	// Services to learn; empty: every service.
	Services []string
	// KB is the capability knowledge base the search starts from; nil: the
	// embedded one.
	KB    *capabilities.Base
	Clock clock.Clock
}

// Learn runs each service as a trial and records what it needs: the paths
// it writes, its peak memory and pids, the capabilities it cannot do
// without (from the candidates harden would give it, adding back Docker's
// defaults when those are not enough, then dropping each one it does not
// need), and whether no-new-privileges breaks it. A service that does not
// run even as written is reported with why, and nothing is learnt about it.
func Learn(ctx context.Context, c *client.Client, d *compose.Document, p *types.Project, o LearnOptions) (*compose.Facts, error) {
	names := o.Services
	if len(names) == 0 {
		for _, s := range d.Services() {
			names = append(names, s.Name)
		}
	}
	for _, n := range names {
		if _, ok := p.Services[n]; !ok {
			return nil, fmt.Errorf("no service %q in %s", n, d.Name)
		}
	}
	ver, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return nil, fmt.Errorf("asking the engine for its version: %w", err)
	}
	facts := &compose.Facts{Version: compose.FactsVersion, File: d.Name, Engine: "Docker " + ver.Version,
		Time: clock.Or(o.Clock).Now().UTC(), Services: map[string]compose.ServiceFacts{}}
	tr, err := Open(ctx, c, p, o.Options)
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	tr.logf("will run %s one at a time, each first as written and then with capabilities dropped and no-new-privileges, "+
		"for up to %s a run; on network %s, with fresh volumes and no host ports; all of it is removed afterwards",
		strings.Join(names, ", "), tr.opts.Duration, tr.network)
	for _, n := range names {
		sf := tr.learn(ctx, d, p.Services[n], facts, o, ver.Version)
		facts.Services[n] = sf
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return facts, tr.Close()
}

func (tr *Trial) learn(ctx context.Context, d *compose.Document, s types.ServiceConfig, facts *compose.Facts, o LearnOptions, engineVersion string) compose.ServiceFacts {
	var sf compose.ServiceFacts
	if why := unsupported(s); why != "" {
		tr.logf("%s: not learnt: %s", s.Name, why)
		sf.Failure = &compose.Failure{Reason: "not run: " + why}
		return sf
	}
	img, err := Inspect(ctx, tr.c, s.Image)
	if err != nil {
		tr.logf("%s: not learnt: %v", s.Name, err)
		sf.Failure = &compose.Failure{Reason: fmt.Sprintf("image %s is not on the engine (pull or build it first): %v", s.Image, err)}
		return sf
	}
	sf.Image = &img.Facts
	if ref, ok := d.ServiceImage(s.Name); ok {
		sf.Image.Ref = ref // as the file names it, resolved: what harden compares
	}
	tr.logf("%s: running %s as written", s.Name, s.Image)
	base, err := tr.run(ctx, s, variant{})
	if err != nil || !base.healthy {
		sf.Failure = failureOf(base, err, "does not run even as written")
		tr.logf("%s: not learnt: %s", s.Name, sf.Failure.Reason)
		return sf
	}
	l := &compose.LearntFacts{Healthy: base.how, MemoryPeak: base.memPeak, MemoryEvidence: base.memHow,
		PidsPeak: base.pidsPeak, PidsEvidence: base.pidsHow}
	l.Writes = tr.writes(base, img)
	for _, w := range l.Writes {
		if w.Dir || w.Kind != "A" {
			continue
		}
		for _, f := range img.FilesUnder(path.Dir(w.Path)) {
			if !slices.Contains(sf.Image.Shipped, f) && f != w.Path {
				sf.Image.Shipped = append(sf.Image.Shipped, f)
			}
		}
	}
	for _, w := range l.Writes {
		if w.Dir && w.Kind == "A" {
			for _, f := range img.FilesUnder(w.Path) {
				if !slices.Contains(sf.Image.Shipped, f) {
					sf.Image.Shipped = append(sf.Image.Shipped, f)
				}
			}
		}
	}
	sort.Strings(sf.Image.Shipped)

	// Capabilities: start from what harden would give it.
	withImage := &compose.Facts{Version: compose.FactsVersion, Services: map[string]compose.ServiceFacts{s.Name: {Image: sf.Image}}}
	candidates, err := compose.CandidateCaps(d, s.Name, withImage, o.KB)
	if err != nil {
		sf.Failure = &compose.Failure{Reason: err.Error()}
		return sf
	}
	own := upper(s.CapAdd)
	try := func(set []string, why string) *result {
		v := variant{dropAll: true, caps: union(own, set)}
		tr.logf("%s: trying %s (%s)", s.Name, v, why)
		r, err := tr.run(ctx, s, v)
		if err != nil {
			return &result{failure: &compose.Failure{Reason: err.Error()}}
		}
		verdict := "healthy: " + r.how
		if !r.healthy {
			verdict = "unhealthy: " + describe(r.failure)
		}
		l.CapsEvidence = append(l.CapsEvidence, fmt.Sprintf("capabilities %s: %s", capsText(v.caps), verdict))
		return r
	}
	set := candidates
	if r := try(set, "the candidates"); !r.healthy {
		full := dockerDefaultsMinus(s.CapDrop)
		if r := try(full, "Docker's defaults"); !r.healthy {
			sf.Failure = &compose.Failure{Reason: "healthy as written but not with cap_drop: [ALL] and Docker's default capabilities added back: " + describe(r.failure)}
			tr.logf("%s: not learnt: %s", s.Name, sf.Failure.Reason)
			return sf
		}
		set = full
	}
	if len(set) > 0 {
		if r := try(nil, "none"); r.healthy {
			set = nil
		}
	}
	for _, cap := range append([]string(nil), set...) {
		if len(set) == 0 {
			break
		}
		without := slices.DeleteFunc(append([]string(nil), set...), func(x string) bool { return x == cap })
		if r := try(without, "without "+cap); r.healthy {
			set = without
		}
	}
	l.Caps = union(own, set)
	if l.Caps == nil {
		l.Caps = []string{}
	}

	// no-new-privileges, with the capabilities found.
	v := variant{dropAll: true, caps: l.Caps, nnp: true}
	tr.logf("%s: trying %s", s.Name, v)
	if r, err := tr.run(ctx, s, v); err == nil && r.healthy {
		l.NoNewPrivileges, l.NoNewPrivilegesEvidence = "works", "capabilities "+capsText(l.Caps)+" and no-new-privileges: healthy: "+r.how
	} else {
		l.NoNewPrivileges, l.NoNewPrivilegesEvidence = "breaks", "capabilities "+capsText(l.Caps)+" and no-new-privileges: unhealthy: "+describe(failureOf(r, err, "failed"))
	}
	l.Seccomp = seccompNote(engineVersion)
	sf.Learnt = l
	tr.logf("%s: learnt: capabilities %s; no-new-privileges %s; %d paths written; peak memory %s, %d pids",
		s.Name, capsText(l.Caps), l.NoNewPrivileges, len(l.Writes), compose.FormatBytes(l.MemoryPeak), l.PidsPeak)
	return sf
}

// writes are the paths a run wrote, with whether each is a directory (in
// the image, or as the run left it).
func (tr *Trial) writes(r *result, img *Image) []compose.Write {
	out := make([]compose.Write, 0, len(r.changes))
	for _, ch := range r.changes {
		w := compose.Write{Path: ch.Path, Kind: changeKind(ch.Kind), Dir: img.IsDir(ch.Path) || r.dirs[ch.Path]}
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func changeKind(k container.ChangeType) string {
	switch k {
	case container.ChangeAdd:
		return "A"
	case container.ChangeDelete:
		return "D"
	}
	return "C"
}

// seccompNote says why no seccomp recording was made: recording through the
// engine needs its seccomp agent support (Docker 23 and later).
func seccompNote(version string) string {
	major, _, _ := strings.Cut(version, ".")
	if n, err := strconv.Atoi(major); err == nil && n < 23 {
		return "not recorded: recording a container's system calls needs Docker 23 or later (this engine is " + version + "); see ctsec profile record --listen"
	}
	return "not recorded by learn: run the service under ctsec profile record --listen"
}

func failureOf(r *result, err error, fallback string) *compose.Failure {
	switch {
	case err != nil:
		return &compose.Failure{Reason: err.Error()}
	case r != nil && r.failure != nil:
		return r.failure
	}
	return &compose.Failure{Reason: fallback}
}

func describe(f *compose.Failure) string {
	if f == nil {
		return "unhealthy"
	}
	s := f.Reason
	if len(f.Logs) > 0 {
		s += ": " + f.Logs[len(f.Logs)-1]
	}
	return s
}

func capsText(caps []string) string {
	if len(caps) == 0 {
		return "none"
	}
	return strings.Join(caps, ",")
}

func upper(caps []string) []string {
	var out []string
	for _, c := range caps {
		c = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(c)), "CAP_")
		if c != "ALL" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func union(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, c := range b {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func dockerDefaultsMinus(drop []string) []string {
	d := upper(drop)
	for _, c := range drop {
		if strings.EqualFold(c, "ALL") {
			return nil
		}
	}
	var out []string
	for _, c := range capabilities.DockerDefaults() {
		if !slices.Contains(d, c) {
			out = append(out, c)
		}
	}
	return out
}

// isDir reports a mode from the engine's stat as a directory.
func isDir(mode fs.FileMode) bool { return mode.IsDir() }
