//go:build !lean

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/ctsec/ctsec/compose"
	"github.com/ctsec/ctsec/compose/trial"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newComposeCmd(a *app) *cobra.Command {
	// compose-go warns through logrus (e.g. "version is obsolete"); ctsec
	// reports what matters as findings instead.
	logrus.SetOutput(io.Discard)
	cmd := &cobra.Command{
		Use:   "compose",
		Short: composeShort,
		Long: `Audit Docker Compose files and harden them as a reviewed, byte-preserving diff.

audit reports findings (privileged, the Docker socket, host namespaces, capabilities,
no-new-privileges, unconfined profiles, limits, root, writable root, exposed database
ports, unpinned images, healthchecks, literal secrets) with file:line.

harden prints a unified diff of the edits it would make and changes nothing unless
--write or -o is given. Edits are insertions into the original text: comments, blank
lines, anchors, merge keys, ${VAR} and CRLF stay as they are, and the result is loaded
again with compose-go to prove only the intended fields changed.`,
	}
	cmd.AddCommand(newComposeAuditCmd(a, nil), newComposeHardenCmd(a, nil), newComposeLearnCmd(a, nil), newComposeKBCmd(a, nil), newComposeRollbackCmd(a, nil))
	return cmd
}

// tuneGC trades memory for time in the short-lived compose commands:
// compose-go allocates heavily while loading, and at Go's default GOGC=100 a
// third of a large stack's load time goes to garbage collection. A GOGC set
// by the user wins. The soft memory limit keeps that trade for ordinary
// stacks but stops a file near the size bound from growing the heap to five
// times its live size (6 GB for an 8 MiB file); GOMEMLIMIT set by the user
// wins too.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(compose.GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(compose.MemoryLimit)
	}
}

type composeAuditOptions struct {
	Files []string
	Facts factFlags // the env files ${VAR} resolves through
}

type composeAuditData struct {
	Files []string `json:"files"`
}

func newComposeAuditCmd(a *app, runF runFunc[composeAuditOptions]) *cobra.Command {
	if runF == nil {
		runF = runComposeAudit
	}
	opts := &composeAuditOptions{}
	cmd := &cobra.Command{
		Use:   "audit FILE...",
		Short: "Report security findings in compose files",
		Long: `audit loads each compose file with compose-go (as docker compose does) and
reports the rules below for every service, each finding at the file:line of
the key it is about. It changes nothing. Exit 1 when a finding reaches
--fail-on (default high), 2 when a file does not load.

A mount or a port written with ${VAR} is judged by what it resolves to through
the .env beside the file (or --env-file) and the environment, as docker compose
will read it; one that has no value here is reported as "cannot tell".`,
		Example: `  ctsec compose audit compose.yaml
  ctsec compose audit --format sarif --fail-on medium stacks/*.yml > compose.sarif`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Facts.registerEnv(cmd.Flags())
	return withRules(audit(cmd), "compose audit")
}

func runComposeAudit(_ context.Context, opts *composeAuditOptions, a *app) (*report.Report, error) {
	tuneGC()
	var findings []report.Finding
	for _, f := range opts.Files {
		d, err := opts.Facts.load(a, f)
		if err != nil {
			return nil, err
		}
		findings = append(findings, compose.Audit(d)...)
	}
	r := report.New("compose audit", findings, composeAuditData{Files: opts.Files})
	r.Rules = compose.AuditRules()
	return &r, nil
}

// hardenFlags are the policy flags compose harden and portainer harden share.
type hardenFlags struct {
	Level       string
	ProfilesDir string
	Only        []string
	Swarm       bool
	SwarmSet    bool // --swarm given (true or false), not detected
	StateDir    string
}

func (fl *hardenFlags) register(a *app, f *pflag.FlagSet, swarmHelp string) {
	f.StringVar(&fl.Level, "level", "baseline", "baseline, or strict (adds read_only and tmpfs)")
	f.StringVar(&fl.ProfilesDir, "profiles-dir", "", "`DIR` with per-service seccomp (<service>.json) and AppArmor (<service>.apparmor) profiles")
	f.StringSliceVar(&fl.Only, "only", nil, "apply only these harden `RULES` (comma-separated)")
	f.BoolVar(&fl.Swarm, "swarm", false, swarmHelp)
	f.StringVar(&fl.StateDir, "state-dir", safefile.DefaultStateDir, "where backups are kept")
	// --policy is the host policy file everywhere else.
	a.deprecatedFlag(f, "policy", "", "level")
	a.deprecatedFlag(f, "profiles", "", "profiles-dir")
}

func trimPrefix(rules []string) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = strings.TrimPrefix(r, "compose/")
	}
	return out
}

