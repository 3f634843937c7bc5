package updates

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/systemd"
)

const (
	// ConfFile sorts after 50unattended-upgrades, so its #clear drops the
	// distribution's origins before adding the security ones.
	ConfFile     = "/etc/apt/apt.conf.d/52ctsec-unattended-upgrades"
	UpgradeTimer = "apt-daily-upgrade.timer"
	UpdateTimer  = "apt-daily.timer"
	timerDropIn  = "ctsec.conf"
)

func timerPath(unit string) string { return "/etc/systemd/system/" + unit + ".d/" + timerDropIn }

type Module struct{}

func New() *Module { return &Module{} }

func (*Module) Name() string { return "updates" }

// apt ignores files in apt.conf.d whose names have other characters.
var aptPartName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_.-]+$`) })

// Load reads apt's configuration under the root the way apt does: every
// valid file of apt.conf.d in order, then apt.conf.
func Load(ov host.Overlay) (Tree, error) {
	files, err := ov.Glob("/etc/apt/apt.conf.d/*")
	if err != nil {
		return Tree{}, err
	}
	var ops []Op
	for _, f := range append(files, "/etc/apt/apt.conf") {
		base := path.Base(f)
		if !aptPartName().MatchString(base) || strings.Contains(base, ".dpkg-") || strings.HasSuffix(base, ".disabled") || strings.HasSuffix(base, ".save") {
			continue
		}
		b, err := ov.ReadFile(f)
		if host.IsNotExist(err) {
			continue
		}
		if err != nil {
			if st, serr := ov.Env.FS().Stat(f); serr == nil && st.IsDir() {
				continue
			}
			return Tree{}, err
		}
		o, err := ParseAptConf(f, b)
		if err != nil {
			return Tree{}, fmt.Errorf("reading apt configuration: %w", err)
		}
		ops = append(ops, o...)
	}
	return Eval(ops), nil
}

// security says whether an origin pattern only selects security updates.
func security(pattern string) bool {
	p := strings.ToLower(pattern)
	return strings.Contains(p, "label=debian-security") || strings.Contains(p, "-security")
}

func (m *Module) Audit(ctx context.Context, env *host.Env, pol *host.Policy) ([]report.Finding, error) {
	var fs []report.Finding
	if !env.Exists("/usr/bin/unattended-upgrade") {
		fs = append(fs, report.Finding{Rule: "host/updates-installed", Severity: report.High, Target: "unattended-upgrades",
			Message: "unattended-upgrades is not installed: security updates are not applied automatically",
			Fix:     "apt-get install unattended-upgrades, then ctsec host apply updates"})
	}
	ov := host.Overlay{Env: env}
	t, err := Load(ov)
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"APT::Periodic::Update-Package-Lists", "APT::Periodic::Unattended-Upgrade"} {
		f := report.Finding{Rule: "host/updates-periodic", Target: k, Severity: report.Info}
		op, ok := t.Scalar(k)
		switch {
		case !ok:
			f.Severity = report.High
			f.Message = k + " is not set: apt's daily job does not run it"
		case op.Value == "0" || op.Value == "":
			f.Severity = report.High
			f.File, f.Line = op.File, op.Line
			f.Message = fmt.Sprintf("%s is %q (disabled)", k, op.Value)
		default:
			f.File, f.Line = op.File, op.Line
			f.Message = fmt.Sprintf("%s is %q (every %s day(s))", k, op.Value, op.Value)
		}
		if f.Severity > report.Info {
			f.Fix = "ctsec host apply updates"
		}
		fs = append(fs, f)
	}
	origins := append(t.List("Unattended-Upgrade::Origins-Pattern"), t.List("Unattended-Upgrade::Allowed-Origins")...)
	if len(origins) == 0 {
		fs = append(fs, report.Finding{Rule: "host/updates-origins", Severity: report.Medium, Target: "Unattended-Upgrade::Origins-Pattern",
			Message: "no origins configured: unattended-upgrade would install nothing", Fix: "ctsec host apply updates"})
	}
	for _, o := range origins {
		if pol.Updates.SecurityOnly && !security(o.Value) {
			fs = append(fs, report.Finding{Rule: "host/updates-origins", Severity: report.Medium, File: o.File, Line: o.Line,
				Target:  "Unattended-Upgrade::Origins-Pattern",
				Message: fmt.Sprintf("origin %q is not security-only: unattended upgrades also install ordinary point-release updates", o.Value),
				Fix:     "ctsec host apply updates (writes " + ConfFile + " with #clear, which replaces the list)"})
		}
	}
	if op, ok := t.Scalar("Unattended-Upgrade::Automatic-Reboot"); ok && strings.EqualFold(op.Value, "true") && !pol.Updates.AutomaticReboot {
		fs = append(fs, report.Finding{Rule: "host/updates-reboot", Severity: report.Medium, File: op.File, Line: op.Line,
			Message: "Unattended-Upgrade::Automatic-Reboot is true: the host reboots on its own after some upgrades"})
	}
	tm := effectiveTimer(ov, UpgradeTimer)
	f := report.Finding{Rule: "host/updates-schedule", Target: UpgradeTimer, Severity: report.Info}
	if len(tm.Files) > 0 {
		f.File = tm.Files[len(tm.Files)-1]
	}
	when := fmt.Sprintf("OnCalendar=%s, RandomizedDelaySec=%s (from %s)", strings.Join(tm.OnCalendar, " + "), orZero(tm.RandomDelay), strings.Join(tm.Files, ", "))
	if len(tm.Files) == 0 {
		f.Severity = report.Medium
		f.Message = UpgradeTimer + " not found: nothing runs unattended-upgrade on a schedule"
	} else if pol.Updates.Time != "" && !(len(tm.OnCalendar) == 1 && tm.OnCalendar[0] == calendar(pol.Updates.Time) && isZero(tm.RandomDelay)) {
		f.Severity = report.Low
		f.Message = fmt.Sprintf("upgrades run at %s; policy wants %s daily", when, pol.Updates.Time)
		f.Fix = "ctsec host apply updates (timer drop-in " + timerPath(UpgradeTimer) + ")"
	} else {
		f.Message = "upgrades run at " + when
	}
	fs = append(fs, f)
	return fs, nil
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func isZero(s string) bool { return s == "" || s == "0" || s == "0s" }

func effectiveTimer(ov host.Overlay, unit string) Timer {
	var t Timer
	for _, f := range TimerFiles(ov, unit) {
		if b, err := ov.ReadFile(f); err == nil {
			t.ApplyUnit(f, b)
		}
	}
	return t
}

// calendar is the OnCalendar= expression for a daily HH:MM.
func calendar(hhmm string) string { return "*-*-* " + hhmm + ":00" }

// before is hh:mm minus 30 minutes, for refreshing the package lists first.
func before(hhmm string) string {
	var h, m int
	fmt.Sscanf(hhmm, "%d:%d", &h, &m)
	t := (h*60 + m + 24*60 - 30) % (24 * 60)
	return fmt.Sprintf("%02d:%02d", t/60, t%60)
}

// osID is ID= from os-release ("debian", "ubuntu").
func osID(env *host.Env) string {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		if b, err := env.ReadFile(p); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "ID="); ok {
					return strings.Trim(v, `"`)
				}
			}
		}
	}
	return "debian"
}

