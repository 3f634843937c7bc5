package fail2ban

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

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

func entries(env *host.Env) ([]Entry, error) { return overlayEntries(host.Overlay{Env: env}) }

// overlayEntries parses every jail file fail2ban reads, planned content
// laid over the root's.
func overlayEntries(ov host.Overlay) ([]Entry, error) {
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

// check runs fail2ban-client -t and -d on the configuration under the
// root. It has the real tool load the jail as fail2ban will.
func check(ctx context.Context, env *host.Env, jail string) (testErr error, j Jail, err error) {
	return checkOverlay(ctx, host.Overlay{Env: env}, jail, true)
}

// checkOverlay runs fail2ban-client (-t when test, then -d) on a private
// copy of the root's configuration with planned files laid over it (a nil
// one hidden): fail2ban would follow a symlink in the root's tree out of
// it; the copy holds only what the root resolves to.
func checkOverlay(ctx context.Context, ov host.Overlay, jail string, test bool) (testErr error, j Jail, err error) {
	env := ov.Env
	tmp, err := os.MkdirTemp("", "ctsec-fail2ban-")
	if err != nil {
		return nil, j, err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "fail2ban")
	if err := env.FS().CopyOut(ConfDir, dir); err != nil {
		return nil, j, fmt.Errorf("copying %s: %w", ConfDir, err)
	}
	for p, b := range ov.Files {
		rel, ok := strings.CutPrefix(p, ConfDir+"/")
		if !ok {
			continue
		}
		out := filepath.Join(dir, rel)
		if b == nil {
			os.Remove(out)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return nil, j, err
		}
		if err := os.WriteFile(out, b, 0o644); err != nil {
			return nil, j, err
		}
	}
	if !test {
		out, err := env.Runner.Run(ctx, "fail2ban-client", "-c", dir, "-d")
		if err != nil {
			return nil, j, err
		}
		return nil, ParseDump(out.Stdout, jail), nil
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
	fs = append(fs, bannedFindings(ctx, env, pol)...)
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

// ignoreList is the site's own ignoreip (what the jail has without
// ctsec's drop-in), then the policy's, then the operator's addresses: a
// jail's ignoreip replaces the one it inherits, so writing only the
// policy's would silently drop the site's.
func ignoreList(pol *host.Policy, site []string) []string {
	var out []string
	for _, l := range [][]string{site, pol.Fail2ban.IgnoreIP, pol.Operator.TrustedIPs} {
		for _, ip := range l {
			if !slices.Contains(out, ip) {
				out = append(out, ip)
			}
		}
	}
	return out
}

// siteEntry is an ignoreip entry fail2ban takes: an address, a network,
// or a host name; anything else (a newline, "=") cannot go into the
// drop-in.
var siteEntry = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9.:/_-]{1,253}$`) })

// siteIgnoreIP is the ignoreip the jail has without ctsec's drop-in, as
// fail2ban-client -d resolves it (interpolations included), and where the
// parser finds it set.
func siteIgnoreIP(ctx context.Context, env *host.Env, jail string) ([]string, string, error) {
	ov := host.Overlay{Env: env, Files: map[string][]byte{DropIn: nil}}
	_, j, err := checkOverlay(ctx, ov, jail, false)
	if err != nil {
		return nil, "", err
	}
	var out []string
	for _, ip := range j.Settings["addignoreip"] {
		for _, e := range strings.FieldsFunc(ip, func(r rune) bool { return r == ' ' || r == ',' || r == '\n' || r == '\t' }) {
			if siteEntry().MatchString(e) && !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
	}
	src := ""
	if es, err := overlayEntries(ov); err == nil {
		if e, ok := Lookup(es, jail, "ignoreip"); ok {
			src = fmt.Sprintf("%s:%d [%s]", e.File, e.Line, e.Section)
		}
	}
	return out, src, nil
}

// Render is the jail drop-in for a policy; site is the site's own ignoreip,
// kept.
func Render(pol *host.Policy, site []string) []byte {
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
`, f.Jail, f.Backend, f.MaxRetry, f.FindTime, f.BanTime, strings.Join(ignoreList(pol, site), " ")))
}

