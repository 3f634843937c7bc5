package ssh

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/report"
)

// DropIn is where ctsec writes: "00-" sorts before every other drop-in,
// including cloud-init's 50-cloud-init.conf, and sshd keeps the first value.
const DropIn = "/etc/ssh/sshd_config.d/00-ctsec.conf"

// Module is the SSH module.
type Module struct{}

func New() *Module { return &Module{} }

func (*Module) Name() string { return "ssh" }

// severity of a setting that differs from the policy.
func severity(key string) report.Severity {
	switch key {
	case "passwordauthentication", "permitrootlogin", "permitemptypasswords":
		return report.High
	case "kbdinteractiveauthentication", "pubkeyauthentication", "maxauthtries":
		return report.Medium
	}
	return report.Low
}

// desired is the policy as sshd -T would print it.
func desired(pol *host.Policy) map[string]string {
	d := map[string]string{}
	for k, v := range pol.SSH.Settings {
		d[Canonical(k)] = normalize(Canonical(k), v)
	}
	if len(pol.SSH.Kex) > 0 {
		d["kexalgorithms"] = strings.Join(pol.SSH.Kex, ",")
	}
	if len(pol.SSH.Ciphers) > 0 {
		d["ciphers"] = strings.Join(pol.SSH.Ciphers, ",")
	}
	if len(pol.SSH.MACs) > 0 {
		d["macs"] = strings.Join(pol.SSH.MACs, ",")
	}
	return d
}

// normalize writes a value the way sshd -T prints it.
func normalize(key, v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	switch key {
	case "permitrootlogin":
		if v == "prohibit-password" {
			return "without-password"
		}
	case "logingracetime", "clientaliveinterval":
		if n, ok := sshdSeconds(v); ok {
			return strconv.Itoa(n)
		}
	}
	return v
}

// sshdSeconds parses sshd's time format ("90", "1m30s").
func sshdSeconds(s string) (int, bool) {
	total, cur := 0, 0
	have := false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			cur = cur*10 + int(c-'0')
			have = true
			if cur > 1<<24 {
				return 0, false
			}
		default:
			mult, ok := map[rune]int{'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}[c]
			if !ok || !have {
				return 0, false
			}
			total += cur * mult
			cur, have = 0, false
		}
	}
	return total + cur, true
}

// Audit reports every policy setting with its effective value (sshd -T) and
// the file and line it comes from, directives ignored because an earlier
// file wins, and Match blocks that weaken a setting.
func (m *Module) Audit(ctx context.Context, env *host.Env, pol *host.Policy) ([]report.Finding, error) {
	if !env.Exists(MainConfig) {
		return []report.Finding{{Rule: "host/ssh-installed", Severity: report.Info, Target: "sshd",
			Message: "no " + MainConfig + " under the root: sshd is not installed, nothing to audit"}}, nil
	}
	st, cfg, err := stage(env, host.Overlay{Env: env})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	eff, err := Dump(ctx, env.Runner, st.main, "")
	if err != nil {
		return nil, err
	}
	want := desired(pol)
	var fs []report.Finding
	for _, key := range host.SortedKeys(want) {
		got := eff.Get(key)
		f := report.Finding{Rule: "host/ssh-option", Target: "sshd " + key, Severity: report.Info}
		src := "sshd's built-in default (no file sets it)"
		if d, ok := cfg.First(key); ok {
			src = d.Location()
			f.File, f.Line = d.File, d.Line
		}
		if got == want[key] {
			f.Message = fmt.Sprintf("%s is %s as the policy wants (sshd -T; from %s)", key, short(got), src)
			fs = append(fs, f)
			continue
		}
		f.Severity = severity(key)
		f.Message = fmt.Sprintf("%s is %s, policy wants %s (sshd -T; from %s)", key, short(got), short(want[key]), src)
		if key == "kexalgorithms" || key == "ciphers" || key == "macs" {
			f.Severity = report.Low
			extra, missing := listDiff(got, want[key])
			f.Message = fmt.Sprintf("%s offers %s beyond the policy", key, orNone(extra))
			if len(extra) == 0 && len(missing) == 0 {
				f.Message = key + " has the policy's algorithms in another order of preference"
			}
			if len(missing) > 0 {
				f.Message += fmt.Sprintf(" and lacks %s", strings.Join(missing, ","))
			}
			f.Message += fmt.Sprintf(" (sshd -T; from %s)", src)
		}
		f.Fix = "ctsec host apply ssh (writes " + DropIn + ", read before every other file)"
		fs = append(fs, f)
		// A later line that says what the policy wants is silently ignored:
		// the cloud-init trap (a 50-cloud-init.conf re-enabling passwords).
		for _, d := range cfg.All(key) {
			if d.Location() != src && normalize(key, d.Value()) == want[key] {
				fs = append(fs, report.Finding{Rule: "host/ssh-shadowed", Severity: f.Severity, File: d.File, Line: d.Line,
					Target:  "sshd " + key,
					Message: fmt.Sprintf("%s %s here is ignored: sshd keeps the first value, %s from %s", d.Raw, strings.Join(d.Args, " "), short(got), src)})
			}
		}
	}
	fs = append(fs, m.auditMatches(ctx, env, cfg, st.main, want)...)
	return fs, nil
}

