package firewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/ssh"
	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/report"
)

// The files ufw keeps its state in; a change is exactly a change to these.
var ufwFiles = []string{"/etc/default/ufw", "/etc/ufw/ufw.conf", "/etc/ufw/user.rules", "/etc/ufw/user6.rules"}

type Module struct{}

func New() *Module { return &Module{} }

func (*Module) Name() string { return "firewall" }

func installed(env *host.Env) bool {
	_, err := execx.LookPath("ufw")
	return err == nil && env.Exists("/etc/ufw/ufw.conf")
}

type ufwState struct {
	enabled  bool
	defaults map[string]string
	rules    []Rule
}

func readState(env *host.Env) (*ufwState, error) {
	st := &ufwState{}
	conf, err := env.ReadFile("/etc/ufw/ufw.conf")
	if err != nil {
		return nil, err
	}
	st.enabled = ParseKV(conf)["ENABLED"] == "yes"
	def, err := env.ReadFile("/etc/default/ufw")
	if err != nil {
		return nil, err
	}
	st.defaults = ParseKV(def)
	for _, f := range []string{"/etc/ufw/user.rules", "/etc/ufw/user6.rules"} {
		b, err := env.ReadFile(f)
		if host.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		rs, err := ParseTuples(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		st.rules = append(st.rules, rs...)
	}
	return st, nil
}

func (s *ufwState) allows(port int, proto, addr string) bool {
	for _, r := range s.rules {
		if r.Allows(port, proto, addr) {
			return true
		}
	}
	return false
}

func (m *Module) Audit(ctx context.Context, env *host.Env, pol *host.Policy) ([]report.Finding, error) {
	if !installed(env) {
		return []report.Finding{{Rule: "host/firewall-installed", Severity: report.High, Target: "ufw",
			Message: "ufw is not installed: no host firewall is managed", Fix: "apt-get install ufw, then ctsec host apply firewall"}}, nil
	}
	st, err := readState(env)
	if err != nil {
		return nil, err
	}
	var fs []report.Finding
	f := report.Finding{Rule: "host/firewall-enabled", Target: "ufw", File: "/etc/ufw/ufw.conf", Severity: report.Info}
	active := st.enabled
	src := "ENABLED in /etc/ufw/ufw.conf"
	if env.Live() {
		if res, err := (execx.Runner{Env: []string{"LC_ALL=C"}}).Run(ctx, "ufw", "status"); err == nil && res.ExitCode == 0 {
			active = strings.Contains(string(res.Stdout), "Status: active")
			src = "ufw status"
		}
	}
	if active {
		f.Message = "UFW is active (" + src + ")"
	} else {
		f.Severity = report.High
		f.Message = "UFW is not active (" + src + "): no host firewall filters incoming connections"
		f.Fix = "ctsec host apply firewall"
	}
	fs = append(fs, f)
	in := st.defaults["DEFAULT_INPUT_POLICY"]
	f = report.Finding{Rule: "host/firewall-default", Target: "DEFAULT_INPUT_POLICY", File: "/etc/default/ufw", Severity: report.Info,
		Message: "default incoming policy " + in}
	if pol.Firewall.DefaultIncoming == "deny" && in != "DROP" && in != "REJECT" {
		f.Severity = report.High
		f.Message = fmt.Sprintf("default incoming policy is %s, policy wants deny", in)
		f.Fix = "ctsec host apply firewall"
	}
	fs = append(fs, f)
	for _, r := range pol.Firewall.Allow {
		if !st.allows(r.Port, r.Proto, "") && len(r.From) == 0 {
			fs = append(fs, report.Finding{Rule: "host/firewall-allow", Severity: report.Low, Target: fmt.Sprintf("%d/%s", r.Port, r.Proto),
				Message: fmt.Sprintf("%d/%s (%s) is not allowed by a UFW rule", r.Port, r.Proto, r.Comment), Fix: "ctsec host apply firewall"})
		}
	}
	for _, r := range st.rules {
		if r.Action != "allow" && r.Action != "limit" {
			continue
		}
		wanted := false
		for _, a := range pol.Firewall.Allow {
			if n, err := strconv.Atoi(r.DPort); err == nil && n == a.Port && (r.Proto == a.Proto || r.Proto == "any") {
				wanted = true
			}
		}
		if !wanted {
			fs = append(fs, report.Finding{Rule: "host/firewall-extra", Severity: report.Low, File: "/etc/ufw/user.rules", Line: r.Line,
				Target:  fmt.Sprintf("%s/%s", r.DPort, r.Proto),
				Message: fmt.Sprintf("UFW allows %s/%s from %s, which the policy does not list (%s)", r.DPort, r.Proto, r.Src, r.Comment)})
		}
	}
	if pol.Firewall.Docker {
		fs = append(fs, m.auditDocker(ctx, env, pol, st)...)
	}
	return fs, nil
}

// auditDocker compares published container ports with the policy, ctsec's
// block in after.init and what DOCKER-USER holds.
func (m *Module) auditDocker(ctx context.Context, env *host.Env, pol *host.Policy, st *ufwState) []report.Finding {
	want := planDockerFilter(pol.Firewall, st.defaults["DEFAULT_INPUT_POLICY"])
	fs := afterInitFindings(env, want)
	if !env.Live() || !env.DockerPresent() {
		return fs
	}
	pubs, err := published(ctx, env)
	if err != nil {
		return append(fs, report.Finding{Rule: "host/firewall-docker", Severity: report.Info, Target: "docker",
			Message: "cannot list containers to check published ports: " + err.Error()})
	}
	loadedOK := false
	if want != nil {
		f := report.Finding{Rule: "host/firewall-docker-user", Severity: report.Info, Target: dockerChain, File: afterInit}
		cs, err := liveChains(ctx, env.Runner)
		if err == nil {
			err = checkLoaded(cs, want)
		}
		if err != nil {
			f.Severity = report.Medium
			f.Message = "ctsec's DOCKER-USER filter is not in force: " + err.Error()
			f.Fix = "ctsec host apply firewall (or ufw reload, which runs " + afterInit + ")"
		} else {
			loadedOK = true
			f.Message = fmt.Sprintf("DOCKER-USER jumps first to %s: from outside, published container ports are reachable only on the ports firewall.allow lists", dockerChain)
		}
		fs = append(fs, f)
	}
	dockerUser, filtered := dockerUserRules(ctx, env)
	return append(fs, dockerFindings(pubs, dockerUser, filtered, loadedOK, pol)...)
}

// afterInitFindings judges the block in after.init against the policy:
// it is what loads the filter again at every ufw start, boot included.
func afterInitFindings(env *host.Env, want *dockerFilter) []report.Finding {
	f := report.Finding{Rule: "host/firewall-docker-user", Severity: report.Medium, Target: afterInit, File: afterInit,
		Fix: "ctsec host apply firewall"}
	data, err := env.ReadFile(afterInit)
	if err != nil && !host.IsNotExist(err) {
		f.Message = "cannot read " + afterInit + ": " + err.Error()
		return []report.Finding{f}
	}
	start, end, ok, err := findBlock(data)
	var be *blockError
	if errors.As(err, &be) {
		f.Line, f.Message = be.Line, afterInit+": "+be.Msg
		return []report.Finding{f}
	}
	if want == nil {
		if ok {
			f.Severity, f.Line = report.Low, lineOf(data, start)
			f.Message = afterInit + " loads ctsec's DOCKER-USER filter, which the policy does not ask for (firewall.docker off, or incoming connections allowed)"
			return []report.Finding{f}
		}
		return nil
	}
	block, err := renderBlock(want)
	if err != nil {
		f.Message = err.Error()
		return []report.Finding{f}
	}
	switch st, _ := env.FS().Stat(afterInit); {
	case !ok:
		f.Message = afterInit + " has no ctsec block: published container ports bypass UFW whenever ufw starts (boot, reload) without ctsec's DOCKER-USER filter"
	case string(data[start:end]) != block:
		f.Line = lineOf(data, start)
		f.Message = "ctsec's block in " + afterInit + " does not load the policy's DOCKER-USER filter (the policy changed since the last apply, or the block was edited)"
	case st == nil || st.Mode().Perm()&0o100 == 0:
		f.Message = afterInit + " holds ctsec's block but is not executable, so ufw-init does not run it"
	default:
		return nil
	}
	return []report.Finding{f}
}

// dockerFindings reports each published port that bypasses UFW; ctsec
// says whether ctsec's DOCKER-USER filter for the policy is in force.
func dockerFindings(pubs []Published, dockerUser string, filtered, ctsec bool, pol *host.Policy) []report.Finding {
	var fs []report.Finding
	fs = append(fs, report.Finding{Rule: "host/firewall-docker-user", Severity: report.Info, Target: "DOCKER-USER",
		Message: fmt.Sprintf("DOCKER-USER chain: %s; %d published port binding(s) on this host", dockerUser, len(pubs))})
	for _, p := range pubs {
		if !p.Public() {
			continue
		}
		allowed := allowedPort(pol.Firewall, p.HostPort, p.Proto)
		sev, why := report.High, "is reachable from anywhere: Docker DNATs it into FORWARD, so UFW's rules never see it, and DOCKER-USER does not filter it"
		switch {
		case ctsec && allowed:
			sev, why = report.Info, "is reachable from outside: firewall.allow opens it, and ctsec's DOCKER-USER filter lets it through"
		case ctsec && allowedFrom(pol.Firewall, p.HostPort, p.Proto):
			sev, why = report.Info, "is reachable from outside only from the sources firewall.allow lists for it (ctsec's DOCKER-USER filter)"
		case ctsec:
			sev, why = report.Info, "is closed from outside by ctsec's DOCKER-USER filter (not in firewall.allow)"
		case filtered:
			sev, why = report.Info, "bypasses UFW; DOCKER-USER has filtering rules, check they cover it"
		case allowed:
			sev, why = report.Info, "bypasses UFW, but the policy allows this port anyway"
		}
		fs = append(fs, report.Finding{Rule: "host/firewall-docker-bypass", Severity: sev, Target: p.Container,
			Message: fmt.Sprintf("container %s publishes %s:%d/%s (→ %s) which %s", p.Container, p.HostIP, p.HostPort, p.Proto, p.Target, why),
			Fix:     "ctsec host apply firewall (DOCKER-USER keeps published ports closed from outside except those in firewall.allow), or bind it to 127.0.0.1 in the compose file"})
	}
	return fs
}

// dockerUserRules describes DOCKER-USER and whether it filters anything.
func dockerUserRules(ctx context.Context, env *host.Env) (string, bool) {
	res, err := env.Runner.Run(ctx, "iptables", "-w", "-S", "DOCKER-USER")
	if err != nil || res.ExitCode != 0 {
		return "absent (" + errText(err, res) + ")", false
	}
	var rules []string
	filtered := false
	for _, l := range strings.Split(strings.TrimSpace(string(res.Stdout)), "\n") {
		if strings.HasPrefix(l, "-A DOCKER-USER") {
			rules = append(rules, strings.TrimPrefix(l, "-A DOCKER-USER "))
			if strings.Contains(l, "-j DROP") || strings.Contains(l, "-j REJECT") || strings.Contains(l, "ufw") {
				filtered = true
			}
		}
	}
	if len(rules) == 0 {
		return "empty", false
	}
	return strings.Join(rules, "; "), filtered
}

func errText(err error, res execx.Result) string {
	if err != nil {
		return err.Error()
	}
	return execx.FirstLine(res.Stderr)
}

// sshPorts are the ports sshd uses: from sshd -T under the root (now and
// as the policy plans it), the port the operator's own connection came in
// on, and, on the live host, the sockets sshd listens on (ss).
func sshPorts(ctx context.Context, env *host.Env, pol *host.Policy) []int {
	ports, _ := ssh.Ports(ctx, env, pol)
	if c, ok, _ := env.Conn(); ok && !slices.Contains(ports, c.ServerPort) {
		ports = append(ports, c.ServerPort)
	}
	if env.Live() {
		if res, err := env.Runner.Run(ctx, "ss", "-Hltnp"); err == nil && res.ExitCode == 0 {
			for _, l := range strings.Split(string(res.Stdout), "\n") {
				f := strings.Fields(l)
				if len(f) < 6 || !strings.Contains(l, `"sshd"`) {
					continue
				}
				if i := strings.LastIndexByte(f[3], ':'); i >= 0 {
					if n, err := strconv.Atoi(f[3][i+1:]); err == nil && !slices.Contains(ports, n) {
						ports = append(ports, n)
					}
				}
			}
		}
	}
	return ports
}

// script is the ufw commands that bring its files to the policy. Every
// value is typed and validated by the policy loader; comments cannot hold
// quotes.
func script(pol *host.Policy) []string {
	fw := pol.Firewall
	cmds := []string{}
	if fw.DefaultIncoming != "" {
		cmds = append(cmds, "ufw default "+fw.DefaultIncoming+" incoming")
	}
	if fw.DefaultOutgoing != "" {
		cmds = append(cmds, "ufw default "+fw.DefaultOutgoing+" outgoing")
	}
	for _, r := range fw.Allow {
		if len(r.From) == 0 {
			cmds = append(cmds, fmt.Sprintf("ufw allow %d/%s comment '%s'", r.Port, r.Proto, r.Comment))
		}
		for _, src := range r.From {
			cmds = append(cmds, fmt.Sprintf("ufw allow proto %s from %s to any port %d comment '%s'", r.Proto, src, r.Port, r.Comment))
		}
	}
	return append(cmds, "ufw --force enable")
}

// Sandbox runs a shell script with /etc/ufw and /etc/default/ufw replaced
// by the copies under dir, in a private mount and network namespace: ufw
// reads and writes only those copies and loads rules only into a throw-away
// network namespace, never the host's.
func Sandbox(ctx context.Context, r execx.Runner, dir, script string) (execx.Result, error) {
	full := fmt.Sprintf("set -e; mount --bind %s /etc/ufw; mount --bind %s /etc/default/ufw; export LC_ALL=C; %s",
		shellQuote(filepath.Join(dir, "etc/ufw")), shellQuote(filepath.Join(dir, "etc/default/ufw")), script)
	return r.Run(ctx, "unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", full)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// copyUFW copies the root's ufw files into a fresh temporary directory.
func copyUFW(env *host.Env) (string, error) {
	dir, err := os.MkdirTemp("", "ctsec-ufw-")
	if err != nil {
		return "", err
	}
	if err := env.FS().CopyOut("/etc/ufw", filepath.Join(dir, "etc/ufw")); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	b, err := env.ReadFile("/etc/default/ufw")
	if err == nil {
		os.MkdirAll(filepath.Join(dir, "etc/default"), 0o755)
		err = os.WriteFile(filepath.Join(dir, "etc/default/ufw"), b, 0o644)
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

func (m *Module) Plan(ctx context.Context, env *host.Env, pol *host.Policy) (*host.ModulePlan, error) {
	mp := &host.ModulePlan{}
	if !installed(env) {
		mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "firewall-installed", Reason: "ufw is not installed (apt-get install ufw)"})
		return mp, nil
	}
	dir, err := copyUFW(env)
	if err != nil {
		return nil, fmt.Errorf("copying ufw files: %w", err)
	}
	defer os.RemoveAll(dir)
	// Planning needs only the state files ufw writes: the admin's hook
	// scripts, which ufw-init runs at every start, do not run for a plan.
	for _, hook := range []string{"before.init", "after.init"} {
		os.Chmod(filepath.Join(dir, "etc/ufw", hook), 0o640)
	}
	cmds := script(pol)
	res, err := Sandbox(ctx, env.Runner, dir, strings.Join(cmds, " >/dev/null; ")+" >/dev/null")
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("computing ufw changes in a private namespace (exit %d): %s", res.ExitCode, execx.FirstLine(append(res.Stderr, res.Stdout...)))
	}
	for _, f := range ufwFiles {
		want, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		ed, err := host.NewEdit(env, f, want, 0o640)
		if err != nil {
			return nil, err
		}
		if ed != nil {
			mp.Edits = append(mp.Edits, *ed)
		}
	}
	def, err := os.ReadFile(filepath.Join(dir, "etc/default/ufw"))
	if err != nil {
		return nil, err
	}
	filter := planDockerFilter(pol.Firewall, ParseKV(def)["DEFAULT_INPUT_POLICY"])
	mp.Data = planData{fw: pol.Firewall, docker: filter}
	ed, refusal, err := afterInitEdit(env, filter)
	if err != nil {
		return nil, err
	}
	if ed != nil {
		mp.Edits = append(mp.Edits, *ed)
	}
	if refusal != nil {
		mp.Refusals = append(mp.Refusals, *refusal)
	}
	if !mp.Changed() {
		return mp, nil
	}
	mp.Commands = append([]string{"# computed by running, in a private mount+network namespace on a copy:"}, cmds...)
	if filter != nil {
		mp.Commands = append(mp.Commands, "# published container ports, filtered in DOCKER-USER by "+afterInit+" at every ufw start:",
			"iptables -N "+dockerChain+"; iptables -I DOCKER-USER 1 -j "+dockerChain+" (and ip6tables)")
		mp.Commands = append(mp.Commands, filter.describe()...)
		if pubs, err := published(ctx, env); err == nil {
			if closed := closedPorts(pubs, pol.Firewall); len(closed) > 0 {
				mp.Notes = append(mp.Notes, "published container ports that DOCKER-USER will close from outside (not in firewall.allow): "+portList(closed))
			}
		}
	}
	mp.Commands = append(mp.Commands, "ufw --dry-run enable, ufw --force enable and ufw disable in a private network namespace: the loaded chains must be the policy's (verify)")
	if env.Live() {
		mp.Commands = append(mp.Commands, "ufw --force enable (or ufw reload when already running), then the loaded DOCKER-USER chain checked")
	}
	// Lockout guard: default-deny must keep every SSH port open, from the
	// operator's address at least.
	if pol.Firewall.DefaultIncoming != "allow" {
		conn, haveConn, err := env.Conn()
		if err != nil {
			mp.Refusals = append(mp.Refusals, host.ConnRefusal(err))
		}
		for _, p := range sshPorts(ctx, env, pol) {
			ok := false
			for _, a := range pol.Firewall.Allow {
				if a.Port != p || a.Proto != "tcp" {
					continue
				}
				if len(a.From) == 0 {
					ok = true
				}
				for _, src := range a.From {
					if pfx, err := host.ParseAddrOrPrefix(src); err == nil && haveConn && pfx.Contains(conn.Client) {
						ok = true
					}
				}
			}
			if !ok {
				from := "from anywhere (you are on a console, so no address of yours is known)"
				if haveConn {
					from = "from your address " + conn.Client.String()
				}
				mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "firewall-ssh-port",
					Reason: fmt.Sprintf("default %s incoming would close SSH: sshd uses port %d (sshd -T listenaddress, your connection, listening sockets) and the policy does not allow %d/tcp %s; add it to firewall.allow", pol.Firewall.DefaultIncoming, p, p, from)})
			}
		}
	}
	return mp, nil
}

