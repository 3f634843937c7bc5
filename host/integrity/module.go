// Package integrity is the host module for file integrity tools: AIDE with
// Docker's churn left out, its database initialised (after the other
// modules, so it records the hardened host) and checked daily by Debian's
// dailyaidecheck.timer; rkhunter configured for Debian — the settings that
// make Debian's own configuration fail and its known false positives —
// with its file properties database made, and refreshed by apt after every
// package change (APT_AUTOGEN).
package integrity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/rootfs"
	"github.com/ctsec/ctsec/internal/systemd"
)

// Files the module writes or reads.
const (
	AIDEConf     = "/etc/aide/aide.conf"
	AIDEDropIn   = "/etc/aide/aide.conf.d/99_ctsec_docker" // Debian includes names matching ^[a-zA-Z0-9_-]+$
	AIDEDatabase = "/var/lib/aide/aide.db"
	AIDENew      = "/var/lib/aide/aide.db.new"
	AIDETimer    = "dailyaidecheck.timer"
	RKConf       = "/etc/rkhunter.conf"
	RKDropIn     = "/etc/rkhunter.d/ctsec.conf" // read after rkhunter.conf and rkhunter.conf.local
	RKDefaults   = "/etc/default/rkhunter"
	RKDatabase   = "/var/lib/rkhunter/db/rkhunter.dat"
)

// Module is the integrity module.
type Module struct{}

// New returns the module.
func New() *Module { return &Module{} }

func (*Module) Name() string { return "integrity" }

func aideInstalled(env *host.Env) bool {
	return env.Exists("/usr/bin/aide") && env.Exists(AIDEConf)
}

func rkInstalled(env *host.Env) bool {
	return env.Exists("/usr/bin/rkhunter") && env.Exists(RKConf)
}

// RenderAIDE is the drop-in that leaves paths out of AIDE's database.
func RenderAIDE(pol *host.Policy) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by ctsec host apply integrity: what changes all day on a Docker\n")
	b.WriteString("# host is left out of AIDE's database (AIDE reads this after Debian's rules).\n")
	for _, x := range pol.Integrity.Exclude {
		fmt.Fprintf(&b, "!%s(/|$)\n", regexp.QuoteMeta(strings.TrimRight(x, "/")))
	}
	return b.Bytes()
}

// rkFalsePositives are files Debian ships as scripts (rkhunter's script
// check warns on them) that Debian's rkhunter.conf does not already list,
// and hidden files Debian packages make; only those on the host are named
// (rkhunter --config-check refuses a path that does not exist).
var (
	rkScripts     = []string{"/usr/bin/lwp-request", "/usr/bin/GET", "/usr/bin/POST", "/usr/bin/HEAD"}
	rkHiddenDirs  = []string{"/etc/.java", "/etc/.git"}
	rkHiddenFiles = []string{"/etc/.gitignore", "/etc/.etckeeper", "/etc/.updated", "/usr/share/man/man5/.k5identity.5.gz", "/usr/share/man/man5/.k5login.5.gz"}
)

// RenderRK is rkhunter's drop-in for Debian.
func RenderRK(env *host.Env) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by ctsec host apply integrity: rkhunter on Debian.\n")
	b.WriteString("# Debian's rkhunter.conf sets WEB_CMD=\"/bin/false\", which rkhunter itself\n")
	b.WriteString("# rejects (\"Invalid WEB_CMD configuration option\"), so every run fails;\n")
	b.WriteString("# updates come from the Debian package instead of rkhunter's mirrors.\n")
	b.WriteString("WEB_CMD=\"\"\nUPDATE_MIRRORS=0\nMIRRORS_MODE=1\n")
	b.WriteString("# File properties are checked against dpkg's checksums, so an upgrade is\n# not reported as tampering.\nPKGMGR=DPKG\n")
	for _, p := range rkScripts {
		if env.Exists(p) {
			fmt.Fprintf(&b, "SCRIPTWHITELIST=%s\n", p)
		}
	}
	for _, p := range rkHiddenDirs {
		if st, err := env.FS().Lstat(p); err == nil && st.IsDir() {
			fmt.Fprintf(&b, "ALLOWHIDDENDIR=%s\n", p)
		}
	}
	for _, p := range rkHiddenFiles {
		if st, err := env.FS().Lstat(p); err == nil && st.Mode().IsRegular() {
			fmt.Fprintf(&b, "ALLOWHIDDENFILE=%s\n", p)
		}
	}
	if env.Exists("/usr/lib/postgresql") {
		b.WriteString("# PostgreSQL on the host keeps its shared memory in /dev/shm.\nALLOWDEVFILE=/dev/shm/PostgreSQL.*\n")
	}
	return b.Bytes()
}