// listDiff compares comma-separated algorithm lists.
func listDiff(got, want string) (extra, missing []string) {
	g, w := strings.Split(got, ","), strings.Split(want, ",")
	for _, a := range g {
		if !slices.Contains(w, a) {
			extra = append(extra, a)
		}
	}
	for _, a := range w {
		if !slices.Contains(g, a) {
			missing = append(missing, a)
		}
	}
	return extra, missing
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "nothing"
	}
	return strings.Join(l, ",")
}

func short(v string) string {
	if len(v) > 60 {
		return strconv.Quote(v[:57] + "...")
	}
	if v == "" {
		return "(unset)"
	}
	return v
}

// maxMatchRuns bounds the sshd -T runs one audit makes for Match blocks
// (each costs 10-20 ms): 3,000 blocks took over 30 s. Beyond it, blocks are
// judged from the file, and the audit says so.
const maxMatchRuns = 16

// auditMatches runs sshd -T with a connection that matches each Match
// block setting something the policy holds (once per distinct connection,
// two at a time), and reports settings the block weakens.
func (m *Module) auditMatches(ctx context.Context, env *host.Env, cfg *Config, main string, want map[string]string) []report.Finding {
	type block struct {
		mt   Directive
		ds   []Directive
		spec string
	}
	var fs []report.Finding
	var blocks []block
	var specs []string
	seen := map[string]bool{}
	accts, _ := readAccounts(env)
	for _, mt := range cfg.Matches() {
		var ds []Directive
		for _, d := range cfg.InMatch(mt) {
			if _, ok := want[d.Keyword]; ok {
				ds = append(ds, d)
			}
		}
		if len(ds) == 0 {
			continue // sets nothing the policy holds
		}
		spec, ok := matchSpec(mt, accts)
		if !ok {
			fs = append(fs, report.Finding{Rule: "host/ssh-match", Severity: report.Info, File: mt.File, Line: mt.Line,
				Target:  "Match " + strings.Join(mt.Args, " "),
				Message: "Match block not evaluated: its criteria cannot be turned into a test connection"})
			continue
		}
		blocks = append(blocks, block{mt, ds, spec})
		if !seen[spec] {
			seen[spec] = true
			specs = append(specs, spec)
		}
	}
	run := specs[:min(len(specs), maxMatchRuns)]
	effs, errs := dumpAll(ctx, env, main, run)
	for _, b := range blocks {
		mt, where := b.mt, strings.Join(b.mt.Args, " ")
		if err, ok := errs[b.spec]; ok {
			fs = append(fs, report.Finding{Rule: "host/ssh-match", Severity: report.Medium, File: mt.File, Line: mt.Line,
				Message: fmt.Sprintf("sshd -T -C %s failed: %v", b.spec, err)})
			continue
		}
		eff, evaluated := effs[b.spec]
		for _, d := range b.ds {
			w := want[d.Keyword]
			got, how := normalize(d.Keyword, d.Value()), fmt.Sprintf("read from the file: sshd -T ran for the first %d of %d distinct Match connections", len(run), len(specs))
			if evaluated {
				got, how = eff.Get(d.Keyword), "sshd -T -C "+b.spec
			}
			if got == w {
				continue
			}
			fs = append(fs, report.Finding{Rule: "host/ssh-match", Severity: severity(d.Keyword), File: d.File, Line: d.Line,
				Target: "Match " + where,
				Message: fmt.Sprintf("inside Match %s (%s): %s is %s for matching connections, policy wants %s (%s)",
					where, mt.Location(), d.Keyword, short(got), w, how)})
		}
	}
	return fs
}

