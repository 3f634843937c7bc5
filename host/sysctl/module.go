package sysctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/report"
)

// DropIn sorts after 99-sysctl.conf, so systemd-sysctl applies it last.
const DropIn = "/etc/sysctl.d/99-zz-ctsec.conf"

// irreversible settings cannot be undone until a reboot.
var irreversible = map[string]string{
	"kernel.yama.ptrace_scope":   "3",
	"kernel.modules_disabled":    "1",
	"kernel.kexec_load_disabled": "1",
}

// optional are hardening keys real kernels have only when built with the
// feature (CONFIG_MODULES, CONFIG_SECURITY_YAMA, CONFIG_KEXEC_CORE,
// CONFIG_BPF_SYSCALL, Debian's userns patch…; ../shared/notes/host.md
// §1a): absent here, they are written commented out, never an error.
var optional = map[string]bool{
	"kernel.yama.ptrace_scope": true, "kernel.modules_disabled": true, "kernel.kexec_load_disabled": true,
	"kernel.unprivileged_bpf_disabled": true, "net.core.bpf_jit_harden": true, "kernel.perf_event_paranoid": true,
	"dev.tty.ldisc_autoload": true, "vm.unprivileged_userfaultfd": true, "user.max_user_namespaces": true,
	"kernel.unprivileged_userns_clone": true, "vm.mmap_rnd_bits": true, "vm.mmap_rnd_compat_bits": true,
	"kernel.sysrq": true, "kernel.dmesg_restrict": true, "kernel.kptr_restrict": true, "fs.protected_fifos": true,
	"fs.protected_regular": true, "kernel.io_uring_disabled": true, "net.ipv4.tcp_syncookies": true,
}

// forwarding keys Docker needs at 1.
var forwarding = []string{"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"}

type Module struct{}

func New() *Module { return &Module{} }

func (*Module) Name() string { return "sysctl" }

// state is the whole sysctl configuration as the next boot would apply it.
type state struct {
	files    []string
	settings []Setting
	problems []Problem
}

func load(ov host.Overlay) (*state, error) {
	files, err := Order(ov)
	if err != nil {
		return nil, err
	}
	st := &state{files: files}
	for _, f := range files {
		b, err := ov.ReadFile(f)
		if host.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading sysctl configuration: %w", err)
		}
		s, p := Parse(f, b)
		st.settings = append(st.settings, s...)
		st.problems = append(st.problems, p...)
	}
	return st, nil
}

// running reads a key's live value; ok is false when the kernel lacks it
// or the root is not the running system.
func running(env *host.Env, key string) (string, bool) {
	if !env.Live() {
		return "", false
	}
	b, err := env.ReadFile(ProcPath(key))
	if err != nil {
		return "", false
	}
	return strings.Join(strings.Fields(string(b)), " "), true
}

func (m *Module) Audit(ctx context.Context, env *host.Env, pol *host.Policy) ([]report.Finding, error) {
	st, err := load(host.Overlay{Env: env})
	if err != nil {
		return nil, err
	}
	var fs []report.Finding
	for _, p := range st.problems {
		fs = append(fs, report.Finding{Rule: "host/sysctl-syntax", Severity: report.Low, File: p.File, Line: p.Line, Message: p.Msg})
	}
	docker := env.DockerPresent()
	keys := host.SortedKeys(pol.Sysctl.Settings)
	{
		var errs []error
		for _, k := range keys {
			if _, err := Known(k); err != nil {
				errs = append(errs, fmt.Errorf("%s: sysctl.settings.%s: %w", pol.Where("sysctl.settings."+k), k, err))
			}
		}
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
	}
	// Docker needs IPv4 forwarding; IPv6 forwarding only with IPv6 networks.
	if _, ok := pol.Sysctl.Settings[forwarding[0]]; docker && !ok {
		keys = append(keys, forwarding[0])
	}
	for _, key := range keys {
		want, inPolicy := pol.Sysctl.Settings[key]
		f := report.Finding{Rule: "host/sysctl-value", Target: key, Severity: report.Info}
		src := "no file sets it"
		w, set := Winner(st.settings, key)
		if set {
			src = fmt.Sprintf("%s:%d sets %s (last file wins)", w.File, w.Line, w.Value)
			f.File, f.Line = w.File, w.Line
		}
		cur, live := running(env, key)
		switch {
		case !inPolicy: // forwarding on a Docker host
			if live && cur == "1" {
				f.Message = fmt.Sprintf("%s = 1: OK (Docker exception: published ports and container traffic need forwarding); %s", key, src)
			} else if live {
				f.Severity = report.High
				f.Message = fmt.Sprintf("%s = %s on a Docker host: container networking is broken; %s", key, cur, src)
			} else {
				continue
			}
		case env.Live() && !live:
			f.Message = fmt.Sprintf("%s is not available on this kernel; %s", key, src)
		case live && cur == want && set && w.Value == want:
			f.Message = fmt.Sprintf("%s = %s as the policy wants; %s", key, cur, src)
		case live && cur == want:
			f.Severity = report.Low
			f.Message = fmt.Sprintf("%s = %s now but not persistent (%s); it changes at the next boot", key, cur, src)
			f.Fix = "ctsec host apply sysctl"
		case live:
			f.Severity = report.Medium
			f.Message = fmt.Sprintf("%s = %s, policy wants %s; %s", key, cur, want, src)
			f.Fix = "ctsec host apply sysctl (writes " + DropIn + ")"
		case set && w.Value == want:
			f.Message = fmt.Sprintf("%s: %s, as the policy wants (running value not read: --root is not /)", key, src)
		default:
			f.Severity = report.Medium
			f.Message = fmt.Sprintf("%s: %s, policy wants %s (running value not read: --root is not /)", key, src, want)
			f.Fix = "ctsec host apply sysctl (writes " + DropIn + ")"
		}
		fs = append(fs, f)
	}
	return fs, nil
}