func (m *Module) Plan(ctx context.Context, env *host.Env, pol *host.Policy) (*host.ModulePlan, error) {
	mp := &host.ModulePlan{}
	if !env.Exists(ConfDir + "/jail.conf") {
		mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "fail2ban-installed", Reason: "fail2ban is not installed (apt-get install fail2ban python3-systemd)"})
		return mp, nil
	}
	site, src, err := siteIgnoreIP(ctx, env, pol.Fail2ban.Jail)
	if err != nil {
		return nil, fmt.Errorf("reading the site's ignoreip: %w", err)
	}
	content := Render(pol, site)
	mp.Data = planData{Policy: pol.Fail2ban, IgnoreIP: ignoreList(pol, site)}
	ed, err := host.NewEdit(env, DropIn, content, 0o644)
	if err != nil {
		return nil, err
	}
	if ed == nil {
		return mp, nil
	}
	mp.Edits = append(mp.Edits, *ed)
	if len(site) > 0 {
		mp.Notes = append(mp.Notes, fmt.Sprintf("keeps the site's own ignoreip %s (from %s) beside the policy's: the jail's ignoreip replaces the one it would inherit", strings.Join(site, " "), orDefault(src, "fail2ban's defaults")))
	}
	refusals, err := laterSources(ctx, env, mp.Data.(planData), content)
	if err != nil {
		return nil, err
	}
	mp.Refusals = append(mp.Refusals, refusals...)
	mp.Commands = []string{"fail2ban-client -c " + ConfDir + " -t", "fail2ban-client -c " + ConfDir + " -d (check the jail's values)"}
	if env.Live() {
		mp.Commands = append(mp.Commands, reloadCommand(env)+" (if the server runs), then the running jail's maxretry, findtime and bantime checked (fail2ban-client get)")
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
	switch conn, ok, err := env.Conn(); {
	case err != nil:
		mp.Refusals = append(mp.Refusals, host.ConnRefusal(err))
	case ok && !covered(conn.Client.String(), ignoreList(pol, site)):
		mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "fail2ban-client-ip",
			Reason: fmt.Sprintf("your SSH client address %s (SSH_CONNECTION) is not in ignoreip: %d failed logins would ban you for %s; add it to operator.trusted_ips", conn.Client, pol.Fail2ban.MaxRetry, pol.Fail2ban.BanTime)})
	}
	return mp, nil
}

// planData is what plan hands verification.
type planData struct {
	Policy   host.Fail2banPolicy
	IgnoreIP []string
}

// mismatches compares the jail fail2ban-client -d shows with the plan:
// key → what it shows instead.
func mismatches(j Jail, want planData) map[string]string {
	out := map[string]string{}
	w := want.Policy
	if !j.Enabled {
		out["enabled"] = "the jail is not started"
	}
	if j.Backend != w.Backend {
		out["backend"] = "backend " + j.Backend
	}
	for _, c := range []struct{ key, want string }{{"maxretry", strconv.Itoa(w.MaxRetry)}, {"findtime", w.FindTime}, {"bantime", w.BanTime}} {
		g, _ := seconds(j.Get(c.key))
		x, _ := seconds(c.want)
		if g != x {
			out[c.key] = fmt.Sprintf("%s = %s, want %s", c.key, short(j.Get(c.key)), c.want)
		}
	}
	var missing []string
	for _, ip := range want.IgnoreIP {
		if !covered(ip, j.Settings["addignoreip"]) && !slices.Contains(j.Settings["addignoreip"], ip) {
			missing = append(missing, ip)
		}
	}
	if len(missing) > 0 {
		out["ignoreip"] = "ignoreip lacks " + strings.Join(missing, " ")
	}
	return out
}