// dumpAll runs sshd -T for each spec, two at a time, stopping when ctx ends.
func dumpAll(ctx context.Context, env *host.Env, main string, specs []string) (map[string]Effective, map[string]error) {
	effs, errs := map[string]Effective{}, map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, spec := range specs {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			eff, err := Dump(ctx, env.Runner, main, spec)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[spec] = err
			} else {
				effs[spec] = eff
			}
		}()
	}
	wg.Wait()
	return effs, errs
}

// matchSpec builds the -C connection spec that satisfies a Match line.
func matchSpec(mt Directive, accts []account) (string, bool) {
	spec := map[string]string{"user": "ctsec-audit", "host": "audit.invalid", "addr": "192.0.2.1", "laddr": "192.0.2.2", "lport": "22"}
	args := mt.Args
	for i := 0; i < len(args); i++ {
		crit := strings.ToLower(args[i])
		if crit == "all" {
			continue
		}
		if i+1 >= len(args) {
			return "", false
		}
		i++
		pat := firstPositive(args[i])
		if pat == "" {
			continue
		}
		switch crit {
		case "user":
			spec["user"] = concrete(pat)
		case "host":
			spec["host"] = concrete(pat)
		case "address":
			a, ok := addrIn(pat)
			if !ok {
				return "", false
			}
			spec["addr"] = a
		case "localaddress":
			a, ok := addrIn(pat)
			if !ok {
				return "", false
			}
			spec["laddr"] = a
		case "localport":
			spec["lport"] = pat
		case "group":
			user := ""
			for _, a := range accts {
				for _, g := range a.Groups {
					if ok, _ := pathMatch(pat, g); ok && user == "" {
						user = a.Name
					}
				}
			}
			if user == "" {
				return "", false
			}
			spec["user"] = user
		default:
			return "", false
		}
	}
	return fmt.Sprintf("user=%s,host=%s,addr=%s,laddr=%s,lport=%s", spec["user"], spec["host"], spec["addr"], spec["laddr"], spec["lport"]), true
}

func firstPositive(list string) string {
	for _, p := range strings.Split(list, ",") {
		if p != "" && !strings.HasPrefix(p, "!") {
			return p
		}
	}
	return ""
}

func concrete(pat string) string {
	return strings.NewReplacer("*", "x", "?", "x").Replace(pat)
}

func addrIn(pat string) (string, bool) {
	if p, err := netip.ParsePrefix(pat); err == nil {
		a := p.Masked().Addr()
		if p.Bits() < a.BitLen() {
			a = a.Next()
		}
		return a.String(), true
	}
	if a, err := netip.ParseAddr(pat); err == nil {
		return a.String(), true
	}
	if strings.ContainsAny(pat, "*?") {
		s := strings.NewReplacer("*", "1", "?", "1").Replace(pat)
		if a, err := netip.ParseAddr(s); err == nil {
			return a.String(), true
		}
	}
	return "", false
}