// Render is the drop-in for a policy. A key of a subsystem this kernel
// lacks altogether (kernel.yama without Yama) is written commented out:
// procps 4.0.2 (Debian 12) fails `sysctl -p` on it even with systemd's "-"
// prefix. A key this kernel does not know where it has its siblings is a
// typo, and an error naming the policy line, with the nearest real key.
func Render(env *host.Env, pol *host.Policy) ([]byte, []string, error) {
	var b strings.Builder
	var notes []string
	var errs []error
	b.WriteString("# Written by ctsec host apply from its sysctl policy; changes here are\n")
	b.WriteString("# replaced on the next apply. Named to sort after 99-sysctl.conf, so it\n")
	b.WriteString("# is applied last at boot.\n")
	for _, k := range host.SortedKeys(pol.Sysctl.Settings) {
		prefix := ""
		// Checked against the running kernel, as sysctl itself does, also
		// for --root: verification runs sysctl on this machine.
		switch ok, err := Known(k); {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: sysctl.settings.%s: %w", pol.Where("sysctl.settings."+k), k, err))
			continue
		case !ok:
			prefix = "# not available on this kernel: "
			notes = append(notes, k+" is not available on this kernel; written commented out")
		}
		fmt.Fprintf(&b, "%s%s = %s\n", prefix, k, pol.Sysctl.Settings[k])
	}
	return []byte(b.String()), notes, errors.Join(errs...)
}

// Known says whether this kernel has the sysctl key. A key whose
// subsystem is missing as a whole (no /proc/sys/kernel/yama) is not known
// but no error; a key missing where its directory exists, or under a
// directory name one typo away from a real one, is an error that names the
// nearest real key.
func Known(key string) (bool, error) {
	if _, err := os.Stat(ProcPath(key)); err == nil {
		return true, nil
	}
	if optional[key] {
		return false, nil // real, but built out of this kernel
	}
	parts := strings.Split(key, ".")
	dir := "/proc/sys"
	for i, c := range parts {
		p := dir + "/" + c
		if _, err := os.Stat(p); err == nil {
			dir = p
			continue
		}
		var names []string
		if es, err := os.ReadDir(dir); err == nil {
			for _, e := range es {
				names = append(names, e.Name())
			}
		}
		near := host.Closest(c, names)
		if i > 0 && parts[i-1] == "conf" && i < len(parts)-1 {
			near = "" // an interface that is not up here (eth1 beside eth0) is no typo
		}
		if i < len(parts)-1 && near == "" {
			return false, nil // a whole subsystem this kernel lacks
		}
		msg := fmt.Sprintf("unknown sysctl key %q: this kernel has no %s", key, ProcPath(strings.Join(parts[:i+1], ".")))
		if near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", strings.Join(append(append([]string{}, parts[:i]...), near), "."))
		}
		return false, errors.New(msg)
	}
	return true, nil
}

