package fail2ban

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/report"
)

// ConfDir is fail2ban's configuration directory.
const ConfDir = "/etc/fail2ban"

// DropIn is read last of all jail files (jail.d/*.local come after jail.local).
const DropIn = "/etc/fail2ban/jail.d/ctsec.local"

type Module struct{}

func New() *Module { return &Module{} }

func (*Module) Name() string { return "fail2ban" }

func entries(env *host.Env) ([]Entry, error) {
	ov := host.Overlay{Env: env}
	files, err := JailFiles(ov, ConfDir)
	if err != nil {
		return nil, err
	}
	var all []Entry
	for _, f := range files {
		b, err := ov.ReadFile(f)
		if host.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		es, err := ParseINI(f, b)
		if err != nil {
			return nil, err
		}
		all = append(all, es...)
	}
	return all, nil
}

// check runs fail2ban-client -t and -d on a private copy of the
// configuration under the root: fail2ban would follow a symlink in the
// root's tree out of it, the copy holds only what the root resolves to.
func check(ctx context.Context, env *host.Env, jail string) (testErr error, j Jail, err error) {
	tmp, err := os.MkdirTemp("", "ctsec-fail2ban-")
	if err != nil {
		return nil, j, err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "fail2ban")
	if err := env.FS().CopyOut(ConfDir, dir); err != nil {
		return nil, j, fmt.Errorf("copying %s: %w", ConfDir, err)
	}
	res, err := env.Runner.Run(ctx, "fail2ban-client", "-c", dir, "-t")
	if err != nil {
		return nil, j, err
	}
	if res.ExitCode != 0 {
		testErr = fmt.Errorf("fail2ban-client -t (exit %d): %s", res.ExitCode, lastError(res.Stderr, res.Stdout))
	}
	out, err := env.Runner.Run(ctx, "fail2ban-client", "-c", dir, "-d")
	if err != nil {
		return testErr, j, err
	}
	return testErr, ParseDump(out.Stdout, jail), nil
}

// lastError picks fail2ban's own ERROR line without the timestamp.
func lastError(bs ...[]byte) string {
	for _, b := range bs {
		for _, l := range strings.Split(string(b), "\n") {
			if i := strings.Index(l, "ERROR"); i >= 0 && !strings.Contains(l, "test configuration failed") {
				return strings.TrimSpace(l[i+len("ERROR"):])
			}
		}
	}
	return execx.FirstLine(append(bs[0], bs[len(bs)-1]...))
}