// defaultsLine matches a KEY="value" line of /etc/default/rkhunter; the
// file is sourced by a shell, where leading blanks still assign.
var defaultsLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[ \t]*([A-Z_]+)=(.*)$`) })

// RenderDefaults is /etc/default/rkhunter with the daily run and the apt
// hook's database update switched on, every other line as it was.
func RenderDefaults(old []byte) []byte {
	want := map[string]string{"CRON_DAILY_RUN": `"true"`, "APT_AUTOGEN": `"true"`}
	seen := map[string]bool{}
	lines := strings.SplitAfter(string(old), "\n")
	for i, l := range lines {
		body := strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r")
		m := defaultsLine().FindStringSubmatch(body)
		if m == nil {
			continue
		}
		if v, ok := want[m[1]]; ok {
			seen[m[1]] = true
			lines[i] = m[1] + "=" + v + "\n"
		}
	}
	out := strings.Join(lines, "")
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	for _, k := range []string{"CRON_DAILY_RUN", "APT_AUTOGEN"} {
		if !seen[k] {
			out += k + "=" + want[k] + "\n"
		}
	}
	return []byte(out)
}

// defaultsValue is a key's value in /etc/default/rkhunter, unquoted.
func defaultsValue(data []byte, key string) string {
	v := ""
	for _, l := range strings.Split(string(data), "\n") {
		if m := defaultsLine().FindStringSubmatch(strings.TrimSuffix(l, "\r")); m != nil && m[1] == key {
			v = strings.Trim(m[2], `"'`)
		}
	}
	return v
}

func maxAge(pol *host.Policy) time.Duration {
	s, err := host.FindTimeSeconds(pol.Integrity.MaxAge)
	if err != nil || s <= 0 {
		return 7 * 24 * time.Hour
	}
	return time.Duration(s) * time.Second
}

// Audit reports whether AIDE is initialised, recent, leaves Docker out and
// runs daily, and whether rkhunter is configured for Debian with its
// properties database made.
func (m *Module) Audit(ctx context.Context, env *host.Env, pol *host.Policy) ([]report.Finding, error) {
	var out []report.Finding
	add := func(rule string, sev report.Severity, target, msg, fix string) {
		out = append(out, report.Finding{Rule: rule, Severity: sev, Target: target, Message: msg, Fix: fix})
	}
	now := clock.Or(env.Clock).Now()
	if pol.Integrity.AIDE {
		if !aideInstalled(env) {
			add("host/integrity-installed", report.Medium, "aide", "AIDE is not installed: nothing records the system's files", "apt-get install aide aide-common, then ctsec host apply integrity")
		} else {
			switch st, err := env.FS().Stat(AIDEDatabase); {
			case err != nil:
				add("host/integrity-database", report.High, AIDEDatabase, "AIDE's database is not initialised: a check has nothing to compare with", "ctsec host apply integrity (runs aide --init)")
			case now.Sub(st.ModTime()) > maxAge(pol):
				add("host/integrity-database", report.Medium, AIDEDatabase, fmt.Sprintf("AIDE's database is from %s, %d days old (the policy's max_age is %s): changes since are not told apart from what it recorded",
					st.ModTime().UTC().Format(time.RFC3339), int(now.Sub(st.ModTime()).Hours()/24), pol.Integrity.MaxAge), "review the last check (journalctl -u dailyaidecheck), then aide --update and keep the new database, or ctsec host apply integrity")
			default:
				add("host/integrity-database", report.Info, AIDEDatabase, fmt.Sprintf("AIDE's database is from %s", st.ModTime().UTC().Format(time.RFC3339)), "")
			}
			b, _ := env.ReadFile(AIDEDropIn)
			if !bytes.Equal(b, RenderAIDE(pol)) {
				add("host/integrity-exclude", report.Medium, AIDEDropIn, "AIDE does not leave out Docker's churn ("+strings.Join(pol.Integrity.Exclude, ", ")+"): every daily check reports container layers and logs", "ctsec host apply integrity")
			}
			if !env.Exists("/etc/systemd/system/timers.target.wants/"+AIDETimer) && !env.Exists("/etc/cron.daily/aide") {
				add("host/integrity-schedule", report.Medium, AIDETimer, "no daily AIDE check is scheduled (dailyaidecheck.timer is not enabled)", "ctsec host apply integrity")
			}
		}
	}
	if pol.Integrity.RKHunter {
		if !rkInstalled(env) {
			add("host/integrity-installed", report.Medium, "rkhunter", "rkhunter is not installed", "apt-get install rkhunter, then ctsec host apply integrity")
			return out, nil
		}
		if b, _ := env.ReadFile(RKDropIn); !bytes.Equal(b, RenderRK(env)) {
			add("host/integrity-rkhunter", report.Medium, RKDropIn, "rkhunter is not configured for Debian: Debian's WEB_CMD=\"/bin/false\" makes it fail, and its known false positives are reported", "ctsec host apply integrity")
		}
		d, _ := env.ReadFile(RKDefaults)
		if !strings.EqualFold(defaultsValue(d, "APT_AUTOGEN"), "true") {
			add("host/integrity-rkhunter", report.Low, RKDefaults+" APT_AUTOGEN", "rkhunter's file properties are not refreshed after package changes (APT_AUTOGEN), so every upgrade is reported", "ctsec host apply integrity")
		}
		if !env.Exists(RKDatabase) {
			add("host/integrity-database", report.Medium, RKDatabase, "rkhunter has no file properties database (rkhunter --propupd)", "ctsec host apply integrity")
		}
	}
	return out, nil
}

