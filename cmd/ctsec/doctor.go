package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/ctsec/ctsec/seccomp"
	"github.com/spf13/cobra"
)

// doctorCheck is one line of `ctsec doctor`: a capability of this host and
// the ctsec jobs that need it.
type doctorCheck struct {
	Rule   string `json:"rule"`
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Needed string `json:"needed_by"`
}

type doctorResult struct {
	Checks   []doctorCheck     `json:"checks"`
	Seccomp  *seccomp.Support  `json:"seccomp,omitempty"`
	AppArmor apparmor.Support  `json:"apparmor"`
	Docker   *engine.Summary   `json:"docker,omitempty"`
	Tools    map[string]string `json:"tools"`
}

// doctorRules are doctor's checks: one rule each, a high finding when the
// capability is missing (a job cannot run), so --fail-on decides the exit.
var doctorRules = report.Rules{
	{ID: "doctor/kernel-seccomp", Severity: report.High, Title: "kernel seccomp filters",
		Help: "use a kernel built with CONFIG_SECCOMP_FILTER (every Debian kernel is)"},
	{ID: "doctor/libseccomp", Severity: report.High, Title: "libseccomp 2.4 or later linked",
		Help: "install libseccomp 2.5 or later (Debian: libseccomp2) and rebuild ctsec (scripts/install.sh)"},
	{ID: "doctor/seccomp-notify", Severity: report.High, Title: "seccomp user notification",
		Help: "profile record needs Linux 5.9 or later and libseccomp 2.5 or later"},
	{ID: "doctor/apparmor-parser", Severity: report.High, Title: "apparmor_parser installed",
		Help: "apt-get install apparmor"},
	{ID: "doctor/kernel-apparmor", Severity: report.High, Title: "AppArmor enabled in the kernel",
		Help: "boot a kernel with AppArmor enabled (Debian's default; check security= and apparmor= on the kernel command line) and mount securityfs"},
	{ID: "doctor/init-systemd", Severity: report.High, Title: "systemd is PID 1",
		Help: "host apply reloads services and schedules its timed rollback with systemd: run ctsec on a host booted with systemd"},
	{ID: "doctor/docker-engine", Severity: report.High, Title: "Docker engine answers",
		Help: "start dockerd, or point --host or DOCKER_HOST at the engine"},
	{ID: "doctor/runc", Severity: report.High, Title: "runc installed", Help: "apt-get install runc"},
	{ID: "doctor/sshd", Severity: report.High, Title: "sshd installed", Help: "apt-get install openssh-server"},
	{ID: "doctor/ufw", Severity: report.High, Title: "ufw installed", Help: "apt-get install ufw"},
	{ID: "doctor/nft", Severity: report.High, Title: "nft installed", Help: "apt-get install nftables"},
	{ID: "doctor/fail2ban", Severity: report.High, Title: "fail2ban-client installed", Help: "apt-get install fail2ban"},
	{ID: "doctor/compose-commands", Severity: report.High, Title: "compose, portainer and man commands available",
		Description: "A lean build of ctsec (scripts/install.sh) runs them through ctsec-compose, installed beside it.",
		Help:        "install both binaries with scripts/install.sh, or set CTSEC_COMPOSE to the absolute path of ctsec-compose"},
	{ID: "doctor/python3-systemd", Severity: report.High, Title: "fail2ban's Python has the systemd module",
		Description: "The baseline jail reads sshd's log from the journal (backend = systemd): Debian 12 writes no /var/log/auth.log, and without python3-systemd fail2ban cannot start the jail.",
		Help:        "apt-get install python3-systemd"},
}

type doctorOptions struct {
	Root string
	Host string
}

