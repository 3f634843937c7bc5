package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/seccomp"
	"github.com/spf13/cobra"
)

// doctorCheck is one line of `ctsec doctor`: a capability of this host and
// the ctsec jobs that need it.
type doctorCheck struct {
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

func newDoctorCmd(a *app) *cobra.Command {
	var root, host string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Show what this host supports and what each ctsec job needs",
		Long: `doctor inspects this host — kernel seccomp actions, libseccomp, AppArmor in the
kernel and apparmor_parser, the Docker engine and runc, and the tools the host
modules use — and says which ctsec jobs can run here. It changes nothing.

Exit code 0 when every check passes, 1 when something a job needs is missing.`,
		Example: "  ctsec doctor\n  ctsec doctor --format json\n  ctsec doctor --host ssh://admin@web1",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res := runDoctor(cmd.Context(), root, host)
			if a.jsonOutput() {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
			} else {
				printDoctor(a, res)
			}
			for _, c := range res.Checks {
				if !c.OK {
					return errFindingsReached
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&root, "root", "/", "host root to inspect (/proc and /sys are read below it)")
	cmd.Flags().StringVarP(&host, "host", "H", "", "Docker engine to ask (default: DOCKER_HOST or the local socket)")
	return cmd
}

func runDoctor(ctx context.Context, root, host string) doctorResult {
	res := doctorResult{Tools: map[string]string{}}
	add := func(name string, ok bool, detail, needed string) {
		res.Checks = append(res.Checks, doctorCheck{Name: name, OK: ok, Detail: detail, Needed: needed})
	}

	sc, err := seccomp.DetectSupport(root)
	if err != nil {
		add("kernel seccomp", false, err.Error(), "seccomp exec, profile record")
	} else {
		res.Seccomp = &sc
		add("kernel seccomp", true, "actions: "+strings.Join(sc.KernelActions, " "), "seccomp exec, profile record")
		add("libseccomp", sc.APILevel >= 3, fmt.Sprintf("version %s, API level %d", sc.Library, sc.APILevel),
			"seccomp validate, compile, exec")
		detail := "available"
		if !sc.Notify {
			detail = "needs kernel user_notif and libseccomp API level 5 or more"
		}
		add("seccomp user notification", sc.Notify, detail, "profile record")
	}

	res.AppArmor = apparmor.DetectSupport(ctx, root)
	aa := res.AppArmor
	if aa.Parser != "" {
		add("apparmor_parser", true, aa.Parser+" "+aa.ParserVersion, "apparmor validate, load, promote")
	} else {
		add("apparmor_parser", false, (&execx.NotFoundError{Tool: "apparmor_parser"}).Error(), "apparmor validate, load, promote")
	}
	detail := "enabled, securityfs mounted"
	switch {
	case !aa.KernelEnabled:
		detail = "this kernel has no AppArmor: profiles can be generated and validated, not loaded"
	case !aa.SecurityFS:
		detail = "enabled but securityfs is not mounted at /sys/kernel/security"
	}
	add("AppArmor in the kernel", aa.KernelEnabled && aa.SecurityFS, detail, "apparmor load, status, promote")

	ok, detail := initSystem(root)
	add("systemd as init", ok, detail, "host apply (service reloads, timed rollback)")

	if c, err := engine.Connect(host); err != nil {
		add("Docker engine", false, err.Error(), "bench, apparmor status, compose checks against containers")
	} else {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := engine.Describe(dctx, c)
		cancel()
		c.Close()
		if err != nil {
			add("Docker engine", false, err.Error(), "bench, apparmor status")
		} else {
			res.Docker = &s
			add("Docker engine", true, fmt.Sprintf("%s, API %s, security options: %s", s.Version, s.APIVersion,
				strings.Join(s.SecurityOptions, " ")), "bench, apparmor status")
		}
	}

	tools := []struct{ name, args, needed string }{
		{"runc", "--version", "profile record --listen (containers)"},
		{"sshd", "-V", "host ssh"},
		{"ufw", "--version", "host firewall"},
		{"nft", "--version", "host firewall"},
		{"fail2ban-client", "--version", "host fail2ban"},
	}
	for _, tl := range tools {
		if _, err := execx.LookPath(tl.name); err != nil {
			add(tl.name, false, err.Error(), tl.needed)
			continue
		}
		r, err := (execx.Runner{Timeout: 10 * time.Second}).Run(ctx, tl.name, tl.args)
		v := ""
		if err == nil {
			v = execx.FirstLine(append(r.Stdout, r.Stderr...))
		}
		res.Tools[tl.name] = v
		add(tl.name, true, v, tl.needed)
	}
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

func printDoctor(a *app, res doctorResult) {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	color := a.color()
	for _, c := range res.Checks {
		mark := "ok"
		if !c.OK {
			mark = "missing"
		}
		if color {
			code := "\x1b[32m"
			if !c.OK {
				code = "\x1b[33m"
			}
			mark = code + fmt.Sprintf("%-7s", mark) + "\x1b[0m"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t(%s)\n", mark, c.Name, c.Detail, c.Needed)
	}
	tw.Flush()
}