// planData carries what activation needs.
type planData struct {
	aide, rk bool
	initAIDE bool
	timer    bool
}

func (m *Module) Plan(ctx context.Context, env *host.Env, pol *host.Policy) (*host.ModulePlan, error) {
	mp := &host.ModulePlan{}
	pd := planData{}
	want := map[string][]byte{}
	if pol.Integrity.AIDE {
		if !aideInstalled(env) {
			mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "integrity-installed", Reason: "AIDE is not installed under the root"})
		} else {
			pd.aide = true
			want[AIDEDropIn] = RenderAIDE(pol)
			pd.initAIDE = !env.Exists(AIDEDatabase)
			pd.timer = !env.Exists("/etc/systemd/system/timers.target.wants/" + AIDETimer)
		}
	}
	if pol.Integrity.RKHunter {
		if !rkInstalled(env) {
			mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "integrity-installed", Reason: "rkhunter is not installed under the root"})
		} else {
			pd.rk = true
			want[RKDropIn] = RenderRK(env)
			old, _ := env.ReadFile(RKDefaults)
			want[RKDefaults] = RenderDefaults(old)
		}
	}
	for _, p := range host.SortedKeys(want) {
		mode := os.FileMode(0o644)
		ed, err := host.NewEdit(env, p, want[p], mode)
		if err != nil {
			return nil, err
		}
		if ed != nil {
			mp.Edits = append(mp.Edits, *ed)
			if p == AIDEDropIn {
				pd.initAIDE = true // a changed selection needs a new database
			}
		}
	}
	mp.Data = pd
	missing := (pd.aide && (pd.initAIDE || pd.timer)) || (pd.rk && !env.Exists(RKDatabase))
	if !mp.Changed() && !missing {
		return mp, nil
	}
	if len(mp.Edits) == 0 {
		if !env.Live() {
			return mp, nil // what is missing can only be made on that host
		}
		mp.ActivateOnly = true
		mp.Notes = append(mp.Notes, "the configuration is in place; apply initialises what is missing")
	}
	if pd.aide {
		mp.Commands = append(mp.Commands, "aide --config-check")
	}
	if pd.rk {
		mp.Commands = append(mp.Commands, "rkhunter --config-check")
	}
	if env.Live() {
		if pd.aide && pd.initAIDE {
			mp.Commands = append(mp.Commands, "aide --init (the previous database kept as aide.db.ctsec-prev), then aide.db.new → aide.db")
		}
		if pd.aide && pd.timer {
			mp.Commands = append(mp.Commands, "systemctl enable --now "+AIDETimer)
		}
		if pd.rk {
			mp.Commands = append(mp.Commands, "rkhunter --propupd")
		}
	} else {
		mp.Notes = append(mp.Notes, "the root is not the running system: the databases are initialised when apply runs on that host")
	}
	return mp, nil
}

// Verify has AIDE and rkhunter read their configuration.
func (m *Module) Verify(ctx context.Context, env *host.Env, mp *host.ModulePlan) error {
	pd, _ := mp.Data.(planData)
	if pd.aide {
		if err := m.checkAIDE(ctx, env); err != nil {
			return err
		}
	}
	if pd.rk {
		// rkhunter's check is a shell script that runs dozens of tools: a
		// minute was not enough on a slow guest, and a verification that
		// times out rolls a good change back.
		check := env.Runner
		check.Timeout = 5 * time.Minute
		res, err := check.Run(ctx, "rkhunter", "--config-check", "--nocolors", "--configfile", env.Path(RKConf))
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("rkhunter --config-check (exit %d): %s", res.ExitCode, strings.TrimSpace(string(append(res.Stdout, res.Stderr...))))
		}
	}
	return nil
}