func (fl hardenFlags) options() (compose.Options, error) {
	o := compose.Options{Policy: compose.Policy(fl.Level), ProfilesDir: fl.ProfilesDir}
	if o.Policy != compose.Baseline && o.Policy != compose.Strict {
		return o, usageError(fmt.Errorf("--level: want baseline or strict, not %q", fl.Level))
	}
	for _, r := range fl.Only {
		id, err := compose.NormalizeRule(r)
		if err != nil {
			return o, usageError(fmt.Errorf("--only: %w", err))
		}
		o.Only = append(o.Only, id)
	}
	if fl.SwarmSet {
		sw := fl.Swarm
		o.Swarm = &sw
	}
	if fl.ProfilesDir != "" {
		if st, err := os.Stat(fl.ProfilesDir); err != nil || !st.IsDir() {
			return o, usageError(fmt.Errorf("--profiles-dir %s: not a directory", fl.ProfilesDir))
		}
	}
	return o, nil
}

type composeHardenOptions struct {
	File        string
	Harden      hardenFlags
	Write       bool
	Output      string
	GenProfiles bool
	Facts       factFlags
	Verify      bool
}

func newComposeHardenCmd(a *app, runF runFunc[composeHardenOptions]) *cobra.Command {
	if runF == nil {
		runF = runComposeHarden
	}
	opts := &composeHardenOptions{}
	cmd := &cobra.Command{
		Use:   "harden FILE",
		Short: "Show (and with --write apply) hardening edits to a compose file",
		Long: `Harden a compose file. By default prints a unified diff and changes nothing.

Per service: cap_drop [ALL] with cap_add from ctsec's capability knowledge base (the
reason is a comment in the diff), no-new-privileges, seccomp=/apparmor= when
--profiles-dir DIR has <service>.json / <service>.apparmor, pids_limit and mem_limit,
and at --level strict read_only with tmpfs for /tmp, /run and the image's writable
paths. What the file asks for (privileged, host network, unconfined, cap_add) is never
removed: it stays and is reported. Swarm stacks (deploy keys only swarm uses, or
--swarm) get their limits under deploy.resources.limits and a warning that swarm
ignores security_opt.

What decides each edit, in order (its # ctsec: comment says which): the facts
ctsec compose learn wrote to FILE.facts.json (or --facts), what the images on the
engine say (--images: their user, volumes, heap, file capabilities, files shipped in
/tmp), the knowledge base (ctsec compose kb), the safe default. Without facts about
where a service writes, strict adds no read_only and says how to learn it; memory
limits are never below a heap the image or the file sets; no-new-privileges is left
out where it would disable file capabilities. ${VAR} values are judged through .env
(or --env-file) and the environment, as docker compose reads them.

--verify runs each hardened service as a trial on the engine (as ctsec compose learn
does, beside the stack) and keeps only edits under which it stays healthy: what
breaks it is backed off — read_only, then the limits, then no-new-privileges, then
the capabilities — and reported with the exit code and last log lines.

--write replaces FILE atomically after backing it up under --state-dir; -o writes the
result elsewhere. A second run changes nothing.

Harden rules for --only:
  ` + strings.Join(term.Wrap(strings.Join(trimPrefix(compose.HardenRules), ", "), 76), "\n  "),
		Example: `  ctsec compose harden compose.yaml
  ctsec compose harden --level strict --profiles-dir ./profiles compose.yaml
  ctsec compose harden --only cap-drop-all,no-new-privileges --write compose.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			opts.Harden.SwarmSet = cmd.Flags().Changed("swarm")
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Write, "write", false, "replace FILE with the hardened version (atomic, backed up under --state-dir)")
	f.StringVarP(&opts.Output, "output", "o", "", "write the hardened file to `FILE` instead of printing a diff")
	f.BoolVar(&opts.GenProfiles, "gen-profiles", false, "generate a seccomp profile (as 'ctsec profile gen SERVICE --base default') for services without one in --profiles-dir; written with --write/-o")
	f.StringVar(&opts.Facts.Facts, "facts", "", "`FILE` of facts from ctsec compose learn (default: FILE.facts.json when there is one; none to use none)")
	f.BoolVar(&opts.Facts.Images, "images", false, "read the facts the services' images give from the engine (user, volumes, heap, file capabilities, files in /tmp)")
	f.BoolVar(&opts.Verify, "verify", false, "run each hardened service as a trial on the engine and back off the edits that break it")
	opts.Facts.registerEnv(f)
	opts.Facts.registerEngine(f)
	opts.Facts.registerKB(f)
	opts.Harden.register(a, f, "treat as a swarm stack (default: detected from deploy keys); --swarm=false forces compose")
	return cmd
}

func runComposeHarden(ctx context.Context, opts *composeHardenOptions, a *app) (*report.Report, error) {
	tuneGC()
	o, err := opts.Harden.options()
	if err != nil {
		return nil, err
	}
	if opts.Write && opts.Output != "" {
		return nil, usageError(fmt.Errorf("--write and -o exclude each other"))
	}
	d, err := opts.Facts.load(a, opts.File)
	if err != nil {
		return nil, err
	}
	facts, factsFile, err := opts.Facts.facts(ctx, d)
	if err != nil {
		return nil, err
	}
	o.Facts = facts
	if o.KB, err = loadKB(opts.Facts.KB); err != nil {
		return nil, err
	}
	var generated map[string][]byte
	if opts.GenProfiles {
		if opts.Harden.ProfilesDir == "" {
			return nil, usageError(fmt.Errorf("--gen-profiles needs --profiles-dir DIR to write the profiles into"))
		}
		if generated, err = genComposeProfiles(d, opts.Harden.ProfilesDir); err != nil {
			return nil, err
		}
		o.Pending = pendingSet(generated)
	}
	var res *compose.Result
	var verified []trial.Outcome
	if opts.Verify {
		res, verified, err = verifyHarden(ctx, a, d, o, opts.Facts)
	} else {
		res, err = compose.Harden(d, o)
	}
	if err != nil {
		return nil, err
	}
	data := newHardenData(d.Name, res)
	data.Facts, data.Verified = factsFile, verified
	target := opts.Output
	if opts.Write {
		target = d.Name
	}
	for p := range generated {
		data.Profiles = append(data.Profiles, p)
	}
	sort.Strings(data.Profiles)
	if target != "" && len(generated) > 0 {
		// Profiles first: the compose file must never refer to a missing one.
		if _, err := writeGenerated(generated); err != nil {
			return nil, err
		}
	}
	if target != "" && (res.Changed() || opts.Output != "") {
		id, err := a.store(opts.Harden.StateDir).Replace(composeChange, target, res.Output, 0o644)
		if err != nil {
			return nil, err
		}
		data.Output, data.Written, data.Backup = target, true, id
	}
	r := report.New("compose harden", res.Warnings, data)
	r.Rules = compose.Rules
	undo := ""
	if data.Backup != "" {
		undo = a.nextCommand("compose rollback", data.Backup)
	}
	r.Text = func(w io.Writer, o report.Options) error {
		// stdout is the diff, for patch; what happened goes to stderr.
		writeWarnings(a.stderr, res.Warnings, o)
		writeVerified(a.stderr, verified, o)
		for _, p := range data.Profiles {
			if target != "" {
				fmt.Fprintf(a.stderr, "ctsec: wrote seccomp profile %s\n", p)
			} else {
				fmt.Fprintf(a.stderr, "ctsec: would write seccomp profile %s (with --write or -o)\n", p)
			}
		}
		switch {
		case !res.Changed():
			fmt.Fprintf(a.stderr, "ctsec: %s: nothing to change\n", term.Line(d.Name))
		case data.Written:
			fmt.Fprintf(a.stderr, "ctsec: wrote %s (%d changes); undo with: %s\n", term.Line(data.Output), len(res.Changes), undo)
		default:
			_, err := io.WriteString(w, data.Diff)
			return err
		}
		return nil
	}
	return &r, nil
}

// hardenData is the JSON shape of a harden run: what changes, the diff,
// and, when it was applied, where it went and the backup to undo it.
type hardenData struct {
	File    string           `json:"file"`
	Changed bool             `json:"changed"`
	Swarm   bool             `json:"swarm"`
	Changes []compose.Change `json:"changes"`
	Diff    string           `json:"diff"`
	Written bool             `json:"written"`
	Output  string           `json:"output,omitempty"` // the file (or stack) written
	Backup  string           `json:"backup,omitempty"`
	// Profiles are the seccomp profiles --gen-profiles made (written, or
	// to be written with --write/-o).
	Profiles []string `json:"profiles,omitempty"`
	// Facts is the facts file the edits were decided with.
	Facts string `json:"facts,omitempty"`
	// Verified is how each hardened service ran in the --verify trial.
	Verified []trial.Outcome `json:"verified,omitempty"`
}

func newHardenData(name string, res *compose.Result) hardenData {
	// git-style a/ b/ prefixes suit relative names (patch -p1); an absolute
	// name is given as it is, as diff -u does, rather than as "a//etc/…".
	oldName, newName := "a/"+filepath.ToSlash(name), "b/"+filepath.ToSlash(name)
	if filepath.IsAbs(name) {
		oldName, newName = name, name
	}
	data := hardenData{File: name, Changed: res.Changed(), Swarm: res.Swarm, Changes: res.Changes,
		Diff: res.Diff(oldName, newName)}
	if data.Changes == nil {
		data.Changes = []compose.Change{}
	}
	return data
}

// writeWarnings shows what harden left as it was, on stderr beside the
// diff, fitted to the width.
func writeWarnings(w io.Writer, ws []report.Finding, o report.Options) {
	for _, f := range ws {
		for i, l := range term.Wrap("ctsec: warning: "+term.Line(f.Where()+": "+f.Message), o.LineWidth()-4) {
			if i > 0 {
				l = "    " + l
			}
			fmt.Fprintln(w, l)
		}
	}
}