func (m *Module) Audit(ctx context.Context, env *host.Env, pol *host.Policy) ([]report.Finding, error) {
	jail := pol.Fail2ban.Jail
	if !env.Exists(ConfDir + "/jail.conf") {
		return []report.Finding{{Rule: "host/fail2ban-installed", Severity: report.High, Target: "fail2ban",
			Message: "fail2ban is not installed (no " + ConfDir + "/jail.conf): SSH brute force is not throttled", Fix: "apt-get install fail2ban python3-systemd"}}, nil
	}
	es, err := entries(env)
	if err != nil {
		return nil, err
	}
	testErr, j, err := check(ctx, env, jail)
	if err != nil {
		return nil, err
	}
	var fs []report.Finding
	loc := func(f *report.Finding, key string) string {
		if e, ok := Lookup(es, jail, key); ok {
			f.File, f.Line = e.File, e.Line
			return fmt.Sprintf("%s:%d [%s]", e.File, e.Line, e.Section)
		}
		return "fail2ban's default"
	}
	if testErr != nil {
		f := report.Finding{Rule: "host/fail2ban-test", Severity: report.High, Target: "jail " + jail,
			Fix: "ctsec host apply fail2ban (backend = systemd reads the journal; Debian 12 has no /var/log/auth.log without rsyslog)"}
		f.Message = fmt.Sprintf("the configuration does not load, so fail2ban does not run: %v (backend %s, from %s)", testErr, j.Backend, loc(&f, "backend"))
		fs = append(fs, f)
	}
	if !j.Enabled {
		f := report.Finding{Rule: "host/fail2ban-enabled", Severity: report.High, Target: "jail " + jail}
		f.Message = fmt.Sprintf("jail %s is not enabled (enabled from %s)", jail, loc(&f, "enabled"))
		fs = append(fs, f)
	}
	for _, c := range []struct {
		key, want string
	}{{"maxretry", strconv.Itoa(pol.Fail2ban.MaxRetry)}, {"findtime", pol.Fail2ban.FindTime}, {"bantime", pol.Fail2ban.BanTime}} {
		got := j.Get(c.key)
		f := report.Finding{Rule: "host/fail2ban-option", Target: "jail " + jail + " " + c.key, Severity: report.Info}
		src := loc(&f, c.key)
		gs, ok1 := seconds(got)
		ws, ok2 := seconds(c.want)
		if ok1 && ok2 && gs == ws {
			f.Message = fmt.Sprintf("%s = %s as the policy wants (fail2ban-client -d; from %s)", c.key, got, src)
		} else {
			f.Severity = report.Medium
			f.Message = fmt.Sprintf("%s = %s, policy wants %s (fail2ban-client -d; from %s)", c.key, short(got), c.want, src)
			f.Fix = "ctsec host apply fail2ban (writes " + DropIn + "; a [" + jail + "] section beats [DEFAULT] in any file)"
		}
		fs = append(fs, f)
	}
	f := report.Finding{Rule: "host/fail2ban-backend", Target: "jail " + jail, Severity: report.Info}
	f.Message = fmt.Sprintf("backend %s (from %s)", j.Backend, loc(&f, "backend"))
	if j.Backend == "systemd" && !pythonSystemd(env) {
		f.Severity = report.High
		f.Message += ": python3-systemd is not installed, the journal cannot be read"
		f.Fix = "apt-get install python3-systemd"
	}
	fs = append(fs, f)
	ignored := j.Settings["addignoreip"]
	for _, ip := range pol.Operator.TrustedIPs {
		if !covered(ip, ignored) {
			f := report.Finding{Rule: "host/fail2ban-ignoreip", Severity: report.Low, Target: "jail " + jail,
				Message: fmt.Sprintf("trusted operator address %s is not in ignoreip (%s): mistyped logins can ban the operator", ip, strings.Join(ignored, " ")),
				Fix:     "ctsec host apply fail2ban"}
			loc(&f, "ignoreip")
			fs = append(fs, f)
		}
	}
	if env.DockerPresent() && !strings.Contains(j.Get("chain"), "DOCKER-USER") {
		fs = append(fs, report.Finding{Rule: "host/fail2ban-docker", Severity: report.Info, Target: "jail " + jail,
			Message: "bans are added to INPUT; ports published by containers go through FORWARD and are not protected by this jail"})
	}
	return fs, nil
}

func short(v string) string {
	if v == "" {
		return "(unset)"
	}
	return v
}

func pythonSystemd(env *host.Env) bool {
	ov := host.Overlay{Env: env}
	m, _ := ov.Glob("/usr/lib/python3/dist-packages/systemd/journal.py")
	return len(m) > 0
}