// Origins are the security-only origin patterns for the distribution.
func Origins(env *host.Env) []string {
	if osID(env) == "ubuntu" {
		return []string{"origin=Ubuntu,archive=${distro_codename}-security,label=Ubuntu"}
	}
	return []string{
		"origin=Debian,codename=${distro_codename},label=Debian-Security",
		"origin=Debian,codename=${distro_codename}-security,label=Debian-Security",
	}
}

// RenderConf is the apt.conf.d file for a policy.
func RenderConf(env *host.Env, pol *host.Policy) []byte {
	var b strings.Builder
	b.WriteString("// Written by ctsec host apply from its updates policy; changes here are\n")
	b.WriteString("// replaced on the next apply. Sorts after 50unattended-upgrades: lists in\n")
	b.WriteString("// apt.conf.d append across files, so #clear drops the earlier origins.\n")
	b.WriteString("APT::Periodic::Update-Package-Lists \"1\";\n")
	b.WriteString("APT::Periodic::Unattended-Upgrade \"1\";\n")
	if pol.Updates.SecurityOnly {
		b.WriteString("#clear Unattended-Upgrade::Origins-Pattern;\n")
		b.WriteString("#clear Unattended-Upgrade::Allowed-Origins;\n")
		b.WriteString("Unattended-Upgrade::Origins-Pattern {\n")
		for _, o := range Origins(env) {
			fmt.Fprintf(&b, "\t%q;\n", o)
		}
		b.WriteString("};\n")
	}
	fmt.Fprintf(&b, "Unattended-Upgrade::Automatic-Reboot \"%t\";\n", pol.Updates.AutomaticReboot)
	if len(pol.Updates.PackageBlacklist) > 0 {
		b.WriteString("Unattended-Upgrade::Package-Blacklist {\n")
		for _, p := range pol.Updates.PackageBlacklist {
			fmt.Fprintf(&b, "\t\"%s$\";\n", regexp.QuoteMeta(p))
		}
		b.WriteString("};\n")
	}
	return []byte(b.String())
}

// RenderTimer is a timer drop-in that runs daily at hh:mm sharp.
func RenderTimer(hhmm string) []byte {
	return []byte(fmt.Sprintf(`# Written by ctsec host apply from its updates policy.
[Timer]
OnCalendar=
OnCalendar=%s
RandomizedDelaySec=0
`, calendar(hhmm)))
}

type planData struct {
	origins []string
	reboot  bool
	time    string
}

