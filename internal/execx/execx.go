// Package execx runs the external tools ctsec relies on (apparmor_parser, sshd,
// runc, nft …) with a context and a timeout, and turns a missing tool into an
// error that says which Debian package provides it.
package execx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// DefaultTimeout bounds a tool that hangs (a parser waiting on a lock, a
// daemon that does not answer).
const DefaultTimeout = 60 * time.Second

// packages maps a tool to the Debian package that ships it, for error hints.
var packages = map[string]string{
	"apparmor_parser": "apparmor",
	"aa-status":       "apparmor",
	"sshd":            "openssh-server",
	"fail2ban-client": "fail2ban",
	"nft":             "nftables",
	"ufw":             "ufw",
	"iptables":        "iptables",
	"runc":            "runc",
	"docker":          "docker.io",
	"dockerd":         "docker.io",
	"strace":          "strace",
	"sysctl":          "procps",
	"auditctl":        "auditd",
	"journalctl":      "systemd",
	"systemctl":       "systemd",
	"busybox":         "busybox-static",
}

// NotFoundError says a tool is not installed and how to get it.
type NotFoundError struct {
	Tool string
}

func (e *NotFoundError) Error() string {
	if pkg, ok := packages[e.Tool]; ok {
		return fmt.Sprintf("%s not found in PATH (install the Debian package %s)", e.Tool, pkg)
	}
	return fmt.Sprintf("%s not found in PATH", e.Tool)
}

// Result is what a tool printed and how it exited.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// Runner runs tools. The zero value uses DefaultTimeout and the inherited
// environment.
type Runner struct {
	Timeout time.Duration
	Env     []string  // extra KEY=VALUE pairs appended to the environment
	Stdin   io.Reader // optional standard input
}

// LookPath finds a tool or returns a *NotFoundError.
func LookPath(tool string) (string, error) {
	p, err := exec.LookPath(tool)
	if err != nil {
		return "", &NotFoundError{Tool: tool}
	}
	return p, nil
}

// Run runs tool with args. A non-zero exit is not an error: it is reported in
// Result.ExitCode, because for validators (sshd -t, apparmor_parser -QK) it is
// the answer. Errors are for a tool that is missing, could not start, or timed out.
func (r Runner) Run(ctx context.Context, tool string, args ...string) (Result, error) {
	path, err := LookPath(tool)
	if err != nil {
		return Result{}, err
	}
	timeout := r.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	if len(r.Env) > 0 {
		cmd.Env = append(cmd.Environ(), r.Env...)
	}
	cmd.Stdin = r.Stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return res, fmt.Errorf("running %s: timed out after %s", commandLine(tool, args), timeout)
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitCode()
		return res, nil
	case err != nil:
		return res, fmt.Errorf("running %s: %w", commandLine(tool, args), err)
	}
	return res, nil
}

// Output runs the tool and treats a non-zero exit as an error carrying the
// tool's own first line of stderr.
func (r Runner) Output(ctx context.Context, tool string, args ...string) ([]byte, error) {
	res, err := r.Run(ctx, tool, args...)
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return res.Stdout, fmt.Errorf("%s exited %d: %s", commandLine(tool, args), res.ExitCode, FirstLine(res.Stderr))
	}
	return res.Stdout, nil
}

// FirstLine is the first non-empty line of a tool's output, for one-line errors.
func FirstLine(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return "(no output)"
}

func commandLine(tool string, args []string) string {
	return strings.TrimSpace(tool + " " + strings.Join(args, " "))
}