// laterSources has fail2ban load the jail as it would with the planned
// drop-in, and refuses every value that is not the policy's because a file
// read later sets it (a jail.d/zz.local [sshd] section), naming that file.
func laterSources(ctx context.Context, env *host.Env, want planData, content []byte) ([]host.Refusal, error) {
	ov := host.Overlay{Env: env, Files: map[string][]byte{DropIn: content}}
	_, j, err := checkOverlay(ctx, ov, want.Policy.Jail, false)
	if err != nil {
		return nil, err
	}
	bad := mismatches(j, want)
	if len(bad) == 0 {
		return nil, nil
	}
	es, _ := overlayEntries(ov)
	var out []host.Refusal
	for _, key := range host.SortedKeys(bad) {
		reason := fmt.Sprintf("with %s written, fail2ban-client -d shows %s", DropIn, bad[key])
		if e, ok := Lookup(es, want.Policy.Jail, key); ok && e.File != DropIn {
			reason = fmt.Sprintf("%s:%d sets %s = %s in [%s], read after %s, so it wins (fail2ban-client -d shows %s); remove it there or make it the policy's value (ctsec does not edit files it does not own)",
				e.File, e.Line, key, short(strings.ReplaceAll(e.Value, "\n", " ")), e.Section, DropIn, bad[key])
		}
		out = append(out, host.Refusal{Guard: "fail2ban-later-file", Reason: reason})
	}
	return out, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Verify loads the written configuration with fail2ban-client -t and checks
// the jail's effective values with -d.
func (m *Module) Verify(ctx context.Context, env *host.Env, mp *host.ModulePlan) error {
	want, _ := mp.Data.(planData)
	testErr, j, err := check(ctx, env, want.Policy.Jail)
	if err != nil {
		return err
	}
	if testErr != nil {
		return testErr
	}
	for _, k := range host.SortedKeys(mismatches(j, want)) {
		return fmt.Errorf("fail2ban-client -d: jail %s: %s", want.Policy.Jail, mismatches(j, want)[k])
	}
	return nil
}

func (*Module) Capture(context.Context, *host.Env, *host.ModulePlan) (json.RawMessage, error) {
	return nil, nil
}

// Activate has the running server read the new files, then asks it for
// the jail's values: a reload that left the old ones in force fails here,
// and the apply is rolled back.
func (m *Module) Activate(ctx context.Context, env *host.Env, mp *host.ModulePlan) error {
	running, err := reload(ctx, env)
	if err != nil || !running {
		return err
	}
	pd, ok := mp.Data.(planData)
	if !ok {
		return nil
	}
	for _, c := range []struct{ key, want string }{
		{"maxretry", strconv.Itoa(pd.Policy.MaxRetry)}, {"findtime", pd.Policy.FindTime}, {"bantime", pd.Policy.BanTime},
	} {
		out, err := env.Runner.Output(ctx, "fail2ban-client", "get", pd.Policy.Jail, c.key)
		if err != nil {
			return fmt.Errorf("reading the running jail %s: %w", pd.Policy.Jail, err)
		}
		got, ok1 := seconds(strings.TrimSpace(string(out)))
		want, ok2 := seconds(c.want)
		if !ok1 || !ok2 || got != want {
			return fmt.Errorf("after the reload the running jail %s has %s %s, not the policy's %s", pd.Policy.Jail, c.key, strings.TrimSpace(string(out)), c.want)
		}
	}
	return nil
}

func (m *Module) Revert(ctx context.Context, env *host.Env, _ json.RawMessage) error {
	_, err := reload(ctx, env)
	return err
}

// reload has a running fail2ban server re-read its configuration: through
// systemd where it runs (fail2ban.service's ExecReload, and systemd knows
// of it), else with fail2ban-client. It reports whether a server runs.
func reload(ctx context.Context, env *host.Env) (bool, error) {
	if !env.Live() {
		return false, nil
	}
	if res, err := env.Runner.Run(ctx, "fail2ban-client", "ping"); err != nil || res.ExitCode != 0 {
		return false, nil // not running: it reads the files when it starts
	}
	cmd := strings.Fields(reloadCommand(env))
	_, err := env.Runner.Output(ctx, cmd[0], cmd[1:]...)
	return true, err
}

// reloadCommand is how the running server is reloaded: through systemd when
// fail2ban.service runs (a server started by hand answers ping but has no
// unit), else fail2ban-client.
func reloadCommand(env *host.Env) string {
	if env.Systemd() {
		if res, err := env.Runner.Run(context.Background(), "systemctl", "is-active", "--quiet", "fail2ban"); err == nil && res.ExitCode == 0 {
			return "systemctl reload fail2ban"
		}
	}
	return "fail2ban-client reload"
}