func (m *Module) Plan(ctx context.Context, env *host.Env, pol *host.Policy) (*host.ModulePlan, error) {
	content, notes, err := Render(env, pol)
	if err != nil {
		return nil, err
	}
	mp := &host.ModulePlan{Notes: notes, Data: pol.Sysctl.Settings}
	ed, err := host.NewEdit(env, DropIn, content, 0o644)
	if err != nil {
		return nil, err
	}
	if ed != nil {
		mp.Edits = append(mp.Edits, *ed)
		mp.Commands = []string{"sysctl --dry-run -p " + DropIn}
		if env.Live() {
			mp.Commands = append(mp.Commands, "sysctl -p "+DropIn)
		}
	}
	// Every later source that would win over the drop-in: a sysctl.d file
	// sorting after it (at boot and in `sysctl --system`), or
	// /etc/sysctl.conf, which procps' `sysctl --system` reads last.
	ov := host.Overlay{Env: env, Files: map[string][]byte{DropIn: content}}
	for _, w := range laterWinners(ov, pol.Sysctl.Settings) {
		mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "sysctl-later-file", Reason: w})
	}
	if env.DockerPresent() {
		for _, k := range forwarding {
			if pol.Sysctl.Settings[k] == "0" {
				mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "sysctl-docker-forwarding",
					Reason: k + " = 0 on a host running Docker cuts every container off the network (published ports and outbound traffic); keep it 1"})
			}
		}
	}
	if !pol.Sysctl.AllowIrreversible {
		for _, k := range host.SortedKeys(irreversible) {
			if v, ok := pol.Sysctl.Settings[k]; ok && v == irreversible[k] {
				mp.Refusals = append(mp.Refusals, host.Refusal{Guard: "sysctl-irreversible",
					Reason: fmt.Sprintf("%s = %s cannot be undone until a reboot, so rollback cannot restore it; set sysctl.allow_irreversible: true to opt in", k, v)})
			}
		}
	}
	return mp, nil
}

// laterWinners says, for each policy key, which file read after the
// drop-in sets another value and so wins.
func laterWinners(ov host.Overlay, settings map[string]string) []string {
	st, err := load(ov)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, k := range host.SortedKeys(settings) {
		w, ok := Winner(st.settings, k)
		if !ok || w.File == DropIn || w.Value == strings.Join(strings.Fields(settings[k]), " ") {
			continue
		}
		when := "is read after " + DropIn + " at boot and by `sysctl --system`, so it wins"
		if w.File == MainFile {
			when = "is read last by `sysctl --system` (procps), so it wins whenever that runs"
		}
		out = append(out, fmt.Sprintf("%s:%d sets %s = %s and %s over the policy's %s; change or remove that line (ctsec does not edit files it does not own)", w.File, w.Line, w.Key, w.Value, when, settings[k]))
	}
	return out
}

// Verify has procps parse the written file and check every key exists,
// without writing anything (--dry-run), and checks no later file wins.
func (m *Module) Verify(ctx context.Context, env *host.Env, mp *host.ModulePlan) error {
	settings, _ := mp.Data.(map[string]string)
	if w := laterWinners(host.Overlay{Env: env}, settings); len(w) > 0 {
		return errors.New(w[0])
	}
	file, err := env.FS().Resolve(DropIn)
	if err != nil {
		return err
	}
	res, err := env.Runner.Run(ctx, "sysctl", "--dry-run", "-p", file)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("sysctl --dry-run -p %s (exit %d): %s", DropIn, res.ExitCode, firstLine(res.Stderr, res.Stdout))
	}
	return nil
}

func firstLine(bs ...[]byte) string {
	for _, b := range bs {
		if s := strings.TrimSpace(string(b)); s != "" {
			l, _, _ := strings.Cut(s, "\n")
			return l
		}
	}
	return "(no output)"
}

// Capture records the running value of every key the plan sets.
func (m *Module) Capture(ctx context.Context, env *host.Env, mp *host.ModulePlan) (json.RawMessage, error) {
	if !env.Live() {
		return nil, nil
	}
	prev := map[string]string{}
	settings, _ := mp.Data.(map[string]string)
	for k := range settings {
		if v, ok := running(env, k); ok {
			prev[k] = v
		}
	}
	return json.Marshal(prev)
}

// Activate loads the file into the running kernel and checks it took.
func (m *Module) Activate(ctx context.Context, env *host.Env, mp *host.ModulePlan) error {
	if !env.Live() {
		return nil
	}
	if _, err := env.Runner.Output(ctx, "sysctl", "-q", "-p", DropIn); err != nil {
		return err
	}
	settings, _ := mp.Data.(map[string]string)
	for _, k := range host.SortedKeys(settings) {
		if v, ok := running(env, k); ok && v != settings[k] {
			return fmt.Errorf("%s is %s after sysctl -p, want %s", k, v, settings[k])
		}
	}
	return nil
}

// Revert writes back the values recorded before the apply.
func (m *Module) Revert(ctx context.Context, env *host.Env, state json.RawMessage) error {
	if !env.Live() || len(state) == 0 {
		return nil
	}
	var prev map[string]string
	if err := json.Unmarshal(state, &prev); err != nil {
		return err
	}
	var failed []string
	for _, k := range host.SortedKeys(prev) {
		if _, err := env.Runner.Output(ctx, "sysctl", "-q", "-w", k+"="+prev[k]); err != nil {
			failed = append(failed, k)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not restore %s", strings.Join(failed, ", "))
	}
	return nil
}
