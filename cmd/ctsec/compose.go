package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/ctsec/ctsec/compose"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
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
		Short: "Audit and harden Docker Compose files",
		Long: `Audit Docker Compose files and harden them as a reviewed, byte-preserving diff.

audit reports findings (privileged, the Docker socket, host namespaces, capabilities,
no-new-privileges, unconfined profiles, limits, root, writable root, exposed database
ports, unpinned images, healthchecks, literal secrets) with file:line.

harden prints a unified diff of the edits it would make and changes nothing unless
--write or -o is given. Edits are insertions into the original text: comments, blank
lines, anchors, merge keys, ${VAR} and CRLF stay as they are, and the result is loaded
again with compose-go to prove only the intended fields changed.`,
	}
	cmd.AddCommand(audit(newComposeAuditCmd(a)), newComposeHardenCmd(a), newComposeRollbackCmd(a))
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

func newComposeAuditCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "audit FILE...",
		Short: "Report security findings in compose files",
		Example: `  ctsec compose audit compose.yaml
  ctsec compose audit --format sarif --fail-on medium stacks/*.yml > compose.sarif`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tuneGC()
			var findings []report.Finding
			for _, f := range args {
				d, err := compose.LoadFile(f)
				if err != nil {
					return err
				}
				findings = append(findings, compose.Audit(d)...)
			}
			return a.emit(report.New("compose audit", findings, nil))
		},
	}
}

type composeHardenFlags struct {
	genProfiles bool
	write       bool
	out         string
	policy      string
	profiles    string
	only        []string
	swarm       bool
	stateDir    string
}

