// Package auditd is the host module for audit rules on Docker's files and
// binaries (CIS Docker Benchmark 1.1.3–1.1.18): one rules file under
// /etc/audit/rules.d naming the paths as this host has them, checked with
// augenrules and loaded into the kernel; the bench's 1.1.x checks pass
// afterwards.
package auditd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/rootfs"
	"github.com/ctsec/ctsec/internal/systemd"
)

// RulesFile is the file the module writes. augenrules reads rules.d in
// version order; the name sorts after Debian's and the usual
// 99-finalize.rules, so a path missing at boot (containerd's socket appears
// when Docker starts, after auditd loads its rules) can only cost ctsec's
// own lines.
const RulesFile = "/etc/audit/rules.d/99-zz-ctsec-docker.rules"

// RunDropIn makes systemd load the rules again once Docker has started: the
// watches under /run (Docker's and containerd's sockets) fail at boot,
// before Docker makes their directories, and nothing else would load them
// until the next augenrules --load.
const RunDropIn = "/etc/systemd/system/docker.service.d/ctsec-audit-run.conf"

// runDropIn is its text, with augenrules where this host has it (/sbin on
// a Debian without merged /usr). "-" keeps Docker starting when the rules
// cannot load (locked with -e 2, auditd removed).
func runDropIn(env *host.Env) []byte {
	bin := "/usr/sbin/augenrules"
	if !env.Exists(bin) && env.Exists("/sbin/augenrules") {
		bin = "/sbin/augenrules"
	}
	return []byte("# Written by ctsec host apply auditd: load the audit rules again once Docker\n" +
		"# runs, for the watches under /run that cannot load at boot (" + RulesFile + ").\n" +
		"[Service]\nExecStartPost=-" + bin + " --load\n")
}

// Generated is the file augenrules builds from rules.d and auditd loads;
// augenrules keeps the one it replaces as .prev.
const (
	Generated     = "/etc/audit/audit.rules"
	GeneratedPrev = "/etc/audit/audit.rules.prev"
)

// Module is the auditd module.
type Module struct{}

// New returns the module.
func New() *Module { return &Module{} }

func (*Module) Name() string { return "auditd" }

// candidates are Docker's files as Debian and Docker's own packages put
// them; those this host has are watched (and the daemon's data root and
// configuration file, which daemon.json can move).
var candidates = []string{
	"/usr/bin/dockerd", "/usr/sbin/dockerd",
	"/usr/bin/containerd", "/usr/sbin/containerd",
	"/usr/bin/containerd-shim", "/usr/bin/containerd-shim-runc-v1", "/usr/bin/containerd-shim-runc-v2",
	"/usr/bin/runc", "/usr/sbin/runc",
	"/etc/docker", "/etc/default/docker", "/etc/sysconfig/docker", "/etc/containerd/config.toml",
	"/lib/systemd/system/docker.service", "/lib/systemd/system/docker.socket",
	"/usr/lib/systemd/system/docker.service", "/usr/lib/systemd/system/docker.socket",
	"/etc/systemd/system/docker.service", "/etc/systemd/system/docker.socket",
	"/run/containerd", "/run/containerd/containerd.sock", "/run/docker/containerd/containerd.sock",
}

// Watch is one path to watch and why.
type Watch struct {
	Path string `json:"path"`
	// Also are other names of the same file (a symlink to it).
	Also []string `json:"also,omitempty"`
	// Run: the path is under /run, made after auditd loads its rules at
	// boot; it is watched from the next augenrules --load after Docker
	// starts.
	Run bool `json:"run,omitempty"`
}

// Watches are the paths this host has, each file once (a link and its
// target are one watch, on the target).
func Watches(env *host.Env, pol *host.Policy) []Watch {
	want := append(slices.Clone(candidates), dataRoot(env), configFile(env))
	want = append(want, pol.Auditd.Watch...)
	byReal := map[string]*Watch{}
	var order []string
	for _, p := range want {
		if p == "" || !env.Exists(p) {
			continue
		}
		real, err := env.FS().Resolve(p)
		if err != nil {
			continue
		}
		real = env.Rel(real)
		// A link is watched at its target; a path through a linked
		// directory (/lib on merged-/usr Debian) keeps the name people and
		// the bench know it by.
		name := p
		if st, err := env.FS().Lstat(p); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			name = real
		}
		w, ok := byReal[real]
		if !ok {
			w = &Watch{Path: name, Run: strings.HasPrefix(name, "/run/")}
			byReal[real] = w
			order = append(order, real)
		}
		if p != w.Path && !slices.Contains(w.Also, p) {
			w.Also = append(w.Also, p)
		}
	}
	// /run last: a watch whose directory is not there yet fails, and
	// auditctl stops at the first failure.
	sort.SliceStable(order, func(i, j int) bool { return !byReal[order[i]].Run && byReal[order[j]].Run })
	out := make([]Watch, len(order))
	for i, p := range order {
		out[i] = *byReal[p]
	}
	return out
}