// planData carries the policy and the planned DOCKER-USER filter from
// planning to verification and activation.
type planData struct {
	fw     host.FirewallPolicy
	docker *dockerFilter
}

// Verify has the real ufw load the written files in a private network
// namespace: --dry-run first, then a real enable there (which runs
// after.init), and checks the resulting status lists every allowed port and
// ctsec's DOCKER-USER chain is the planned one; then ufw disable there, which
// must take the chain out again.
func (m *Module) Verify(ctx context.Context, env *host.Env, mp *host.ModulePlan) error {
	dir, err := copyUFW(env)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res, err := Sandbox(ctx, env.Runner, dir, "ufw --dry-run enable >/dev/null && ufw --force enable >/dev/null && ufw status verbose && echo '#rules' && iptables -w -S ufw-user-input && echo '#docker' && "+
		chainsScript()+" && ufw disable >/dev/null && echo '#stopped' && "+chainsScript())
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("ufw rejected the rules (exit %d): %s", res.ExitCode, execx.FirstLine(append(res.Stderr, res.Stdout...)))
	}
	out := string(res.Stdout)
	pd, _ := mp.Data.(planData)
	fw := pd.fw
	if fw.DefaultIncoming != "" && !strings.Contains(out, "Default: "+fw.DefaultIncoming+" (incoming)") {
		return fmt.Errorf("ufw status does not show default %s incoming", fw.DefaultIncoming)
	}
	// ufw does not fail on a rules file iptables-restore rejects, so check
	// what the namespace's kernel really has loaded.
	status, rest, _ := strings.Cut(out, "#rules")
	loaded, rest, _ := strings.Cut(rest, "#docker")
	running, stopped, _ := strings.Cut(rest, "#stopped")
	for _, a := range fw.Allow {
		if !strings.Contains(status, fmt.Sprintf("\n%d/%s ", a.Port, a.Proto)) && len(a.From) == 0 {
			return fmt.Errorf("ufw status lacks %d/%s", a.Port, a.Proto)
		}
		if !strings.Contains(loaded, fmt.Sprintf("--dport %d -j ACCEPT", a.Port)) {
			return fmt.Errorf("%d/%s is not in the loaded ufw-user-input chain", a.Port, a.Proto)
		}
	}
	if err := checkLoaded(parseChains(running), pd.docker); err != nil {
		return fmt.Errorf("after ufw enable: %w", err)
	}
	if err := checkLoaded(parseChains(stopped), nil); err != nil {
		return fmt.Errorf("after ufw disable: %w", err)
	}
	return nil
}

