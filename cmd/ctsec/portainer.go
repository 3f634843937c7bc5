//go:build !lean

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/ctsec/ctsec/compose"
	"github.com/ctsec/ctsec/compose/portainer"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/ctsec/ctsec/internal/textdiff"
	"github.com/spf13/cobra"
)

// portainerAPIKeyEnv is where the API key is read from without --api-key-file.
const portainerAPIKeyEnv = "PORTAINER_API_KEY"

type portainerFlags struct {
	url     string
	keyFile string
	ca      string
	timeout time.Duration
}

func (f *portainerFlags) client() (*portainer.Client, error) {
	if f.url == "" {
		f.url = os.Getenv("PORTAINER_URL")
	}
	if f.url == "" {
		return nil, usageError(fmt.Errorf("--url (or PORTAINER_URL) is required"))
	}
	key, err := portainer.ReadAPIKey(f.keyFile, portainerAPIKeyEnv)
	if err != nil {
		return nil, usageError(err)
	}
	hc, err := portainer.NewHTTPClient(f.ca, f.timeout)
	if err != nil {
		return nil, usageError(err)
	}
	c, err := portainer.New(f.url, key, hc)
	if err != nil {
		return nil, usageError(err)
	}
	return c, nil
}

func newPortainerCmd(a *app) *cobra.Command {
	pf := &portainerFlags{}
	cmd := &cobra.Command{
		Use:   "portainer",
		Short: portainerShort,
		Long: `Audit and harden Portainer stacks through the Portainer HTTP API.

The API key is read from --api-key-file or the PORTAINER_API_KEY environment
variable, never from the command line; it is sent only in the X-API-Key header
and never printed. TLS is verified (--ca adds a private CA).

harden shows the diff and changes nothing; --write updates the stack after backing
up its previous file and settings under --state-dir, sending the stack's own
environment variables back (Portainer replaces them on update). Git-backed stacks
are refused unless --detach-git: an API update silently detaches them from Git.
Swarm stacks are hardened as swarm (limits under deploy.resources).`,
		Example: `  export PORTAINER_API_KEY=$(cat /root/portainer.key)
  ctsec portainer stacks --url https://portainer:9443
  ctsec portainer harden --url https://portainer:9443 7
  ctsec portainer harden --url https://portainer:9443 7 --write`,
	}
	p := cmd.PersistentFlags()
	p.StringVar(&pf.url, "url", "", "Portainer base `URL`, e.g. https://portainer:9443 (or PORTAINER_URL)")
	p.StringVar(&pf.keyFile, "api-key-file", "", "`FILE` holding the API key (default: $"+portainerAPIKeyEnv+")")
	p.StringVar(&pf.ca, "ca", "", "PEM `FILE` of a private CA to trust")
	p.DurationVar(&pf.timeout, "timeout", 60*time.Second, "timeout of each API request")
	cmd.AddCommand(newPortainerStacksCmd(a, pf, nil), newPortainerPullCmd(a, pf, nil), newPortainerAuditCmd(a, pf, nil),
		newPortainerHardenCmd(a, pf, nil), newPortainerPushCmd(a, pf, nil), newPortainerTemplatesCmd(a, nil))
	return cmd
}

func stackID(s string) (int, error) {
	id, err := strconv.Atoi(s)
	if err != nil || id <= 0 {
		return 0, usageError(fmt.Errorf("stack id %q: want a positive number (see ctsec portainer stacks)", s))
	}
	return id, nil
}

type portainerStacksOptions struct {
	Endpoint int
}

// portainerStack is one stack in the listing.
type portainerStack struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	EndpointID int    `json:"endpoint_id"`
	Git        bool   `json:"git"`
	Status     int    `json:"status"`
}

type portainerStacksData struct {
	Stacks []portainerStack `json:"stacks"`
}