func newDoctorCmd(a *app, runF runFunc[doctorOptions]) *cobra.Command {
	if runF == nil {
		runF = runDoctor
	}
	opts := &doctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Show what this host supports and what each ctsec job needs",
		Long: `doctor inspects this host — kernel seccomp actions, libseccomp, AppArmor in the
kernel and apparmor_parser, the Docker engine and runc, and the tools the host
modules use (sshd, ufw, nft, fail2ban and the Python module its journal
backend needs) — and says which ctsec jobs can run here. It changes nothing.

Each missing capability is a high finding (rule doctor/<check>), so the exit
code follows --fail-on: 1 by default when something a job needs is missing,
0 with --fail-on none.`,
		Example: "  ctsec doctor\n  ctsec doctor --format json\n  ctsec doctor --fail-on none\n  ctsec doctor --host ssh://admin@web1",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().StringVar(&opts.Root, "root", "/", "host root to inspect (/proc and /sys are read below it)")
	cmd.Flags().StringVarP(&opts.Host, "host", "H", "", "Docker engine to ask (default: DOCKER_HOST or the local socket)")
	return audit(cmd)
}

func runDoctor(ctx context.Context, opts *doctorOptions, a *app) (*report.Report, error) {
	res := inspectHost(ctx, opts.Root, opts.Host)
	res.Checks = append(res.Checks, a.composeCheck())
	var findings []report.Finding
	var checks []report.Check
	for _, c := range res.Checks {
		rule, _ := doctorRules.Lookup(c.Rule)
		st := report.Pass
		if !c.OK {
			st = report.Fail
			findings = append(findings, report.Finding{Rule: c.Rule, Severity: rule.Severity, Target: c.Name,
				Message: fmt.Sprintf("%s: %s (needed by %s)", c.Name, c.Detail, c.Needed), Fix: rule.Help})
		}
		checks = append(checks, report.Check{Rule: c.Rule, Title: rule.Title, Status: st, Reason: c.Detail})
	}
	r := report.New("doctor", findings, res)
	r.Rules, r.Checks = doctorRules, checks
	r.Text = func(w io.Writer, o report.Options) error { return writeDoctor(w, res, o) }
	return &r, nil
}

func inspectHost(ctx context.Context, root, host string) doctorResult {
	res := doctorResult{Tools: map[string]string{}}
	add := func(rule, name string, ok bool, detail, needed string) {
		res.Checks = append(res.Checks, doctorCheck{Rule: rule, Name: name, OK: ok, Detail: detail, Needed: needed})
	}

	sc, err := seccomp.DetectSupport(root)
	if err != nil {
		add("doctor/kernel-seccomp", "kernel seccomp", false, err.Error(), "seccomp exec, profile record")
	} else {
		res.Seccomp = &sc
		add("doctor/kernel-seccomp", "kernel seccomp", true, "actions: "+strings.Join(sc.KernelActions, " "), "seccomp exec, profile record")
		add("doctor/libseccomp", "libseccomp", sc.APILevel >= 3, fmt.Sprintf("version %s, API level %d", sc.Library, sc.APILevel),
			"seccomp validate, compile, exec")
		detail := "available"
		if !sc.Notify {
			detail = "needs kernel user_notif and libseccomp API level 5 or more"
		}
		add("doctor/seccomp-notify", "seccomp user notification", sc.Notify, detail, "profile record")
	}

	res.AppArmor = apparmor.DetectSupport(ctx, root)
	aa := res.AppArmor
	if aa.Parser != "" {
		add("doctor/apparmor-parser", "apparmor_parser", true, aa.Parser+" "+aa.ParserVersion, "apparmor validate, load, promote")
	} else {
		add("doctor/apparmor-parser", "apparmor_parser", false, (&execx.NotFoundError{Tool: "apparmor_parser"}).Error(), "apparmor validate, load, promote")
	}
	detail := "enabled, securityfs mounted"
	switch {
	case !aa.KernelEnabled:
		detail = "this kernel has no AppArmor: profiles can be generated and validated, not loaded"
	case !aa.SecurityFS:
		detail = "enabled but securityfs is not mounted at /sys/kernel/security"
	}
	add("doctor/kernel-apparmor", "AppArmor in the kernel", aa.KernelEnabled && aa.SecurityFS, detail, "apparmor load, status, promote")

	initOK, initDetail := initSystem(root)
	add("doctor/init-systemd", "systemd as init", initOK, initDetail, "host apply (service reloads, timed rollback)")

	if c, err := engine.Connect(host); err != nil {
		add("doctor/docker-engine", "Docker engine", false, err.Error(), "bench, apparmor status, compose checks against containers")
	} else {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := engine.Describe(dctx, c)
		cancel()
		c.Close()
		if err != nil {
			add("doctor/docker-engine", "Docker engine", false, err.Error(), "bench, apparmor status")
		} else {
			res.Docker = &s
			add("doctor/docker-engine", "Docker engine", true, fmt.Sprintf("%s, API %s, security options: %s", s.Version, s.APIVersion,
				strings.Join(s.SecurityOptions, " ")), "bench, apparmor status")
		}
	}

	tools := []struct{ rule, name, args, needed string }{
		{"doctor/runc", "runc", "--version", "profile record --listen (containers)"},
		{"doctor/sshd", "sshd", "-V", "host ssh"},
		{"doctor/ufw", "ufw", "--version", "host firewall"},
		{"doctor/nft", "nft", "--version", "host firewall"},
		{"doctor/fail2ban", "fail2ban-client", "--version", "host fail2ban"},
	}
	runner := execx.Runner{Timeout: 10 * time.Second}
	for _, tl := range tools {
		if _, err := execx.LookPath(tl.name); err != nil {
			add(tl.rule, tl.name, false, err.Error(), tl.needed)
			continue
		}
		r, err := runner.Run(ctx, tl.name, tl.args)
		v := ""
		if err == nil {
			v = execx.FirstLine(append(r.Stdout, r.Stderr...))
		}
		res.Tools[tl.name] = v
		add(tl.rule, tl.name, true, v, tl.needed)
	}
	ok, detail := journalBackend(ctx, runner)
	add("doctor/python3-systemd", "python3-systemd", ok, detail, "host fail2ban (the baseline jail's backend = systemd)")
	return res
}

