package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ctsec/ctsec/cert"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/rootfs"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/ctsec/ctsec/internal/textdiff"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newTLSCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tls",
		Short: "Copy renewed certificates into containers and prove the service uses them",
		Long: `tls deploy is the step after every certificate renewal: check the pair,
copy it into the container's volume with the owner and modes the service
needs, reload or restart the service, and ask it over TLS whether it now
presents the new certificate. tls hook install makes certbot run it after
each renewal.`,
	}
	hook := &cobra.Command{Use: "hook", Short: "Install or remove the certbot deploy hook that runs tls deploy"}
	hook.AddCommand(newTLSHookInstallCmd(a, nil), newTLSHookRemoveCmd(a, nil))
	cmd.AddCommand(newTLSDeployCmd(a, nil), hook)
	return cmd
}

// tlsDeployFlags are deploy's flags; hook install takes the same and
// writes them into the hook.
type tlsDeployFlags struct {
	CertDir, Cert, Key, CA string
	Container, Volume      string
	Dest                   string
	CertName, KeyName      string
	UID, GID               int
	CertMode, KeyMode      string
	Reload                 string
	Port                   int
	Verify                 string
	StartTLS               string
	ServerName             string
	Host                   string
	StateDir               string
	Timeout                time.Duration
}

func (f *tlsDeployFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.CertDir, "cert-dir", "", "the certificate's directory (certbot's live/NAME: fullchain.pem, privkey.pem)")
	fs.StringVar(&f.Cert, "cert", "", "the chain to deploy (default CERT-DIR/fullchain.pem, else cert.pem + chain.pem)")
	fs.StringVar(&f.Key, "key", "", "the private key (default CERT-DIR/privkey.pem)")
	fs.StringVar(&f.CA, "ca", "", "extra trusted roots for checking the chain (a private CA)")
	fs.StringVar(&f.Container, "container", "", "the container whose service uses the certificate")
	fs.StringVar(&f.Volume, "volume", "", "the volume (or bind mount's host path) in the container that holds the files")
	fs.StringVar(&f.Dest, "dest", "", "the directory inside the container for the files (default: where --volume is mounted)")
	fs.StringVar(&f.CertName, "cert-name", "server.crt", "file name of the certificate chain")
	fs.StringVar(&f.KeyName, "key-name", "server.key", "file name of the private key")
	fs.IntVar(&f.UID, "uid", -1, "owner of the files (PostgreSQL's image: 70); default: as they are, or the directory's")
	fs.IntVar(&f.GID, "gid", -1, "group of the files; default: as they are, or the directory's")
	fs.StringVar(&f.CertMode, "cert-mode", "0644", "mode of the certificate")
	fs.StringVar(&f.KeyMode, "key-mode", "0600", "mode of the private key")
	fs.StringVar(&f.Reload, "reload", "", "command run in the container to reload (e.g. 'pg_ctl reload', 'kill -HUP 1'); default: restart the container")
	fs.IntVar(&f.Port, "port", 0, "the port the service answers TLS on inside the container (its published port is used)")
	fs.StringVar(&f.Verify, "verify", "", "HOST:PORT to ask for the certificate instead of --port")
	fs.StringVar(&f.StartTLS, "starttls", "", "postgres: PostgreSQL's SSLRequest before the handshake")
	fs.StringVar(&f.ServerName, "server-name", "", "name sent as SNI (default the certificate's first DNS name)")
	fs.StringVarP(&f.Host, "host", "H", "", "Docker engine (default: DOCKER_HOST or the local socket)")
	fs.StringVar(&f.StateDir, "state-dir", safefile.DefaultStateDir, "where the journal and backups are kept")
	fs.DurationVar(&f.Timeout, "timeout", 60*time.Second, "how long the service may take to present the new certificate")
}

// check validates the flags that need no engine.
func (f *tlsDeployFlags) check() (certMode, keyMode fs.FileMode, err error) {
	switch {
	case f.CertDir == "" && (f.Cert == "" || f.Key == ""):
		return 0, 0, usageError(errors.New("--cert-dir DIR is required (or both --cert and --key)"))
	case f.Container == "":
		return 0, 0, usageError(errors.New("--container NAME is required"))
	case f.Volume == "" && f.Dest == "":
		return 0, 0, usageError(errors.New("say where the files go: --volume NAME or --dest DIR inside the container"))
	case f.Verify == "" && f.Port == 0:
		return 0, 0, usageError(errors.New("say where the service answers TLS: --port N (its port in the container) or --verify HOST:PORT"))
	case f.StartTLS != "" && f.StartTLS != "postgres":
		return 0, 0, usageError(fmt.Errorf("--starttls %q: want postgres, or leave it out for TLS from the first byte", f.StartTLS))
	}
	cm, err := strconv.ParseUint(f.CertMode, 8, 32)
	if err != nil || cm > 0o777 {
		return 0, 0, usageError(fmt.Errorf("--cert-mode %q: want an octal mode such as 0644", f.CertMode))
	}
	km, err := strconv.ParseUint(f.KeyMode, 8, 32)
	if err != nil || km > 0o777 {
		return 0, 0, usageError(fmt.Errorf("--key-mode %q: want an octal mode such as 0600", f.KeyMode))
	}
	return fs.FileMode(cm), fs.FileMode(km), nil
}

