package sysctl

import (
	"context"
	"encoding/json"
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

// Render is the drop-in for a policy. Keys the running kernel lacks are
// written commented out: procps 4.0.2 (Debian 12) fails `sysctl -p` on them
// even with systemd's "-" prefix.
func Render(env *host.Env, pol *host.Policy) ([]byte, []string) {
	var b strings.Builder
	var notes []string
	b.WriteString("# Written by ctsec host apply from its sysctl policy; changes here are\n")
	b.WriteString("# replaced on the next apply. Named to sort after 99-sysctl.conf, so it\n")
	b.WriteString("# is applied last at boot.\n")
	for _, k := range host.SortedKeys(pol.Sysctl.Settings) {
		prefix := ""
		// Checked against the running kernel, as sysctl itself does, also
		// for --root: verification runs sysctl on this machine.
		if _, err := os.Stat(ProcPath(k)); err != nil {
			prefix = "# not available on this kernel: "
			notes = append(notes, k+" is not available on this kernel; written commented out")
		}
		fmt.Fprintf(&b, "%s%s = %s\n", prefix, k, pol.Sysctl.Settings[k])
	}
	return []byte(b.String()), notes
}

func (m *Module) Plan(ctx context.Context, env *host.Env, pol *host.Policy) (*host.ModulePlan, error) {
	content, notes := Render(env, pol)
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
	// procps' `sysctl --system` reads /etc/sysctl.conf after every
	// drop-in, so a conflicting value there wins when run by hand.
	st, err := load(host.Overlay{Env: env})
	if err != nil {
		return nil, err
	}
	for _, s := range st.settings {
		if s.File == MainFile {
			if want, ok := pol.Sysctl.Settings[s.Key]; ok && want != s.Value {
				mp.Notes = append(mp.Notes, fmt.Sprintf("%s:%d sets %s = %s; `sysctl --system` reads that file last and would undo %s = %s (remove the line)", s.File, s.Line, s.Key, s.Value, s.Key, want))
			}
		}
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

// Verify has procps parse the written file and check every key exists,
// without writing anything (--dry-run).
func (m *Module) Verify(ctx context.Context, env *host.Env, mp *host.ModulePlan) error {
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
