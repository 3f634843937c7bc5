package status

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/bench"
	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/report"
)

// facts are everything the items read, gathered once.
type facts struct {
	o     Options
	live  bool // the root is the running system
	notes []string

	// host are the host modules' audits by module name.
	host map[string]hostAudit
	// keyOnly is the ssh audit against the checkpoint's own SSH settings.
	keyOnly hostAudit

	aa    *apparmor.Status
	aaErr error

	// bench: the snapshot and every check's result, or why not.
	snap     *bench.Snapshot
	results  map[string]bench.Result
	score    bench.Score
	noDocker string

	fail2ban liveFail2ban
	updates  pendingUpdates
}

type hostAudit struct {
	present  bool // the module exists
	managed  bool // the policy configures it
	findings []report.Finding
	err      error
}

type liveFail2ban struct {
	asked  bool
	ok     bool
	detail string
}

// keyOnlySettings are what "SSH logins are by key only" means, whatever the
// host policy says.
var keyOnlySettings = map[string]string{
	"passwordauthentication":       "no",
	"kbdinteractiveauthentication": "no",
	"pubkeyauthentication":         "yes",
}

func (o Options) step(s string) {
	if o.Progress != nil {
		o.Progress(s)
	}
}

func gather(ctx context.Context, o Options) *facts {
	f := &facts{o: o, live: filepath.Clean(o.Root) == "/", host: map[string]hostAudit{}}
	env := host.NewEnv(o.Root)
	env.Runner, env.Clock = o.Runner, o.Clock
	env.SSHConnection, env.Operator = "", ""
	for _, m := range o.Modules {
		name := m.Name()
		a := hostAudit{present: true, managed: o.Policy.Manages(name)}
		if a.managed {
			o.step("host audit " + name)
			a.findings, a.err = m.Audit(ctx, env, o.Policy)
		}
		f.host[name] = a
		if name == "ssh" {
			pol := *o.Policy
			pol.SSH = host.SSHPolicy{Settings: keyOnlySettings}
			o.step("sshd -T for key-only logins")
			f.keyOnly = hostAudit{present: true, managed: true}
			f.keyOnly.findings, f.keyOnly.err = m.Audit(ctx, env, &pol)
		}
	}

	o.step("AppArmor status")
	st, err := apparmor.ReadStatus(ctx, o.Root, nil)
	f.aa, f.aaErr = &st, err

	switch {
	case o.Docker == nil:
		f.noDocker = "no Docker engine: " + o.DockerErr
	case !f.live:
		f.noDocker = "the root " + o.Root + " is not the running system, whose engine this is"
	default:
		o.step("bench snapshot")
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		snap, err := bench.Collect(cctx, o.Docker, bench.Options{Root: o.Root, Clock: o.Clock})
		cancel()
		if err != nil {
			f.noDocker = err.Error()
			break
		}
		f.snap = snap
		rs, score := bench.Run(snap, bench.Selection{})
		f.results, f.score = map[string]bench.Result{}, score
		for _, r := range rs {
			f.results[r.ID] = r
		}
		f.notes = append(f.notes, snap.Notes...)
	}

	if f.live {
		f.fail2ban = askFail2ban(ctx, o.Runner)
		o.step("apt-get --simulate upgrade")
		f.updates = simulateUpgrade(ctx, o.Runner, o.Clock)
	}
	return f
}

// askFail2ban asks the running fail2ban for the sshd jail.
func askFail2ban(ctx context.Context, r execx.Runner) liveFail2ban {
	res, err := r.Run(ctx, "fail2ban-client", "status", "sshd")
	switch {
	case err != nil:
		return liveFail2ban{asked: true, detail: err.Error()}
	case res.ExitCode != 0:
		return liveFail2ban{asked: true, detail: "fail2ban-client status sshd: " + execx.FirstLine(append(res.Stderr, res.Stdout...))}
	}
	banned := ""
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		if k, v, ok := strings.Cut(line, "Currently banned:"); ok && k != "" {
			banned = strings.TrimSpace(v)
		}
	}
	return liveFail2ban{asked: true, ok: true, detail: fmt.Sprintf("fail2ban answers for the sshd jail (%s currently banned)", orDash(banned))}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