func newPortainerStacksCmd(a *app, pf *portainerFlags, runF runFunc[portainerStacksOptions]) *cobra.Command {
	if runF == nil {
		runF = func(ctx context.Context, o *portainerStacksOptions, a *app) (*report.Report, error) {
			return runPortainerStacks(ctx, pf, o, a)
		}
	}
	opts := &portainerStacksOptions{}
	cmd := &cobra.Command{
		Use:   "stacks",
		Short: "List stacks (of one environment with --endpoint)",
		Long: `List the stacks Portainer manages: id, name, compose or swarm, environment
(endpoint) and whether the stack is deployed from Git (harden --write refuses those).`,
		Example: `  ctsec portainer stacks --url https://portainer:9443
  ctsec portainer stacks --url https://portainer:9443 --endpoint 2 --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().IntVar(&opts.Endpoint, "endpoint", 0, "only stacks of this environment (endpoint) `ID`")
	return cmd
}

func runPortainerStacks(ctx context.Context, pf *portainerFlags, opts *portainerStacksOptions, _ *app) (*report.Report, error) {
	c, err := pf.client()
	if err != nil {
		return nil, err
	}
	stacks, err := c.Stacks(ctx, opts.Endpoint)
	if err != nil {
		return nil, err
	}
	data := portainerStacksData{Stacks: []portainerStack{}}
	for _, s := range stacks {
		data.Stacks = append(data.Stacks, portainerStack{ID: s.ID, Name: s.Name, Type: s.TypeName(),
			EndpointID: s.EndpointID, Git: s.GitBacked(), Status: s.Status})
	}
	r := report.New("portainer stacks", nil, data)
	r.Text = func(w io.Writer, o report.Options) error {
		t := term.NewTable(w, o.LineWidth())
		t.Header("ID", "NAME", "TYPE", "ENDPOINT", "GIT")
		for _, s := range data.Stacks {
			git := ""
			if s.Git {
				git = "yes"
			}
			t.Row(strconv.Itoa(s.ID), s.Name, s.Type, strconv.Itoa(s.EndpointID), git)
		}
		return t.Flush()
	}
	return &r, nil
}

type portainerPullOptions struct {
	Stack  string
	Output string
}

type portainerPullData struct {
	Stack   int    `json:"stack"`
	Output  string `json:"output,omitempty"`
	Written bool   `json:"written"`
	Content string `json:"content"`
}

func newPortainerPullCmd(a *app, pf *portainerFlags, runF runFunc[portainerPullOptions]) *cobra.Command {
	if runF == nil {
		runF = func(ctx context.Context, o *portainerPullOptions, a *app) (*report.Report, error) {
			return runPortainerPull(ctx, pf, o, a)
		}
	}
	opts := &portainerPullOptions{}
	cmd := &cobra.Command{
		Use:   "pull STACK_ID",
		Short: "Print (or save with -o) a stack's compose file",
		Example: `  ctsec portainer pull 7 --url https://portainer:9443 -o shop.yml
  ctsec compose audit shop.yml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Stack = args[0]
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "write the file to `FILE`")
	return cmd
}

func runPortainerPull(ctx context.Context, pf *portainerFlags, opts *portainerPullOptions, _ *app) (*report.Report, error) {
	id, err := stackID(opts.Stack)
	if err != nil {
		return nil, err
	}
	c, err := pf.client()
	if err != nil {
		return nil, err
	}
	content, err := c.StackFile(ctx, id)
	if err != nil {
		return nil, err
	}
	data := portainerPullData{Stack: id, Content: content}
	if opts.Output != "" {
		if err := safefile.WriteFile(opts.Output, []byte(content), 0o600); err != nil {
			return nil, err
		}
		data.Output, data.Written = opts.Output, true
	}
	r := report.New("portainer pull", nil, data)
	r.Text = func(w io.Writer, _ report.Options) error {
		if data.Written {
			_, err := fmt.Fprintf(w, "wrote stack %d's compose file to %s\n", id, term.Line(opts.Output))
			return err
		}
		_, err := io.WriteString(w, content)
		return err
	}
	return &r, nil
}

type portainerAuditOptions struct {
	Stacks []string
}

type portainerAuditData struct {
	Stacks []int `json:"stacks"`
}