type tlsDeployOptions struct {
	Flags tlsDeployFlags
	Write bool
}

type tlsDeployData struct {
	Plan   *cert.Plan   `json:"plan"`
	Result *cert.Result `json:"result,omitempty"`
}

func newTLSDeployCmd(a *app, runF runFunc[tlsDeployOptions]) *cobra.Command {
	if runF == nil {
		runF = runTLSDeploy
	}
	opts := &tlsDeployOptions{}
	cmd := &cobra.Command{
		Use:   "deploy --cert-dir DIR --container NAME --volume V --port N",
		Short: "Check a certificate, copy it into a container's volume, reload, and verify over TLS",
		Long: `deploy checks the certificate pair first: the key is the certificate's, the
chain verifies to a trusted root (the system's, plus --ca), and it is valid
now; a mismatched key, a missing intermediate or an expired certificate is
refused (exit 1) and nothing is touched.

Then it shows where the files go: the container's volume (--volume, or the
one --dest is on), the host path, owner and mode of each file. With
--write it keeps the files there in the journal, writes the new ones
atomically inside the volume (temporary files only in that directory,
never in /tmp; the key is never readable by others, even for a moment),
reloads the service (--reload CMD in the container) or restarts the
container, and asks the service over TLS (--starttls postgres for
PostgreSQL) until it presents the new certificate. If it does not within
--timeout, the previous files are put back and the service reloaded.
Running it again with the same pair changes nothing.

PostgreSQL's official image: --uid 70 --gid 70 (its postgres user),
certificate 0644, key 0600, --port 5432 --starttls postgres, and
--reload 'pg_ctl reload' if the server runs as that user, else a restart.`,
		Example: `  ctsec tls deploy --cert-dir /etc/letsencrypt/live/db.example.com --container pg \
    --volume pg-certs --uid 70 --gid 70 --port 5432 --starttls postgres
  ctsec tls deploy --cert-dir /etc/letsencrypt/live/db.example.com --container pg \
    --volume pg-certs --uid 70 --gid 70 --port 5432 --starttls postgres --write`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Flags.register(cmd.Flags())
	cmd.Flags().BoolVar(&opts.Write, "write", false, "deploy (without it: check the pair and show the plan)")
	return cmd
}

func runTLSDeploy(ctx context.Context, opts *tlsDeployOptions, a *app) (*report.Report, error) {
	f := &opts.Flags
	certMode, keyMode, err := f.check()
	if err != nil {
		return nil, err
	}
	pair, err := cert.Load(cert.Sources{Dir: f.CertDir, Cert: f.Cert, Key: f.Key}, cert.LoadOptions{CAFile: f.CA, Now: a.clock.Now()})
	var ce *cert.CheckError
	switch {
	case errors.As(err, &ce):
		return nil, failed("refusing to deploy: %v", err)
	case err != nil:
		return nil, usageError(err)
	}
	docker, err := engine.Connect(f.Host)
	if err != nil {
		return nil, err
	}
	defer docker.Close()
	t := cert.Target{Container: f.Container, Volume: f.Volume, Dest: f.Dest, CertName: f.CertName, KeyName: f.KeyName,
		UID: f.UID, GID: f.GID, CertMode: certMode, KeyMode: keyMode, Reload: strings.Fields(f.Reload),
		Verify: f.Verify, Port: f.Port, StartTLS: f.StartTLS, ServerName: f.ServerName}
	plan, err := cert.NewPlan(ctx, docker, pair, t)
	if err != nil {
		return nil, usageError(err)
	}
	data := tlsDeployData{Plan: plan}
	var deployErr error
	if opts.Write {
		o := cert.DeployOptions{Store: a.store(f.StateDir), Docker: docker, Command: "tls deploy " + plan.Container,
			VerifyWithin: f.Timeout, Clock: a.clock}
		if a.progress() {
			o.Log = a.stderr
		}
		data.Result, deployErr = cert.Deploy(ctx, plan, o)
	}
	var findings []report.Finding
	for _, w := range pair.Warnings {
		findings = append(findings, report.Finding{Rule: "tls/expires-soon", Severity: report.Medium, Target: pair.Subject, File: pair.CertFile, Message: w,
			Fix: "renew it (certbot renew), then deploy again"})
	}
	again := a.nextCommand("tls deploy")
	r := report.New("tls deploy", findings, data)
	r.Text = func(w io.Writer, o report.Options) error { return writeTLSDeploy(w, o, data, again) }
	if deployErr != nil {
		return &r, failedErr(deployErr)
	}
	return &r, nil
}

func writeTLSDeploy(w io.Writer, o report.Options, d tlsDeployData, again string) error {
	width := o.LineWidth()
	p := d.Plan
	c := p.Pair
	var b strings.Builder
	fmt.Fprintf(&b, "certificate %s, issued by %s\n", c.Subject, c.Issuer)
	fmt.Fprintf(&b, "  valid %s to %s; chain: %s\n", c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339), strings.Join(c.Path, " → "))
	fmt.Fprintf(&b, "  key matches; sha256 %s\n", c.SHA256)
	for _, warn := range c.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", warn)
	}
	fmt.Fprintf(&b, "into container %s (%s), %s mounted at %s:\n", p.Container, map[bool]string{true: "running", false: "stopped"}[p.Running], p.Mount, p.Dest)
	io.WriteString(w, fitLines(b.String(), width))
	t := term.NewTable(w, width)
	t.Indent = "  "
	for _, f := range p.Files {
		state := "unchanged"
		switch {
		case f.Changed && f.Exists:
			state = "replace"
		case f.Changed:
			state = "create"
		}
		t.Row(state, f.Path, fmt.Sprintf("%s %d:%d", f.Mode, f.UID, f.GID), f.HostPath)
	}
	t.Flush()
	b.Reset()
	fmt.Fprintf(&b, "then: %s; verify: TLS at %s", p.Activate, p.Verify)
	if p.StartTLS != "" {
		fmt.Fprintf(&b, " (after %s's SSLRequest)", p.StartTLS)
	}
	b.WriteString("\n")
	switch r := d.Result; {
	case r == nil:
		fmt.Fprintf(&b, "dry run: nothing was changed; deploy with: %s --write\n", again)
	case r.RolledBack:
		fmt.Fprintf(&b, "FAILED; the previous files were put back (change %s)\n", r.Change)
	case r.Change == "":
		fmt.Fprintf(&b, "nothing to do: %s already presents this certificate at %s\n", p.Container, r.Presented.Addr)
	default:
		fmt.Fprintf(&b, "deployed (change %s): %s now presents %s at %s\n", r.Change, p.Container, r.Presented.Subject, r.Presented.Addr)
	}
	_, err := io.WriteString(w, fitLines(b.String(), width))
	return err
}