// Render is the drop-in for a policy.
func Render(pol *host.Policy) []byte {
	var b strings.Builder
	b.WriteString("# Written by ctsec host apply from its SSH policy; changes here are replaced\n")
	b.WriteString("# on the next apply. This file sorts first in sshd_config.d and sshd keeps\n")
	b.WriteString("# the first value it reads, so these settings win over later drop-ins.\n")
	for _, k := range host.SortedKeys(pol.SSH.Settings) {
		fmt.Fprintf(&b, "%s %s\n", k, pol.SSH.Settings[k])
	}
	if len(pol.SSH.Kex) > 0 {
		fmt.Fprintf(&b, "KexAlgorithms %s\n", strings.Join(pol.SSH.Kex, ","))
	}
	if len(pol.SSH.Ciphers) > 0 {
		fmt.Fprintf(&b, "Ciphers %s\n", strings.Join(pol.SSH.Ciphers, ","))
	}
	if len(pol.SSH.MACs) > 0 {
		fmt.Fprintf(&b, "MACs %s\n", strings.Join(pol.SSH.MACs, ","))
	}
	return []byte(b.String())
}

type planData struct {
	Want map[string]string
}

// Plan writes the drop-in, checks the result with the real sshd before
// anything is written, and runs the lockout guards.
func (m *Module) Plan(ctx context.Context, env *host.Env, pol *host.Policy) (*host.ModulePlan, error) {
	content := Render(pol)
	mp := &host.ModulePlan{Data: planData{Want: desired(pol)}}
	if !env.Exists(MainConfig) {
		mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "ssh-installed", Reason: "no " + MainConfig + " under the root: sshd is not installed (apt-get install openssh-server), or set ssh: ~ in the policy to leave it alone"})
		return mp, nil
	}
	ed, err := host.NewEdit(env, DropIn, content, 0o644)
	if err != nil {
		return nil, err
	}
	if ed == nil {
		return mp, nil
	}
	mp.Edits = append(mp.Edits, *ed)
	mp.Commands = []string{"sshd -t -f " + MainConfig, "sshd -T -f " + MainConfig + " (check every policy value)"}
	if env.Live() {
		mp.Commands = append(mp.Commands, reloadCommand(env))
	}
	st, cfg, err := stage(env, host.Overlay{Env: env, Files: map[string][]byte{DropIn: content}})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if _, ok := cfg.IncludesPath(DropIn); !ok {
		mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "ssh-include",
			Reason: MainConfig + " does not Include sshd_config.d/*.conf, so " + DropIn + " would be ignored (ctsec does not rewrite the distribution's file; add `Include /etc/ssh/sshd_config.d/*.conf` at its top)"})
	}
	mp.Refusals = append(mp.Refusals, cryptoGuard(ctx, env, pol)...)
	if err := Test(ctx, env.Runner, st.main); err != nil {
		mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "ssh-precheck", Reason: "the planned configuration fails: " + err.Error()})
		return mp, nil
	}
	eff, err := Dump(ctx, env.Runner, st.main, "")
	if err != nil {
		return nil, err
	}
	for _, k := range host.SortedKeys(mp.Data.(planData).Want) {
		if got := eff.Get(k); got != mp.Data.(planData).Want[k] {
			where := ""
			if d, ok := cfg.First(k); ok && d.File != DropIn {
				where = " because " + d.Location() + " is read first"
			}
			mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "ssh-effective",
				Reason: fmt.Sprintf("%s would stay %s%s", k, short(got), where)})
		}
	}
	cur, _, err := stage(env, host.Overlay{Env: env})
	if err != nil {
		return nil, err
	}
	defer cur.Close()
	refusals, notes := lockoutGuard(ctx, env, cfg, cur.main, st.main)
	mp.Refusals = append(mp.Refusals, refusals...)
	mp.Notes = append(mp.Notes, notes...)
	// The drop-in sets global values; a Match block elsewhere still applies
	// its own to the connections it matches, so say which ones stay weak
	// after this change rather than let apply look complete.
	for _, f := range m.auditMatches(ctx, env, cfg, st.main, mp.Data.(planData).Want) {
		if f.Severity != report.Info {
			mp.Notes = append(mp.Notes, fmt.Sprintf("%s; ctsec does not edit Match blocks: change %s:%d by hand", f.Message, f.File, f.Line))
		}
	}
	return mp, nil
}