// checkAIDE runs aide --config-check: on the running system on the real
// configuration; under another root (whose includes name paths of that
// host, not this one) on ctsec's drop-in alone.
func (m *Module) checkAIDE(ctx context.Context, env *host.Env) error {
	conf := AIDEConf
	if !env.Live() {
		dir, err := os.MkdirTemp("", "ctsec-aide-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if err := env.FS().CopyOut(AIDEDropIn, filepath.Join(dir, "ctsec")); err != nil {
			return err
		}
		conf = filepath.Join(dir, "aide.conf")
		os.WriteFile(conf, []byte("database_in=file:"+dir+"/db\ndatabase_out=file:"+dir+"/db.new\n@@include "+filepath.Join(dir, "ctsec")+"\n"), 0o600)
	}
	res, err := env.Runner.Run(ctx, "aide", "--config-check", "--config="+conf)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("aide --config-check (exit %d): %s", res.ExitCode, strings.TrimSpace(string(append(res.Stderr, res.Stdout...))))
	}
	return nil
}

// state is what Capture keeps for Revert.
type state struct {
	AIDEDatabase bool `json:"aide_database"` // existed: moved aside by Activate, moved back by Revert
	RKDatabase   bool `json:"rk_database"`
	TimerEnabled bool `json:"timer_enabled"`
	Activated    bool `json:"-"`
}

// prevSuffix names a database Activate replaced.
const prevSuffix = ".ctsec-prev"

func (*Module) Capture(_ context.Context, env *host.Env, _ *host.ModulePlan) (json.RawMessage, error) {
	if !env.Live() {
		return nil, nil
	}
	return json.Marshal(state{
		AIDEDatabase: env.Exists(AIDEDatabase),
		RKDatabase:   env.Exists(RKDatabase),
		TimerEnabled: env.Exists("/etc/systemd/system/timers.target.wants/" + AIDETimer),
	})
}

// Activate initialises AIDE's database (keeping the previous one beside it),
// enables the daily check and makes rkhunter's properties database.
func (m *Module) Activate(ctx context.Context, env *host.Env, mp *host.ModulePlan) error {
	if !env.Live() {
		return nil
	}
	pd, _ := mp.Data.(planData)
	long := env.Runner
	long.Timeout = 30 * time.Minute // aide --init reads every file the rules select
	if pd.aide && pd.initAIDE {
		if env.Exists(AIDEDatabase) {
			if err := os.Rename(AIDEDatabase, AIDEDatabase+prevSuffix); err != nil {
				return err
			}
		}
		res, err := long.Run(ctx, "aide", "--init", "--config="+AIDEConf)
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("aide --init (exit %d): %s", res.ExitCode, strings.TrimSpace(string(res.Stderr)))
		}
		data, err := os.ReadFile(AIDENew)
		if err != nil {
			return fmt.Errorf("aide --init wrote no %s: %w", AIDENew, err)
		}
		if err := rootfs.New("/").WriteFile(AIDEDatabase, data, 0o600, rootfs.Reset); err != nil {
			return err
		}
	}
	if pd.aide && pd.timer {
		if err := systemd.Systemctl(ctx, env.Runner, "/", "enable", "--now", AIDETimer); err != nil {
			return err
		}
	}
	if pd.rk {
		if env.Exists(RKDatabase) {
			if err := copyFile(RKDatabase, RKDatabase+prevSuffix); err != nil {
				return err
			}
		}
		res, err := long.Run(ctx, "rkhunter", "--propupd", "--nocolors")
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("rkhunter --propupd (exit %d): %s", res.ExitCode, strings.TrimSpace(string(append(res.Stdout, res.Stderr...))))
		}
	}
	return nil
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return rootfs.New("/").WriteFile(to, data, 0o600, rootfs.Reset)
}

// Revert puts the databases and the timer back as they were.
func (m *Module) Revert(ctx context.Context, env *host.Env, raw json.RawMessage) error {
	if !env.Live() || len(raw) == 0 {
		return nil
	}
	var s state
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	var errs []string
	back := func(db string, existed bool) {
		switch {
		case existed && env.Exists(db+prevSuffix):
			if err := os.Rename(db+prevSuffix, db); err != nil {
				errs = append(errs, err.Error())
			}
		case !existed:
			os.Remove(db)
		}
	}
	back(AIDEDatabase, s.AIDEDatabase)
	if !s.AIDEDatabase {
		os.Remove(AIDENew)
	}
	back(RKDatabase, s.RKDatabase)
	if !s.TimerEnabled && env.Exists("/etc/systemd/system/timers.target.wants/"+AIDETimer) {
		if err := systemd.Systemctl(ctx, env.Runner, "/", "disable", "--now", AIDETimer); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