// dataRoot is dockerd's data root: daemon.json's data-root, else
// /var/lib/docker.
func dataRoot(env *host.Env) string {
	if b, err := env.ReadFile(configFile(env)); err == nil {
		var cfg struct {
			DataRoot string `json:"data-root"`
		}
		if json.Unmarshal(b, &cfg) == nil && path.IsAbs(cfg.DataRoot) {
			return path.Clean(cfg.DataRoot)
		}
	}
	return "/var/lib/docker"
}

func configFile(*host.Env) string { return "/etc/docker/daemon.json" }

// Render is the rules file for the watches.
func Render(ws []Watch, key string) []byte {
	var b bytes.Buffer
	b.WriteString("## Written by ctsec host apply auditd: Docker's files and binaries as this\n")
	b.WriteString("## host has them (CIS Docker Benchmark 1.1.3-1.1.18). ausearch -k " + key + "\n")
	ignoring := false
	for _, w := range ws {
		if len(w.Also) > 0 {
			fmt.Fprintf(&b, "## also named %s\n", strings.Join(w.Also, ", "))
		}
		if w.Run && !ignoring {
			// At boot these paths are not there yet and auditctl stops at
			// the first error, failing the unit that loads the rules
			// (Debian 13's audit-rules.service): from here on errors are
			// ignored. They are last, so only they can fail.
			b.WriteString("## under /run: present once Docker runs; loaded again when docker.service starts\n")
			b.WriteString("## (" + RunDropIn + ")\n-i\n")
			ignoring = true
		}
		fmt.Fprintf(&b, "-w %s -p rwxa -k %s\n", w.Path, key)
	}
	return b.Bytes()
}

// watched are the paths "-w PATH" lines of rules text watch.
func watched(text string) map[string]bool {
	out := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "-w" {
				out[strings.TrimRight(f[i+1], "/")] = true
			}
		}
	}
	return out
}

// Audit reports each of Docker's paths this host has that no rule
// watches: in the rules files under the root, and, on the running system,
// in the kernel (auditctl -l).
func (m *Module) Audit(ctx context.Context, env *host.Env, pol *host.Policy) ([]report.Finding, error) {
	if !env.Exists("/sbin/auditctl") && !env.Exists("/usr/sbin/auditctl") {
		return []report.Finding{{Rule: "host/auditd-installed", Severity: report.Medium, Target: "auditd",
			Message: "auditd is not installed: nothing audits Docker's files", Fix: "apt-get install auditd, then ctsec host apply auditd"}}, nil
	}
	files, _ := env.FS().Glob("/etc/audit/rules.d/*.rules")
	var text strings.Builder
	for _, f := range files {
		if b, err := env.ReadFile(f); err == nil {
			text.Write(b)
			text.WriteByte('\n')
		}
	}
	onDisk := watched(text.String())
	var inKernel map[string]bool
	if env.Live() {
		if res, err := env.Runner.Run(ctx, "auditctl", "-l"); err == nil && res.ExitCode == 0 {
			inKernel = watched(string(res.Stdout))
		}
	}
	var out []report.Finding
	for _, w := range Watches(env, pol) {
		f := report.Finding{Rule: "host/auditd-watch", Severity: report.Low, Target: w.Path, Fix: "ctsec host apply auditd"}
		switch {
		case !onDisk[w.Path]:
			f.Message = fmt.Sprintf("no rule in /etc/audit/rules.d watches %s", w.Path)
		case inKernel != nil && !inKernel[w.Path]:
			f.Message = fmt.Sprintf("%s is in the rules files but not loaded in the kernel (augenrules --load)", w.Path)
			if w.Run {
				f.Severity = report.Info
				f.Message += "; it is under /run, so it is loaded only after Docker has started"
			}
		default:
			f.Severity = report.Info
			f.Message = fmt.Sprintf("%s is watched", w.Path)
			f.Fix = ""
		}
		out = append(out, f)
	}
	return out, nil
}

// planData is what verification and activation check.
type planData struct {
	watches []Watch
}

func (m *Module) Plan(ctx context.Context, env *host.Env, pol *host.Policy) (*host.ModulePlan, error) {
	mp := &host.ModulePlan{}
	if !env.Exists("/sbin/auditctl") && !env.Exists("/usr/sbin/auditctl") {
		mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "auditd-installed", Reason: "auditd is not installed under the root: the rules would load nowhere"})
		return mp, nil
	}
	ws := Watches(env, pol)
	mp.Data = planData{watches: ws}
	if len(ws) == 0 {
		mp.Notes = append(mp.Notes, "none of Docker's files is on this host: nothing to watch")
		return mp, nil
	}
	ed, err := host.NewEdit(env, RulesFile, Render(ws, pol.Auditd.Key), 0o640)
	if err != nil {
		return nil, err
	}
	if ed == nil {
		return mp, nil
	}
	mp.Edits = append(mp.Edits, *ed)
	if slices.ContainsFunc(ws, func(w Watch) bool { return w.Run }) {
		dd, err := host.NewEdit(env, RunDropIn, runDropIn(env), 0o644)
		if err != nil {
			return nil, err
		}
		if dd != nil {
			mp.Edits = append(mp.Edits, *dd)
		}
	}
	if env.Live() {
		if immutable(ctx, env) {
			mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "auditd-immutable",
				Reason: "the kernel's audit rules are locked (auditctl -s: enabled 2, from -e 2): new rules load only after a reboot"})
		}
		mp.Commands = []string{"augenrules --check", "augenrules --load", "auditctl -l (every watch loaded)", "systemctl daemon-reload (the docker.service drop-in)"}
	} else {
		mp.Commands = []string{"each -w line checked against the paths under the root (augenrules reads only /etc/audit)"}
	}
	return mp, nil
}