type tlsHookOptions struct {
	Name   string
	Root   string
	Self   string
	Write  bool
	Deploy tlsDeployFlags
	// Args are the deploy flags as given, for the hook to pass on.
	Args []string
}

type tlsHookData struct {
	Name    string `json:"name"`
	Path    string `json:"path"`
	Lineage string `json:"lineage,omitempty"`
	Diff    string `json:"diff"`
	Written bool   `json:"written"`
	Change  string `json:"change,omitempty"`
}

func newTLSHookInstallCmd(a *app, runF runFunc[tlsHookOptions]) *cobra.Command {
	if runF == nil {
		runF = runTLSHookInstall
	}
	opts := &tlsHookOptions{}
	cmd := &cobra.Command{
		Use:   "install NAME --cert-dir DIR --container NAME …",
		Short: "Install tls deploy as a certbot deploy hook",
		Long: `install writes /etc/letsencrypt/renewal-hooks/deploy/ctsec-NAME, which certbot
runs after every successful renewal with RENEWED_LINEAGE set to the renewed
certificate's directory. The hook acts only for --cert-dir and runs
'ctsec tls deploy --write' with the other flags given here, each quoted
for the shell. It is checked with sh -n, recorded in the journal (so
'ctsec rollback ID' removes it) and shown as a diff first; --write
installs it.`,
		Example: `  ctsec tls hook install pg --cert-dir /etc/letsencrypt/live/db.example.com \
    --container pg --volume pg-certs --uid 70 --gid 70 --port 5432 --starttls postgres --write`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			cmd.Flags().Visit(func(fl *pflag.Flag) {
				switch fl.Name {
				case "cert-dir", "write", "root", "self":
					return
				}
				opts.Args = append(opts.Args, "--"+fl.Name+"="+fl.Value.String())
			})
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Deploy.register(cmd.Flags())
	cmd.Flags().StringVar(&opts.Root, "root", "/", "host root to install into (a mounted image or a test tree)")
	cmd.Flags().StringVar(&opts.Self, "self", "", "the ctsec the hook runs (default: this executable)")
	cmd.Flags().BoolVar(&opts.Write, "write", false, "install (without it: show the hook)")
	return cmd
}

func runTLSHookInstall(ctx context.Context, opts *tlsHookOptions, a *app) (*report.Report, error) {
	if _, _, err := opts.Deploy.check(); err != nil {
		return nil, err
	}
	if opts.Deploy.CertDir == "" {
		return nil, usageError(errors.New("--cert-dir DIR is required: the hook acts for that certificate only"))
	}
	lineage, err := filepath.Abs(opts.Deploy.CertDir)
	if err != nil {
		return nil, usageError(err)
	}
	self := opts.Self
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	p, err := cert.HookPath(opts.Name)
	if err != nil {
		return nil, usageError(err)
	}
	script := cert.HookScript(opts.Name, lineage, self, opts.Args)
	if err := checkShell(ctx, script); err != nil {
		return nil, err
	}
	return installHookFile(opts, a, "tls hook install "+opts.Name, p, lineage, script)
}

// checkShell is sh -n on a script.
func checkShell(ctx context.Context, script []byte) error {
	cmd := exec.CommandContext(ctx, "sh", "-n")
	cmd.Stdin = strings.NewReader(string(script))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("the hook does not pass sh -n: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// installHookFile shows a diff of the hook and, with --write, writes it (or
// removes it for nil) through the root, recorded in the journal.
func installHookFile(opts *tlsHookOptions, a *app, command, p, lineage string, script []byte) (*report.Report, error) {
	root := rootfs.New(opts.Root)
	old, err := root.ReadFile(p, 1<<20)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", root.Join(p), err)
	}
	oldName := p
	if !exists {
		oldName = "/dev/null"
	}
	newName := p
	if script == nil {
		newName = "/dev/null"
	}
	data := tlsHookData{Name: opts.Name, Path: root.Join(p), Lineage: lineage, Diff: textdiff.Unified(oldName, newName, old, script)}
	if opts.Write && data.Diff != "" {
		change, err := a.store(opts.Deploy.StateDir).NewChange(command)
		if err != nil {
			return nil, err
		}
		data.Change = change.ID()
		if err := change.SaveIn(root, p); err != nil {
			return nil, err
		}
		if script == nil {
			err = root.Remove(p)
		} else {
			if _, err = root.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				err = root.WriteFile(p, script, 0o755, rootfs.Reset)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("writing %s (backed up in change %s): %w", root.Join(p), change.ID(), err)
		}
		if err := change.Finish(); err != nil {
			return nil, err
		}
		data.Written = true
	}
	r := report.New(strings.Join(strings.Fields(command)[:3], " "), nil, data)
	undo := a.nextCommand("rollback", data.Change, "--yes")
	r.Text = func(w io.Writer, o report.Options) error {
		io.WriteString(w, data.Diff)
		var msg string
		switch {
		case data.Diff == "":
			msg = "nothing to change: " + data.Path + " is as it should be\n"
		case !data.Written:
			msg = "dry run: nothing was changed (add --write)\n"
		default:
			msg = fmt.Sprintf("wrote %s (change %s); undo with: %s\n", data.Path, data.Change, undo)
		}
		_, err := io.WriteString(w, fitLines(msg, o.LineWidth()))
		return err
	}
	return &r, nil
}

func newTLSHookRemoveCmd(a *app, runF runFunc[tlsHookOptions]) *cobra.Command {
	if runF == nil {
		runF = runTLSHookRemove
	}
	opts := &tlsHookOptions{}
	cmd := &cobra.Command{
		Use:   "remove NAME [--write]",
		Short: "Remove a certbot deploy hook tls hook install wrote",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().StringVar(&opts.Root, "root", "/", "host root (a mounted image or a test tree)")
	cmd.Flags().StringVar(&opts.Deploy.StateDir, "state-dir", safefile.DefaultStateDir, "where the journal and backups are kept")
	cmd.Flags().BoolVar(&opts.Write, "write", false, "remove (without it: show what would go)")
	return cmd
}

func runTLSHookRemove(_ context.Context, opts *tlsHookOptions, a *app) (*report.Report, error) {
	p, err := cert.HookPath(opts.Name)
	if err != nil {
		return nil, usageError(err)
	}
	return installHookFile(opts, a, "tls hook remove "+opts.Name, p, "", nil)
}
