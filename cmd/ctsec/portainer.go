package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/ctsec/ctsec/compose"
	"github.com/ctsec/ctsec/compose/portainer"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
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
		Short: "Audit and harden Portainer stacks through its API",
		Long: `Audit and harden Portainer stacks through the Portainer HTTP API.

The API key is read from --api-key-file or the PORTAINER_API_KEY environment
variable, never from the command line; it is sent only in the X-API-Key header
and never printed. TLS is verified (--ca adds a private CA).

harden shows the diff and changes nothing; --push updates the stack after backing
up its previous file and settings under --state-dir, sending the stack's own
environment variables back (Portainer replaces them on update). Git-backed stacks
are refused unless --detach-git: an API update silently detaches them from Git.
Swarm stacks are hardened as swarm (limits under deploy.resources).`,
		Example: `  export PORTAINER_API_KEY=$(cat /root/portainer.key)
  ctsec portainer stacks --url https://portainer:9443
  ctsec portainer harden --url https://portainer:9443 7
  ctsec portainer harden --url https://portainer:9443 7 --push`,
	}
	p := cmd.PersistentFlags()
	p.StringVar(&pf.url, "url", "", "Portainer base `URL`, e.g. https://portainer:9443 (or PORTAINER_URL)")
	p.StringVar(&pf.keyFile, "api-key-file", "", "`FILE` holding the API key (default: $"+portainerAPIKeyEnv+")")
	p.StringVar(&pf.ca, "ca", "", "PEM `FILE` of a private CA to trust")
	p.DurationVar(&pf.timeout, "timeout", 60*time.Second, "timeout of each API request")
	cmd.AddCommand(newPortainerStacksCmd(a, pf), newPortainerPullCmd(a, pf), audit(newPortainerAuditCmd(a, pf)),
		newPortainerHardenCmd(a, pf), newPortainerPushCmd(a, pf), audit(newPortainerTemplatesCmd(a)))
	return cmd
}

func stackID(s string) (int, error) {
	id, err := strconv.Atoi(s)
	if err != nil || id <= 0 {
		return 0, usageError(fmt.Errorf("stack id %q: want a positive number (see ctsec portainer stacks)", s))
	}
	return id, nil
}

func newPortainerStacksCmd(a *app, pf *portainerFlags) *cobra.Command {
	var endpoint int
	cmd := &cobra.Command{
		Use:   "stacks",
		Short: "List stacks (of one environment with --endpoint)",
		Long: `List the stacks Portainer manages: id, name, compose or swarm, environment
(endpoint) and whether the stack is deployed from Git (harden --push refuses those).`,
		Example: `  ctsec portainer stacks --url https://portainer:9443
  ctsec portainer stacks --url https://portainer:9443 --endpoint 2 --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := pf.client()
			if err != nil {
				return err
			}
			stacks, err := c.Stacks(cmd.Context(), endpoint)
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				rows := make([]map[string]any, 0, len(stacks))
				for _, s := range stacks {
					rows = append(rows, map[string]any{"id": s.ID, "name": s.Name, "type": s.TypeName(),
						"endpoint_id": s.EndpointID, "git": s.GitBacked(), "status": s.Status})
				}
				return a.emit(report.New("portainer stacks", nil, map[string]any{"stacks": rows}))
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tTYPE\tENDPOINT\tGIT")
			for _, s := range stacks {
				git := ""
				if s.GitBacked() {
					git = "yes"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", s.ID, s.Label(), s.TypeName(), s.EndpointID, git)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&endpoint, "endpoint", 0, "only stacks of this environment (endpoint) `ID`")
	return cmd
}

func newPortainerPullCmd(a *app, pf *portainerFlags) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "pull STACK_ID",
		Short: "Print (or save with -o) a stack's compose file",
		Example: `  ctsec portainer pull 7 --url https://portainer:9443 -o shop.yml
  ctsec compose audit shop.yml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := stackID(args[0])
			if err != nil {
				return err
			}
			c, err := pf.client()
			if err != nil {
				return err
			}
			content, err := c.StackFile(cmd.Context(), id)
			if err != nil {
				return err
			}
			if out == "" {
				_, err = fmt.Fprint(a.stdout, content)
				return err
			}
			return safefile.WriteFile(out, []byte(content), 0o600)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the file to `FILE`")
	return cmd
}

func newPortainerAuditCmd(a *app, pf *portainerFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "audit STACK_ID...",
		Short: "Audit stacks' compose files",
		Long: `Fetch each stack's compose file and report the same findings as ctsec compose
audit, with the stack named in each finding's file. Exit 1 at --fail-on.`,
		Example: `  ctsec portainer audit 7 8 --url https://portainer:9443
  ctsec portainer audit 7 --url https://portainer:9443 --format sarif --fail-on medium`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := pf.client()
			if err != nil {
				return err
			}
			var findings []report.Finding
			for _, arg := range args {
				id, err := stackID(arg)
				if err != nil {
					return err
				}
				_, d, err := c.Fetch(cmd.Context(), id)
				if err != nil {
					return err
				}
				findings = append(findings, compose.Audit(d)...)
			}
			return a.emit(report.New("portainer audit", findings, nil))
		},
	}
}