func (m *Module) Plan(ctx context.Context, env *host.Env, pol *host.Policy) (*host.ModulePlan, error) {
	mp := &host.ModulePlan{Data: planData{origins: Origins(env), reboot: pol.Updates.AutomaticReboot, time: pol.Updates.Time}}
	if !pol.Updates.SecurityOnly {
		mp.Data = planData{reboot: pol.Updates.AutomaticReboot, time: pol.Updates.Time}
	}
	want := map[string][]byte{ConfFile: RenderConf(env, pol)}
	if pol.Updates.Time != "" {
		want[timerPath(UpgradeTimer)] = RenderTimer(pol.Updates.Time)
		want[timerPath(UpdateTimer)] = RenderTimer(before(pol.Updates.Time))
	}
	for _, p := range host.SortedKeys(want) {
		ed, err := host.NewEdit(env, p, want[p], 0o644)
		if err != nil {
			return nil, err
		}
		if ed != nil {
			mp.Edits = append(mp.Edits, *ed)
		}
	}
	if !mp.Changed() {
		return mp, nil
	}
	mp.Commands = []string{"apt-config dump (check origins, periodic values, reboot)", "systemd-analyze calendar '" + calendar(pol.Updates.Time) + "'"}
	if env.Systemd() {
		mp.Commands = append(mp.Commands, "systemctl daemon-reload")
	}
	if !env.Exists("/usr/bin/unattended-upgrade") {
		mp.Notes = append(mp.Notes, "unattended-upgrades is not installed; the configuration takes effect once it is (apt-get install unattended-upgrades)")
	}
	return mp, nil
}

// Verify has apt itself read the configuration under the root and checks
// the values, and has systemd check the calendar expression.
func (m *Module) Verify(ctx context.Context, env *host.Env, mp *host.ModulePlan) error {
	pd, _ := mp.Data.(planData)
	// apt is handed a private copy: it would follow a symlink in the root's
	// tree out of it; the copy holds only what the root resolves to.
	tmp, err := os.MkdirTemp("", "ctsec-apt-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	parts, main := filepath.Join(tmp, "apt.conf.d"), filepath.Join(tmp, "apt.conf")
	if err := env.FS().CopyOut("/etc/apt/apt.conf.d", parts); err != nil && !host.IsNotExist(err) {
		return fmt.Errorf("copying /etc/apt/apt.conf.d: %w", err)
	}
	if err := env.FS().CopyOut("/etc/apt/apt.conf", main); err != nil && !host.IsNotExist(err) {
		return fmt.Errorf("copying /etc/apt/apt.conf: %w", err)
	}
	f, err := os.Create(filepath.Join(tmp, "ctsec.conf"))
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "Dir::Etc::parts %q;\nDir::Etc::main %q;\n", parts, main)
	f.Close()
	r := env.Runner
	r.Env = append(append([]string{}, r.Env...), "APT_CONFIG="+f.Name())
	out, err := r.Output(ctx, "apt-config", "dump")
	if err != nil {
		return err
	}
	dump := string(out)
	for _, want := range []string{`APT::Periodic::Unattended-Upgrade "1";`, `Unattended-Upgrade::Automatic-Reboot "` + fmt.Sprint(pd.reboot) + `";`} {
		if !strings.Contains(dump, want) {
			return fmt.Errorf("apt-config dump lacks %s", want)
		}
	}
	if pd.origins != nil {
		var got []string
		for _, l := range strings.Split(dump, "\n") {
			if v, ok := strings.CutPrefix(l, "Unattended-Upgrade::Origins-Pattern:: "); ok {
				got = append(got, strings.Trim(strings.TrimSuffix(v, ";"), `"`))
			}
		}
		if strings.Join(got, "\n") != strings.Join(pd.origins, "\n") {
			return fmt.Errorf("apt-config dump shows origins %q, want %q", got, pd.origins)
		}
	}
	if pd.time != "" {
		if _, err := env.Runner.Output(ctx, "systemd-analyze", "calendar", calendar(pd.time)); err != nil {
			return err
		}
		tm := effectiveTimer(host.Overlay{Env: env}, UpgradeTimer)
		if len(tm.Files) > 0 && (len(tm.OnCalendar) != 1 || tm.OnCalendar[0] != calendar(pd.time)) {
			return fmt.Errorf("%s runs at %v after the drop-in, want %s", UpgradeTimer, tm.OnCalendar, calendar(pd.time))
		}
	}
	return nil
}

func (*Module) Capture(context.Context, *host.Env, *host.ModulePlan) (json.RawMessage, error) {
	return nil, nil
}

func (m *Module) Activate(ctx context.Context, env *host.Env, _ *host.ModulePlan) error {
	return systemd.Systemctl(ctx, env.Runner, env.Root, "daemon-reload")
}

func (m *Module) Revert(ctx context.Context, env *host.Env, _ json.RawMessage) error {
	return systemd.Systemctl(ctx, env.Runner, env.Root, "daemon-reload")
}
