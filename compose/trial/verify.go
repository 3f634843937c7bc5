package trial

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/ctsec/ctsec/compose"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Verification runs each hardened service as a trial and keeps only the
// edits under which it stays healthy. A service that breaks gets its edits
// backed off in this order — the read-only root, then the limits, then
// no-new-privileges, then the capabilities — until it runs, and the report
// says what broke it. Nothing is written that did not run.

// backoff is the order edits are taken back in.
var backoff = [][]string{
	{compose.RuleWritableRootfs},
	{compose.RuleMemoryLimit, compose.RulePidsLimit},
	{compose.RuleNoNewPrivs},
	{compose.RuleCapDropAll},
}

// Outcome is how one hardened service ran.
type Outcome struct {
	Service string `json:"service"`
	// Healthy says how health was judged, "" when it was not healthy.
	Healthy string `json:"healthy,omitempty"`
	// BackedOff are the rules taken back so it would run, with what broke.
	BackedOff []BackOff `json:"backed_off,omitempty"`
	// Failure is why it did not run even with every edit backed off.
	Failure *compose.Failure `json:"failure,omitempty"`
	// Host is the container as the engine ran it, the last healthy run.
	Host *container.HostConfig `json:"-"`
}

// BackOff is edits taken back after a run broke.
type BackOff struct {
	Rules   []string         `json:"rules"`
	Failure *compose.Failure `json:"failure"`
}

// Verify hardens d with o, runs every edited service as a trial on c and
// backs off what breaks. It returns the result that ran, and per edited
// service how it ran.
func Verify(ctx context.Context, c *client.Client, d *compose.Document, o compose.Options, to Options) (*compose.Result, []Outcome, error) {
	orig, err := LoadProject(ctx, d.Name, d.Src, d.Env())
	if err != nil {
		return nil, nil, err
	}
	tr, err := Open(ctx, c, orig, to)
	if err != nil {
		return nil, nil, err
	}
	defer tr.Close()
	skip := map[string][]string{}
	for k, v := range o.Skip {
		skip[k] = append([]string(nil), v...)
	}
	step := map[string]int{}
	outcomes := map[string]*Outcome{}
	for round := 0; ; round++ {
		o.Skip = skip
		res, err := compose.Harden(d, o)
		if err != nil {
			return nil, nil, err
		}
		edited := editedServices(res)
		if round == 0 {
			tr.logf("will run %d hardened service(s) (%v) one at a time for up to %s each, beside the stack, with fresh volumes and no host ports; all of it is removed afterwards",
				len(edited), edited, tr.opts.Duration)
		}
		hardened, err := LoadProject(ctx, d.Name, res.Output, d.Env())
		if err != nil {
			return nil, nil, fmt.Errorf("the hardened file does not load for a trial (refusing to write): %w", err)
		}
		broke := false
		for _, name := range edited {
			if out := outcomes[name]; out != nil && out.Healthy != "" {
				continue // ran with these edits already
			}
			out := outcomes[name]
			if out == nil {
				out = &Outcome{Service: name}
				outcomes[name] = out
			}
			s := hardened.Services[name]
			if why := unsupported(s); why != "" {
				out.Failure = &compose.Failure{Reason: "not run: " + why}
				continue
			}
			tr.logf("%s: running it hardened", name)
			r, err := tr.run(ctx, s, variant{})
			if err != nil {
				return nil, nil, err
			}
			if r.healthy {
				out.Healthy, out.Host, out.Failure = r.how, r.host, nil
				continue
			}
			f := failureOf(r, nil, "unhealthy")
			if step[name] >= len(backoff) {
				out.Failure = f
				continue
			}
			rules := backoff[step[name]]
			step[name]++
			tr.logf("%s: broke (%s); backing off %v", name, describe(f), rules)
			out.BackedOff = append(out.BackedOff, BackOff{Rules: rules, Failure: f})
			skip[name] = append(skip[name], rules...)
			broke = true
		}
		if !broke {
			var list []Outcome
			for _, name := range sortedKeys(outcomes) {
				list = append(list, *outcomes[name])
			}
			// A service that never ran healthy keeps no edit.
			for _, out := range list {
				if out.Healthy == "" && !slices.Contains(skip[out.Service], compose.RuleCapDropAll) {
					for _, b := range backoff {
						skip[out.Service] = append(skip[out.Service], b...)
					}
					skip[out.Service] = append(skip[out.Service], compose.RuleSeccomp, compose.RuleAppArmor)
					o.Skip = skip
					if res, err = compose.Harden(d, o); err != nil {
						return nil, nil, err
					}
				}
			}
			return res, list, tr.Close()
		}
	}
}

func editedServices(res *compose.Result) []string {
	seen := map[string]bool{}
	var out []string
	for _, ch := range res.Changes {
		if !seen[ch.Service] {
			seen[ch.Service] = true
			out = append(out, ch.Service)
		}
	}
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