func newPortainerHardenCmd(a *app, pf *portainerFlags) *cobra.Command {
	var fl composeHardenFlags
	var push, detachGit, pull bool
	cmd := &cobra.Command{
		Use:   "harden STACK_ID",
		Short: "Show (and with --push apply) hardening edits to a stack",
		Long: `Fetch a stack's compose file, harden it as ctsec compose harden does and print
the unified diff. Nothing changes without --push; with it the previous file and
settings are backed up under --state-dir, then the stack is updated with its own
environment variables (restore with ctsec portainer push STACK_ID BACKUP --write).`,
		Example: `  ctsec portainer harden 7 --url https://portainer:9443
  ctsec portainer harden 7 --url https://portainer:9443 --policy strict --push`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := stackID(args[0])
			if err != nil {
				return err
			}
			opts, err := fl.options(cmd)
			if err != nil {
				return usageError(err)
			}
			c, err := pf.client()
			if err != nil {
				return err
			}
			plan, err := c.Harden(cmd.Context(), id, opts)
			if err != nil {
				return err
			}
			if push && plan.Stack.GitBacked() && !detachGit {
				return fmt.Errorf("stack %d (%s): %w", id, plan.Stack.Name, portainer.ErrGitStack)
			}
			return a.finishPortainerHarden(cmd.Context(), c, plan, push, portainer.PushOptions{DetachGit: detachGit, StateDir: fl.stateDir, Pull: pull, Clock: a.clock})
		},
	}
	f := cmd.Flags()
	fl.register(f, "treat as a swarm stack (Portainer swarm stacks always are)")
	f.BoolVar(&push, "push", false, "update the stack in Portainer (redeploys it)")
	f.BoolVar(&detachGit, "detach-git", false, "allow updating a Git-backed stack, which detaches it from Git")
	f.BoolVar(&pull, "pull-image", false, "ask Portainer to pull images when redeploying")
	return cmd
}

func (a *app) finishPortainerHarden(ctx context.Context, c *portainer.Client, plan *portainer.Plan, push bool, po portainer.PushOptions) error {
	res := plan.Result
	data := newHardenData(portainer.Name(plan.Stack), res)
	if push && res.Changed() {
		backup, err := c.Push(ctx, plan.Stack, plan.Original, string(res.Output), po)
		if err != nil {
			return err
		}
		data.Written, data.Backup = fmt.Sprintf("stack %d", plan.Stack.ID), backup
	}
	if a.jsonOutput() {
		return a.emit(report.New("portainer harden", res.Warnings, data))
	}
	a.printWarnings(res.Warnings)
	switch {
	case !res.Changed():
		fmt.Fprintf(a.stderr, "ctsec: stack %d (%s): nothing to change\n", plan.Stack.ID, plan.Stack.Label())
	case data.Written != "":
		fmt.Fprint(a.stdout, data.Diff)
		fmt.Fprintf(a.stderr, "ctsec: updated stack %d (%s); previous file and settings backed up in %s\n", plan.Stack.ID, plan.Stack.Name, data.Backup)
	default:
		fmt.Fprint(a.stdout, data.Diff)
		if plan.Stack.GitBacked() {
			fmt.Fprintf(a.stderr, "ctsec: stack %d is deployed from Git: change the file in its repository (--push would detach it unless --detach-git)\n", plan.Stack.ID)
		}
	}
	return nil
}

func newPortainerPushCmd(a *app, pf *portainerFlags) *cobra.Command {
	var write, detachGit, pull bool
	var stateDir string
	cmd := &cobra.Command{
		Use:   "push STACK_ID FILE",
		Short: "Replace a stack's file with FILE (diff first; --write to update), e.g. to restore a backup",
		Example: `  ctsec portainer push 7 /var/lib/ctsec/portainer/<host>/stack-7-<time>/stack.yml --url https://portainer:9443
  ctsec portainer push 7 shop.yml --url https://portainer:9443 --write`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := stackID(args[0])
			if err != nil {
				return err
			}
			d, err := compose.LoadFile(args[1])
			if err != nil {
				return err
			}
			c, err := pf.client()
			if err != nil {
				return err
			}
			s, err := c.Stack(cmd.Context(), id)
			if err != nil {
				return err
			}
			current, err := c.StackFile(cmd.Context(), id)
			if err != nil {
				return err
			}
			name := portainer.Name(s)
			fmt.Fprint(a.stdout, textdiff.Unified("a/"+name, "b/"+name, []byte(current), d.Src))
			if current == string(d.Src) {
				fmt.Fprintf(a.stderr, "ctsec: stack %d already holds %s\n", id, args[1])
				return nil
			}
			if !write {
				return nil
			}
			backup, err := c.Push(cmd.Context(), s, current, string(d.Src), portainer.PushOptions{DetachGit: detachGit, StateDir: stateDir, Pull: pull, Clock: a.clock})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "ctsec: updated stack %d (%s); previous file backed up in %s\n", id, s.Label(), backup)
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&write, "write", false, "update the stack (redeploys it)")
	f.BoolVar(&detachGit, "detach-git", false, "allow updating a Git-backed stack, which detaches it from Git")
	f.BoolVar(&pull, "pull-image", false, "ask Portainer to pull images when redeploying")
	f.StringVar(&stateDir, "state-dir", safefile.DefaultStateDir, "where backups of the previous stack file are kept")
	return cmd
}

func newPortainerTemplatesCmd(a *app) *cobra.Command {
	var stackDir string
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
			tuneGC()
			var findings []report.Finding
			for _, f := range args {
				src, err := portainer.ReadTemplates(f)
				if err != nil {
					return err
				}
				fs, err := portainer.AuditTemplates(f, src, stackDir)
				if err != nil {
					return err
				}
				findings = append(findings, fs...)
			}
			return a.emit(report.New("portainer templates", findings, nil))
		},
	}
	cmd.Flags().StringVar(&stackDir, "stack-dir", "", "`DIR` holding the templates repository, to audit stack templates' compose files")
	return cmd
}