type captured struct {
	Active bool `json:"active"`
}

func (m *Module) Capture(ctx context.Context, env *host.Env, _ *host.ModulePlan) (json.RawMessage, error) {
	if !env.Live() {
		return nil, nil
	}
	res, err := (execx.Runner{Env: []string{"LC_ALL=C"}}).Run(ctx, "ufw", "status")
	if err != nil {
		return nil, err
	}
	return json.Marshal(captured{Active: strings.Contains(string(res.Stdout), "Status: active")})
}

// Activate loads the written files: ufw --force enable when ufw is not
// running, else ufw reload (enable would only say "Firewall already
// started"); both run after.init, whose block loads DOCKER-USER's rules.
// Then the kernel's chains must be the planned ones.
func (m *Module) Activate(ctx context.Context, env *host.Env, mp *host.ModulePlan) error {
	if !env.Live() {
		return nil
	}
	if err := loadUFW(ctx, env); err != nil {
		return err
	}
	pd, _ := mp.Data.(planData)
	if pd.docker == nil {
		// The new after.init has no block to take the chain out at stop.
		if err := removeChain(ctx, env.Runner); err != nil {
			return err
		}
	}
	chains, err := liveChains(ctx, env.Runner)
	if err != nil {
		return err
	}
	return checkLoaded(chains, pd.docker)
}