func newComposeHardenCmd(a *app) *cobra.Command {
	var fl composeHardenFlags
	cmd := &cobra.Command{
		Use:   "harden FILE",
		Short: "Show (and with --write apply) hardening edits to a compose file",
		Long: `Harden a compose file. By default prints a unified diff and changes nothing.

Per service: cap_drop [ALL] with cap_add from ctsec's capability knowledge base (the
reason is a comment in the diff), no-new-privileges, seccomp=/apparmor= when
--profiles DIR has <service>.json / <service>.apparmor, pids_limit and mem_limit, and
under --policy strict read_only with tmpfs for /tmp, /run and the image's writable paths.
What the file asks for (privileged, host network, unconfined, cap_add) is never removed:
it stays and is reported. Swarm stacks (deploy keys only swarm uses, or --swarm) get
their limits under deploy.resources.limits and a warning that swarm ignores security_opt.

--write replaces FILE atomically after backing it up under --state-dir; -o writes the
result elsewhere. A second run changes nothing.

Harden rules for --only: ` + strings.Join(trimPrefix(compose.HardenRules), ", "),
		Example: `  ctsec compose harden compose.yaml
  ctsec compose harden --policy strict --profiles ./profiles compose.yaml
  ctsec compose harden --only cap-drop-all,no-new-privileges --write compose.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tuneGC()
			opts, err := fl.options(cmd)
			if err != nil {
				return usageError(err)
			}
			if fl.write && fl.out != "" {
				return usageError(fmt.Errorf("--write and -o exclude each other"))
			}
			d, err := compose.LoadFile(args[0])
			if err != nil {
				return err
			}
			var generated map[string][]byte
			if fl.genProfiles {
				if fl.profiles == "" {
					return usageError(fmt.Errorf("--gen-profiles needs --profiles DIR to write the profiles into"))
				}
				if generated, err = genComposeProfiles(d, fl.profiles); err != nil {
					return err
				}
				opts.Pending = pendingSet(generated)
			}
			res, err := compose.Harden(d, opts)
			if err != nil {
				return err
			}
			return a.finishHarden(d, res, fl, generated)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&fl.write, "write", false, "replace FILE with the hardened version (atomic, backed up under --state-dir)")
	f.StringVarP(&fl.out, "output", "o", "", "write the hardened file to `OUT` instead of printing a diff")
	f.BoolVar(&fl.genProfiles, "gen-profiles", false, "generate a seccomp profile (as 'ctsec profile gen SERVICE --base default') for services without one in --profiles DIR; written with --write/-o")
	fl.register(f, "treat as a swarm stack (default: detected from deploy keys); --swarm=false forces compose")
	return cmd
}

// register adds the policy flags compose harden and portainer harden share.
func (fl *composeHardenFlags) register(f *pflag.FlagSet, swarmHelp string) {
	f.StringVar(&fl.policy, "policy", "baseline", "baseline, or strict (adds read_only and tmpfs)")
	f.StringVar(&fl.profiles, "profiles", "", "`DIR` with per-service seccomp (<service>.json) and AppArmor (<service>.apparmor) profiles")
	f.StringSliceVar(&fl.only, "only", nil, "apply only these harden `RULES` (comma-separated)")
	f.BoolVar(&fl.swarm, "swarm", false, swarmHelp)
	f.StringVar(&fl.stateDir, "state-dir", safefile.DefaultStateDir, "where backups are kept")
}

func trimPrefix(rules []string) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = strings.TrimPrefix(r, "compose/")
	}
	return out
}

func (fl composeHardenFlags) options(cmd *cobra.Command) (compose.Options, error) {
	o := compose.Options{Policy: compose.Policy(fl.policy), ProfilesDir: fl.profiles}
	if o.Policy != compose.Baseline && o.Policy != compose.Strict {
		return o, fmt.Errorf("--policy: want baseline or strict, not %q", fl.policy)
	}
	for _, r := range fl.only {
		id, err := compose.NormalizeRule(r)
		if err != nil {
			return o, fmt.Errorf("--only: %w", err)
		}
		o.Only = append(o.Only, id)
	}
	if cmd.Flags().Changed("swarm") {
		sw := fl.swarm
		o.Swarm = &sw
	}
	if fl.profiles != "" {
		if st, err := os.Stat(fl.profiles); err != nil || !st.IsDir() {
			return o, fmt.Errorf("--profiles %s: not a directory", fl.profiles)
		}
	}
	return o, nil
}

// hardenData is the JSON shape of a harden run.
type hardenData struct {
	File    string           `json:"file"`
	Changed bool             `json:"changed"`
	Swarm   bool             `json:"swarm"`
	Changes []compose.Change `json:"changes"`
	Diff    string           `json:"diff"`
	Written string           `json:"written,omitempty"`
	Backup  string           `json:"backup,omitempty"`
	// Profiles are the seccomp profiles --gen-profiles made (written, or
	// to be written with --write/-o).
	Profiles []string `json:"profiles,omitempty"`
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

// printWarnings shows what harden left as it was, on stderr beside the diff.
func (a *app) printWarnings(ws []report.Finding) {
	for _, w := range ws {
		fmt.Fprintf(a.stderr, "ctsec: warning: %s: %s\n", w.Where(), w.Message)
	}
}

func (a *app) finishHarden(d *compose.Document, res *compose.Result, fl composeHardenFlags, generated map[string][]byte) error {
	data := newHardenData(d.Name, res)
	target := fl.out
	if fl.write {
		target = d.Name
	}
	for p := range generated {
		data.Profiles = append(data.Profiles, p)
	}
	sort.Strings(data.Profiles)
	if target != "" && len(generated) > 0 {
		// Profiles first: the compose file must never refer to a missing one.
		if _, err := writeGenerated(generated); err != nil {
			return err
		}
	}
	if target != "" && (res.Changed() || fl.out != "") {
		id, err := writeWithBackup(a.store(fl.stateDir), "compose harden", target, res.Output)
		if err != nil {
			return err
		}
		data.Written, data.Backup = target, id
	}
	if a.jsonOutput() {
		return a.emit(report.New("compose harden", res.Warnings, data))
	}
	a.printWarnings(res.Warnings)
	for _, p := range data.Profiles {
		if target != "" {
			fmt.Fprintf(a.stderr, "ctsec: wrote seccomp profile %s\n", p)
		} else {
			fmt.Fprintf(a.stderr, "ctsec: would write seccomp profile %s (with --write or -o)\n", p)
		}
	}
	switch {
	case !res.Changed():
		fmt.Fprintf(a.stderr, "ctsec: %s: nothing to change\n", d.Name)
	case data.Written != "":
		fmt.Fprintf(a.stderr, "ctsec: wrote %s (%d changes; undo with: ctsec compose rollback --state-dir %s %s)\n", data.Written, len(res.Changes), fl.stateDir, data.Backup)
	default:
		fmt.Fprint(a.stdout, data.Diff)
	}
	return nil
}

// writeWithBackup replaces path atomically after saving what was there.
func writeWithBackup(store *safefile.Store, command, path string, data []byte) (string, error) {
	ch, err := store.NewChange(command)
	if err != nil {
		return "", err
	}
	if err := ch.Save(path); err != nil {
		return "", err
	}
	perm := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		perm = st.Mode().Perm()
	}
	if err := safefile.WriteFile(path, data, perm); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return ch.ID(), nil
}