// cryptoGuard refuses algorithms the installed OpenSSH does not implement.
func cryptoGuard(ctx context.Context, env *host.Env, pol *host.Policy) []host.Refusal {
	var out []host.Refusal
	for _, l := range []struct {
		kind, name string
		algs       []string
	}{{"kex", "KexAlgorithms", pol.SSH.Kex}, {"cipher", "Ciphers", pol.SSH.Ciphers}, {"mac", "MACs", pol.SSH.MACs}} {
		if len(l.algs) == 0 {
			continue
		}
		sup, err := Supported(ctx, env.Runner, l.kind)
		if err != nil {
			out = append(out, host.Refusal{Guard: "ssh-crypto", Reason: fmt.Sprintf("cannot list supported %s: %v", l.name, err)})
			continue
		}
		var bad []string
		for _, a := range l.algs {
			if !sup[a] {
				bad = append(bad, a)
			}
		}
		if len(bad) > 0 {
			out = append(out, host.Refusal{Guard: "ssh-crypto",
				Reason: fmt.Sprintf("%s %s not supported by the installed OpenSSH (ssh -Q %s); remove them from the policy", l.name, strings.Join(bad, ","), l.kind)})
		}
	}
	return out
}

// Verify checks the written configuration with sshd -t and that sshd -T
// shows every policy value.
func (m *Module) Verify(ctx context.Context, env *host.Env, mp *host.ModulePlan) error {
	st, cfg, err := stage(env, host.Overlay{Env: env})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := Test(ctx, env.Runner, st.main); err != nil {
		return err
	}
	eff, err := Dump(ctx, env.Runner, st.main, "")
	if err != nil {
		return err
	}
	pd, _ := mp.Data.(planData)
	for _, k := range host.SortedKeys(pd.Want) {
		if got := eff.Get(k); got != pd.Want[k] {
			where := ""
			if d, ok := cfg.First(k); ok {
				where = " (set by " + d.Location() + ")"
			}
			return fmt.Errorf("sshd -T shows %s %s, want %s%s", k, short(got), pd.Want[k], where)
		}
	}
	return nil
}

func (*Module) Capture(context.Context, *host.Env, *host.ModulePlan) (json.RawMessage, error) {
	return nil, nil
}

// systemctlReload reloads ssh.service only when it runs, like the SIGHUP
// path below: plain "reload" fails on an inactive unit (sshd stopped, or
// socket-activated and not yet started), which would roll back the apply.
var systemctlReload = []string{"systemctl", "try-reload-or-restart", "ssh"}

func reloadCommand(env *host.Env) string {
	if env.Systemd() {
		return strings.Join(systemctlReload, " ")
	}
	return "kill -HUP $(cat /run/sshd.pid)"
}

// Activate reloads sshd (SIGHUP: sessions survive) on the live host.
func (m *Module) Activate(ctx context.Context, env *host.Env, _ *host.ModulePlan) error {
	return reload(ctx, env)
}

func (m *Module) Revert(ctx context.Context, env *host.Env, _ json.RawMessage) error {
	return reload(ctx, env)
}

func reload(ctx context.Context, env *host.Env) error {
	if !env.Live() {
		return nil
	}
	if env.Systemd() {
		_, err := env.Runner.Output(ctx, systemctlReload[0], systemctlReload[1:]...)
		return err
	}
	b, err := os.ReadFile("/run/sshd.pid")
	if err != nil {
		return nil // sshd is not running: nothing to reload
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("/run/sshd.pid: bad pid %q", strings.TrimSpace(string(b)))
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("reloading sshd (pid %d): %w", pid, err)
	}
	return nil
}