// covered reports whether ip is inside one of the ignoreip entries.
func covered(ip string, list []string) bool {
	p, err := host.ParseAddrOrPrefix(ip)
	if err != nil {
		return false
	}
	for _, l := range list {
		q, err := host.ParseAddrOrPrefix(l)
		if err != nil {
			continue
		}
		if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// ignoreList is the policy's ignoreip plus the operator's addresses.
func ignoreList(pol *host.Policy) []string {
	out := append([]string{}, pol.Fail2ban.IgnoreIP...)
	for _, ip := range pol.Operator.TrustedIPs {
		if !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}

// Render is the jail drop-in for a policy.
func Render(pol *host.Policy) []byte {
	f := pol.Fail2ban
	return []byte(fmt.Sprintf(`# Written by ctsec host apply from its fail2ban policy; changes here are
# replaced on the next apply. jail.d/*.local files are read last, and a
# [%[1]s] section beats [DEFAULT] in any file.
[%[1]s]
enabled = true
backend = %[2]s
maxretry = %[3]d
findtime = %[4]s
bantime = %[5]s
ignoreip = %[6]s
`, f.Jail, f.Backend, f.MaxRetry, f.FindTime, f.BanTime, strings.Join(ignoreList(pol), " ")))
}

func (m *Module) Plan(ctx context.Context, env *host.Env, pol *host.Policy) (*host.ModulePlan, error) {
	mp := &host.ModulePlan{Data: pol.Fail2ban}
	if !env.Exists(ConfDir + "/jail.conf") {
		mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "fail2ban-installed", Reason: "fail2ban is not installed (apt-get install fail2ban python3-systemd)"})
		return mp, nil
	}
	ed, err := host.NewEdit(env, DropIn, Render(pol), 0o644)
	if err != nil {
		return nil, err
	}
	if ed == nil {
		return mp, nil
	}
	mp.Edits = append(mp.Edits, *ed)
	mp.Commands = []string{"fail2ban-client -c " + ConfDir + " -t", "fail2ban-client -c " + ConfDir + " -d (check the jail's values)"}
	if env.Live() {
		mp.Commands = append(mp.Commands, "fail2ban-client reload (if the server runs)")
	}
	if pol.Fail2ban.Backend == "systemd" && !pythonSystemd(env) {
		// Verification runs this machine's fail2ban-client, so only on the
		// live root does a missing module make it fail; under --root the
		// image's fail2ban is what would break when it starts.
		note := "backend systemd needs python3-systemd, which is not installed: verification will fail"
		if !env.Live() {
			note = "backend systemd needs python3-systemd, which is not installed under " + env.Root + ": fail2ban there will not start until it is"
		}
		mp.Notes = append(mp.Notes, note)
	}
	if ip := env.ClientIP(); ip != "" {
		if _, err := netip.ParseAddr(ip); err == nil && !covered(ip, ignoreList(pol)) {
			mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "fail2ban-client-ip",
				Reason: fmt.Sprintf("your SSH client address %s (SSH_CONNECTION) is not in ignoreip: %d failed logins would ban you for %s; add it to operator.trusted_ips", ip, pol.Fail2ban.MaxRetry, pol.Fail2ban.BanTime)})
		}
	}
	return mp, nil
}

// Verify loads the written configuration with fail2ban-client -t and checks
// the jail's effective values with -d.
func (m *Module) Verify(ctx context.Context, env *host.Env, mp *host.ModulePlan) error {
	want, _ := mp.Data.(host.Fail2banPolicy)
	testErr, j, err := check(ctx, env, want.Jail)
	if err != nil {
		return err
	}
	if testErr != nil {
		return testErr
	}
	if !j.Enabled {
		return fmt.Errorf("fail2ban-client -d: jail %s is not started", want.Jail)
	}
	if j.Backend != want.Backend {
		return fmt.Errorf("fail2ban-client -d: jail %s backend %s, want %s", want.Jail, j.Backend, want.Backend)
	}
	for _, c := range []struct{ key, want string }{{"maxretry", strconv.Itoa(want.MaxRetry)}, {"findtime", want.FindTime}, {"bantime", want.BanTime}} {
		g, _ := seconds(j.Get(c.key))
		w, _ := seconds(c.want)
		if g != w {
			return fmt.Errorf("fail2ban-client -d: jail %s %s = %s, want %s", want.Jail, c.key, j.Get(c.key), c.want)
		}
	}
	return nil
}

func (*Module) Capture(context.Context, *host.Env, *host.ModulePlan) (json.RawMessage, error) {
	return nil, nil
}

func (m *Module) Activate(ctx context.Context, env *host.Env, _ *host.ModulePlan) error {
	return reload(ctx, env)
}

func (m *Module) Revert(ctx context.Context, env *host.Env, _ json.RawMessage) error {
	return reload(ctx, env)
}

// reload asks a running fail2ban server to re-read its configuration.
func reload(ctx context.Context, env *host.Env) error {
	if !env.Live() {
		return nil
	}
	if res, err := env.Runner.Run(ctx, "fail2ban-client", "ping"); err != nil || res.ExitCode != 0 {
		return nil // not running: it reads the files when it starts
	}
	_, err := env.Runner.Output(ctx, "fail2ban-client", "reload")
	return err
}