// loadUFW makes the running ufw use its files.
func loadUFW(ctx context.Context, env *host.Env) error {
	if res, err := env.Runner.Run(ctx, "iptables", "-w", "-nL", "ufw-user-input"); err == nil && res.ExitCode == 0 {
		_, err := env.Runner.Output(ctx, "ufw", "reload")
		return err
	}
	_, err := env.Runner.Output(ctx, "ufw", "--force", "enable")
	return err
}

// Revert loads the restored files, or turns ufw off again if it was off.
// ctsec's chain is taken out first when the restored after.init has no
// block of ctsec's that would do it.
func (m *Module) Revert(ctx context.Context, env *host.Env, state json.RawMessage) error {
	if !env.Live() || len(state) == 0 {
		return nil
	}
	var c captured
	if err := json.Unmarshal(state, &c); err != nil {
		return err
	}
	restored, err := env.ReadFile(afterInit)
	if err != nil && !host.IsNotExist(err) {
		return err
	}
	if _, _, ok, err := findBlock(restored); err != nil || !ok {
		if err := removeChain(ctx, env.Runner); err != nil {
			return err
		}
	}
	if c.Active {
		_, err := env.Runner.Output(ctx, "ufw", "reload")
		return err
	}
	_, err = env.Runner.Output(ctx, "ufw", "disable")
	return err
}