// immutable reports audit rules locked until reboot.
func immutable(ctx context.Context, env *host.Env) bool {
	res, err := env.Runner.Run(ctx, "auditctl", "-s")
	if err != nil || res.ExitCode != 0 {
		return false
	}
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		if strings.TrimSpace(l) == "enabled 2" {
			return true
		}
	}
	return false
}

// Verify checks the written file: every planned path has its watch; on the
// running system augenrules must see the rules.d files and accept them.
func (m *Module) Verify(ctx context.Context, env *host.Env, mp *host.ModulePlan) error {
	pd, _ := mp.Data.(planData)
	b, err := env.ReadFile(RulesFile)
	if err != nil {
		return err
	}
	got := watched(string(b))
	for _, w := range pd.watches {
		if !got[w.Path] {
			return fmt.Errorf("%s does not watch %s", RulesFile, w.Path)
		}
	}
	if !env.Live() {
		return nil
	}
	res, err := env.Runner.Run(ctx, "augenrules", "--check")
	if err != nil {
		return err
	}
	out := strings.TrimSpace(string(append(res.Stdout, res.Stderr...)))
	if res.ExitCode != 0 || !(strings.Contains(out, "Rules have changed") || strings.Contains(out, "No change")) {
		return fmt.Errorf("augenrules --check (exit %d): %s", res.ExitCode, out)
	}
	return nil
}

// state is what Capture keeps: the generated rules file augenrules
// --load replaces, and its .prev.
type state struct {
	Rules     []byte `json:"rules,omitempty"`
	HadRules  bool   `json:"had_rules"`
	Prev      []byte `json:"prev,omitempty"`
	HadPrev   bool   `json:"had_prev"`
	Activated bool   `json:"activated"`
}

func (*Module) Capture(_ context.Context, env *host.Env, _ *host.ModulePlan) (json.RawMessage, error) {
	if !env.Live() {
		return nil, nil
	}
	var s state
	var err error
	s.Rules, err = env.ReadFile(Generated)
	s.HadRules = err == nil
	s.Prev, err = env.ReadFile(GeneratedPrev)
	s.HadPrev = err == nil
	return json.Marshal(s)
}

// Activate loads the rules (augenrules --load) and checks the kernel has
// every watch whose path exists now.
func (m *Module) Activate(ctx context.Context, env *host.Env, mp *host.ModulePlan) error {
	if !env.Live() {
		return nil
	}
	if err := systemd.Systemctl(ctx, env.Runner, env.Root, "daemon-reload"); err != nil {
		return err
	}
	res, err := env.Runner.Run(ctx, "augenrules", "--load")
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("augenrules --load (exit %d): %s", res.ExitCode, strings.TrimSpace(string(append(res.Stderr, res.Stdout...))))
	}
	out, err := env.Runner.Output(ctx, "auditctl", "-l")
	if err != nil {
		return err
	}
	loaded := watched(string(out))
	pd, _ := mp.Data.(planData)
	var missing []string
	for _, w := range pd.watches {
		if !loaded[w.Path] && env.Exists(w.Path) {
			missing = append(missing, w.Path)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("after augenrules --load the kernel does not watch %s", strings.Join(missing, ", "))
	}
	return nil
}

// Revert puts the generated rules files back as they were and loads them,
// so the kernel has the rules it had.
func (m *Module) Revert(ctx context.Context, env *host.Env, raw json.RawMessage) error {
	if !env.Live() || len(raw) == 0 {
		return nil
	}
	var s state
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	if err := systemd.Systemctl(ctx, env.Runner, env.Root, "daemon-reload"); err != nil {
		return err
	}
	fsys := env.FS()
	for _, f := range []struct {
		path string
		had  bool
		data []byte
	}{{Generated, s.HadRules, s.Rules}, {GeneratedPrev, s.HadPrev, s.Prev}} {
		var err error
		if f.had {
			err = fsys.WriteFile(f.path, f.data, 0o640, rootfs.Keep)
		} else {
			err = fsys.Remove(f.path)
		}
		if err != nil {
			return fmt.Errorf("restoring %s: %w", f.path, err)
		}
	}
	if !s.HadRules {
		_, err := env.Runner.Output(ctx, "auditctl", "-D")
		return err
	}
	res, err := env.Runner.Run(ctx, "auditctl", "-R", Generated)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("auditctl -R %s (exit %d): %s", Generated, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	return nil
}