func newPortainerAuditCmd(a *app, pf *portainerFlags, runF runFunc[portainerAuditOptions]) *cobra.Command {
	if runF == nil {
		runF = func(ctx context.Context, o *portainerAuditOptions, a *app) (*report.Report, error) {
			return runPortainerAudit(ctx, pf, o, a)
		}
	}
	opts := &portainerAuditOptions{}
	cmd := &cobra.Command{
		Use:   "audit STACK_ID...",
		Short: "Audit stacks' compose files",
		Long: `Fetch each stack's compose file and report the same findings as ctsec compose
audit, with the stack named in each finding's file. Exit 1 at --fail-on.`,
		Example: `  ctsec portainer audit 7 8 --url https://portainer:9443
  ctsec portainer audit 7 --url https://portainer:9443 --format sarif --fail-on medium`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Stacks = args
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	return withRules(audit(cmd), "compose audit")
}

func runPortainerAudit(ctx context.Context, pf *portainerFlags, opts *portainerAuditOptions, _ *app) (*report.Report, error) {
	var ids []int
	for _, arg := range opts.Stacks {
		id, err := stackID(arg)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	c, err := pf.client()
	if err != nil {
		return nil, err
	}
	var findings []report.Finding
	for _, id := range ids {
		_, d, err := c.Fetch(ctx, id)
		if err != nil {
			return nil, err
		}
		findings = append(findings, compose.Audit(d)...)
	}
	r := report.New("portainer audit", findings, portainerAuditData{Stacks: ids})
	r.Rules = compose.AuditRules()
	return &r, nil
}

type portainerHardenOptions struct {
	Stack     string
	Harden    hardenFlags
	Write     bool
	DetachGit bool
	Pull      bool
}

func newPortainerHardenCmd(a *app, pf *portainerFlags, runF runFunc[portainerHardenOptions]) *cobra.Command {
	if runF == nil {
		runF = func(ctx context.Context, o *portainerHardenOptions, a *app) (*report.Report, error) {
			return runPortainerHarden(ctx, pf, o, a)
		}
	}
	opts := &portainerHardenOptions{}
	cmd := &cobra.Command{
		Use:   "harden STACK_ID",
		Short: "Show (and with --write apply) hardening edits to a stack",
		Long: `Fetch a stack's compose file, harden it as ctsec compose harden does and print
the unified diff. Nothing changes without --write; with it the previous file and
settings are backed up under --state-dir, then the stack is updated with its own
environment variables (restore with ctsec portainer push STACK_ID BACKUP --write).`,
		Example: `  ctsec portainer harden 7 --url https://portainer:9443
  ctsec portainer harden 7 --url https://portainer:9443 --level strict --write`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Stack = args[0]
			opts.Harden.SwarmSet = cmd.Flags().Changed("swarm")
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	f := cmd.Flags()
	opts.Harden.register(a, f, "treat as a swarm stack (Portainer swarm stacks always are)")
	f.BoolVar(&opts.Write, "write", false, "update the stack in Portainer (redeploys it)")
	f.BoolVar(&opts.DetachGit, "detach-git", false, "allow updating a Git-backed stack, which detaches it from Git")
	f.BoolVar(&opts.Pull, "pull-image", false, "ask Portainer to pull images when redeploying")
	// Applying is --write everywhere.
	a.deprecatedFlag(f, "push", "", "write")
	return cmd
}

func runPortainerHarden(ctx context.Context, pf *portainerFlags, opts *portainerHardenOptions, a *app) (*report.Report, error) {
	id, err := stackID(opts.Stack)
	if err != nil {
		return nil, err
	}
	o, err := opts.Harden.options()
	if err != nil {
		return nil, err
	}
	c, err := pf.client()
	if err != nil {
		return nil, err
	}
	plan, err := c.Harden(ctx, id, o)
	if err != nil {
		return nil, err
	}
	if opts.Write && plan.Stack.GitBacked() && !opts.DetachGit {
		return nil, fmt.Errorf("stack %d (%s): %w", id, plan.Stack.Label(), portainer.ErrGitStack)
	}
	res := plan.Result
	data := newHardenData(portainer.Name(plan.Stack), res)
	if opts.Write && res.Changed() {
		po := portainer.PushOptions{DetachGit: opts.DetachGit, StateDir: opts.Harden.StateDir, Pull: opts.Pull, Clock: a.clock}
		backup, err := c.Push(ctx, plan.Stack, plan.Original, string(res.Output), po)
		if err != nil {
			return nil, err
		}
		data.Output, data.Written, data.Backup = fmt.Sprintf("stack %d", plan.Stack.ID), true, backup
	}
	r := report.New("portainer harden", res.Warnings, data)
	r.Rules = compose.Rules
	r.Text = func(w io.Writer, o report.Options) error {
		writeWarnings(a.stderr, res.Warnings, o)
		switch {
		case !res.Changed():
			fmt.Fprintf(a.stderr, "ctsec: stack %d (%s): nothing to change\n", plan.Stack.ID, plan.Stack.Label())
		case data.Written:
			io.WriteString(w, data.Diff)
			fmt.Fprintf(a.stderr, "ctsec: updated stack %d (%s); previous file and settings backed up in %s\n", plan.Stack.ID, plan.Stack.Label(), term.Line(data.Backup))
		default:
			io.WriteString(w, data.Diff)
			if plan.Stack.GitBacked() {
				fmt.Fprintf(a.stderr, "ctsec: stack %d is deployed from Git: change the file in its repository (--write would detach it unless --detach-git)\n", plan.Stack.ID)
			}
		}
		return nil
	}
	return &r, nil
}

type portainerPushOptions struct {
	Stack     string
	File      string
	Write     bool
	DetachGit bool
	Pull      bool
	StateDir  string
}

type portainerPushData struct {
	Stack   int    `json:"stack"`
	File    string `json:"file"`
	Changed bool   `json:"changed"`
	Diff    string `json:"diff"`
	Written bool   `json:"written"`
	Backup  string `json:"backup,omitempty"`
}

func newPortainerPushCmd(a *app, pf *portainerFlags, runF runFunc[portainerPushOptions]) *cobra.Command {
	if runF == nil {
		runF = func(ctx context.Context, o *portainerPushOptions, a *app) (*report.Report, error) {
			return runPortainerPush(ctx, pf, o, a)
		}
	}
	opts := &portainerPushOptions{}
	cmd := &cobra.Command{
		Use:   "push STACK_ID FILE",
		Short: "Replace a stack's file with FILE (diff first; --write to update), e.g. to restore a backup",
		Example: `  ctsec portainer push 7 /var/lib/ctsec/portainer/HOST/stack-7-TIME/stack.yml \
      --url https://portainer:9443
  ctsec portainer push 7 shop.yml --url https://portainer:9443 --write`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Stack, opts.File = args[0], args[1]
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Write, "write", false, "update the stack (redeploys it)")
	f.BoolVar(&opts.DetachGit, "detach-git", false, "allow updating a Git-backed stack, which detaches it from Git")
	f.BoolVar(&opts.Pull, "pull-image", false, "ask Portainer to pull images when redeploying")
	f.StringVar(&opts.StateDir, "state-dir", safefile.DefaultStateDir, "where backups of the previous stack file are kept")
	return cmd
}

func runPortainerPush(ctx context.Context, pf *portainerFlags, opts *portainerPushOptions, a *app) (*report.Report, error) {
	id, err := stackID(opts.Stack)
	if err != nil {
		return nil, err
	}
	d, err := compose.LoadFile(opts.File)
	if err != nil {
		return nil, err
	}
	c, err := pf.client()
	if err != nil {
		return nil, err
	}
	s, err := c.Stack(ctx, id)
	if err != nil {
		return nil, err
	}
	current, err := c.StackFile(ctx, id)
	if err != nil {
		return nil, err
	}
	name := portainer.Name(s)
	data := portainerPushData{Stack: id, File: opts.File, Changed: current != string(d.Src),
		Diff: textdiff.Unified("a/"+name, "b/"+name, []byte(current), d.Src)}
	if data.Changed && opts.Write {
		backup, err := c.Push(ctx, s, current, string(d.Src), portainer.PushOptions{DetachGit: opts.DetachGit, StateDir: opts.StateDir, Pull: opts.Pull, Clock: a.clock})
		if err != nil {
			return nil, err
		}
		data.Written, data.Backup = true, backup
	}
	r := report.New("portainer push", nil, data)
	r.Text = func(w io.Writer, _ report.Options) error {
		io.WriteString(w, data.Diff)
		switch {
		case !data.Changed:
			fmt.Fprintf(a.stderr, "ctsec: stack %d already holds %s\n", id, term.Line(opts.File))
		case data.Written:
			fmt.Fprintf(a.stderr, "ctsec: updated stack %d (%s); previous file backed up in %s\n", id, s.Label(), term.Line(data.Backup))
		default:
			fmt.Fprintf(a.stderr, "ctsec: dry run: stack %d not changed; add --write to update it\n", id)
		}
		return nil
	}
	return &r, nil
}

type portainerTemplatesOptions struct {
	Files    []string
	StackDir string
}

type portainerTemplatesData struct {
	Files []string `json:"files"`
}

func newPortainerTemplatesCmd(a *app, runF runFunc[portainerTemplatesOptions]) *cobra.Command {
	if runF == nil {
		runF = runPortainerTemplates
	}
	opts := &portainerTemplatesOptions{}
	cmd := &cobra.Command{
		Use:   "templates FILE...",
		Short: "Audit Portainer App Templates files (v2/v3 JSON), offline",
		Long: `Audit Portainer App Templates: container templates for privileged mode, engine
sockets and sensitive host binds, host network, published database ports and unpinned
images. Stack templates point to compose files in a repository: with --stack-dir (a
checkout of that repository) their compose files are audited too.`,
		Example: `  ctsec portainer templates templates.json --stack-dir ./templates-repo`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().StringVar(&opts.StackDir, "stack-dir", "", "`DIR` holding the templates repository, to audit stack templates' compose files")
	return withRules(audit(cmd), "compose audit")
}

func runPortainerTemplates(_ context.Context, opts *portainerTemplatesOptions, _ *app) (*report.Report, error) {
	tuneGC()
	var findings []report.Finding
	for _, f := range opts.Files {
		src, err := portainer.ReadTemplates(f)
		if err != nil {
			return nil, err
		}
		fs, err := portainer.AuditTemplates(f, src, opts.StackDir)
		if err != nil {
			return nil, err
		}
		findings = append(findings, fs...)
	}
	r := report.New("portainer templates", findings, portainerTemplatesData{Files: opts.Files})
	r.Rules = compose.AuditRules()
	return &r, nil
}