// initSystem says whether systemd is PID 1 under root: sd_booted(3)'s test
// (/run/systemd/system is a directory), with PID 1's name in the detail.
func initSystem(root string) (bool, string) {
	comm, _ := os.ReadFile(filepath.Join(root, "proc/1/comm"))
	pid1 := strings.TrimSpace(string(comm))
	if st, err := os.Stat(filepath.Join(root, "run/systemd/system")); err == nil && st.IsDir() {
		return true, "PID 1 is systemd"
	}
	if pid1 == "" {
		pid1 = "unknown"
	}
	return false, "PID 1 is " + pid1 + ", not systemd: services are not reloaded and timed rollbacks cannot be scheduled"
}

// journalBackend checks that the Python fail2ban runs under can import
// systemd.journal, which fail2ban's systemd backend needs: the interpreter
// is the one on fail2ban-client's #! line, not whichever python3 is first
// on PATH (a pyenv or venv one would answer for the wrong Python).
func journalBackend(ctx context.Context, runner execx.Runner) (bool, string) {
	python := "/usr/bin/python3"
	if p, err := execx.LookPath("fail2ban-client"); err == nil {
		if b, err := os.ReadFile(p); err == nil {
			if line, _, _ := strings.Cut(string(b[:min(len(b), 256)]), "\n"); strings.HasPrefix(line, "#!") {
				if f := strings.Fields(strings.TrimPrefix(line, "#!")); len(f) > 0 && !strings.HasSuffix(f[0], "/env") {
					python = f[0]
				}
			}
		}
	}
	if _, err := os.Stat(python); err != nil {
		return false, fmt.Sprintf("%s (fail2ban's Python) is missing", python)
	}
	if _, err := runner.Run(ctx, python, "-c", "import systemd.journal"); err != nil {
		return false, fmt.Sprintf("%s cannot import systemd.journal: the journal backend cannot read sshd's log", python)
	}
	return true, python + " imports systemd.journal"
}

func writeDoctor(w io.Writer, res doctorResult, o report.Options) error {
	t := term.NewTable(w, o.LineWidth())
	if o.Color {
		t.Style(0, func(c string) string {
			if c == "ok" {
				return term.Green
			}
			return term.Yellow
		})
	}
	for _, c := range res.Checks {
		mark := "ok"
		if !c.OK {
			mark = "missing"
		}
		t.Row(mark, c.Name, c.Detail+" (needed by "+c.Needed+")")
	}
	return t.Flush()
}
