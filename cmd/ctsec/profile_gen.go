package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/ctsec/ctsec/seccomp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// profileGenerator makes one file of `ctsec profile gen` and says how a
// compose service refers to it. The seccomp half is here; the AppArmor half
// adds its generator to profileGenerators beside it.
type profileGenerator interface {
	// addFlags registers the generator's own flags.
	addFlags(fs *pflag.FlagSet)
	// generate returns the file (name relative to the output directory) and
	// its content, validated; it writes nothing.
	generate(name string) (generatedFile, error)
}

// generatedFile is one generator's output: File is its name in the
// directory; Path, Written and Unchanged say what gen did with it.
type generatedFile struct {
	Kind      string   `json:"kind"`
	File      string   `json:"file"`
	Path      string   `json:"path"`
	Summary   string   `json:"summary"`
	Notes     []string `json:"notes,omitempty"`
	Written   bool     `json:"written"`
	Unchanged bool     `json:"unchanged,omitempty"`
	// securityOpt renders the compose security_opt entry for the file's
	// final (absolute) path.
	securityOpt func(path string) string
	data        []byte
	// refresh, when set, carries state over from the file being replaced
	// (the AppArmor complain-since date), so a rerun is idempotent.
	refresh func(old []byte) []byte
}

func profileGenerators(a *app) []profileGenerator {
	return []profileGenerator{&seccompGenerator{}, &apparmorGenerator{clock: a.clock}}
}

// genResult is what `profile gen` reports.
type genResult struct {
	Dir         string          `json:"dir"`
	Files       []generatedFile `json:"files"`
	SecurityOpt []string        `json:"security_opt"`
	Backup      string          `json:"backup,omitempty"` // change id of replaced files
}

type profileGenOptions struct {
	Name     string
	Dir      string
	StateDir string
	Force    bool
	gens     []profileGenerator
}

var serviceNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`) })

func newProfileGenCmd(a *app, runF runFunc[profileGenOptions]) *cobra.Command {
	if runF == nil {
		runF = runProfileGen
	}
	opts := &profileGenOptions{gens: profileGenerators(a)}
	cmd := &cobra.Command{
		Use:   "gen NAME",
		Short: "Write profiles for a service and print its compose security_opt lines",
		Long: `gen writes the profiles for one service into --dir DIR and prints the compose
security_opt entries that use them.

Seccomp: DIR/NAME.seccomp.json, derived from a built-in base (--base default,
strict or runtime), with --allow names added, --deny names taken away and the
syscalls of --syscalls-from added. --syscalls-from reads a plain list (one name
per line, # comments), a seccomp profile (the names it allows) or the
observation JSON of 'ctsec profile record'. Every name must be a real syscall;
the result is validated (schema, names, compiled size) before it is written.

AppArmor: DIR/NAME.apparmor, the profile ctsec-NAME from the docker-default
template or, with --spec FILE, from a YAML service spec (template,
read-only/writable/executable/denied paths, capabilities, network protocols,
extra rules; see 'ctsec apparmor gen --help'). It is in complain mode unless
--enforce (or the spec's mode: enforce), and is validated with
apparmor_parser -QK before it is written. Load it with
'ctsec apparmor load --write DIR/NAME.apparmor'.

Files are written atomically. An existing file with different content is not
replaced without --force; with it, the file is first backed up under
--state-dir (a change with a manifest; the change id is printed).`,
		Example: `  ctsec profile gen web --base strict --dir ./profiles
  ctsec profile gen api --base runtime --syscalls-from observed.json
  ctsec profile gen worker --deny chmod,fchmodat,fchmodat2 --allow ptrace
  ctsec profile gen web --spec web.yaml --enforce --dir ./profiles`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", ".", "`DIR`ectory to write the profiles into")
	f.BoolVar(&opts.Force, "force", false, "replace existing files with different content (after a backup)")
	f.StringVar(&opts.StateDir, "state-dir", safefile.DefaultStateDir, "where backups of replaced files are kept")
	for _, g := range opts.gens {
		g.addFlags(f)
	}
	// -o used to name the directory; -o/--output is a file everywhere else.
	a.deprecatedFlag(f, "output", "o", "dir")
	a.deprecatedFlag(f, "apparmor-spec", "", "spec")
	return cmd
}

func runProfileGen(_ context.Context, opts *profileGenOptions, a *app) (*report.Report, error) {
	name := opts.Name
	if !serviceNameRE().MatchString(name) {
		return nil, usageError(fmt.Errorf("service name %q: use letters, digits, '.', '_' and '-' (it becomes a file name)", name))
	}
	abs, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	// A missing output directory is made, but only once every check has
	// passed, so a refused gen leaves nothing behind.
	mkdir := false
	if st, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
		mkdir = true
	} else if err != nil {
		return nil, usageError(fmt.Errorf("--dir %s: %w", opts.Dir, errors.Unwrap(err)))
	} else if !st.IsDir() {
		return nil, usageError(fmt.Errorf("--dir %s: not a directory", opts.Dir))
	}
	res := genResult{Dir: abs}
	for _, g := range opts.gens {
		f, err := g.generate(name)
		if err != nil {
			return nil, err
		}
		f.Path = filepath.Join(abs, f.File)
		res.Files = append(res.Files, f)
	}
	// Check every target before writing any, so a refusal leaves nothing half-done.
	for i, f := range res.Files {
		old, err := os.ReadFile(f.Path)
		if err == nil && f.refresh != nil {
			res.Files[i].data = f.refresh(old)
			f = res.Files[i]
		}
		if err == nil && !bytes.Equal(old, f.data) && !opts.Force {
			return nil, failed("%s exists with different content; use --force to replace it (it is backed up first)", f.Path)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading %s: %w", f.Path, err)
		}
	}
	if mkdir {
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("creating --dir %s: %w", opts.Dir, err)
		}
	}
	var change *safefile.Change
	for i := range res.Files {
		f := &res.Files[i]
		res.SecurityOpt = append(res.SecurityOpt, f.securityOpt(f.Path))
		old, err := os.ReadFile(f.Path)
		switch {
		case err == nil && bytes.Equal(old, f.data):
			f.Unchanged = true
			continue
		case err == nil:
			if change == nil {
				if change, err = a.store(opts.StateDir).NewChange("profile gen " + name); err != nil {
					return nil, fmt.Errorf("backing up before replacing %s: %w", f.Path, err)
				}
				res.Backup = change.ID()
			}
			if err := change.Replace(f.Path, f.data, 0o644); err != nil {
				return nil, err
			}
		default:
			if err := safefile.WriteFile(f.Path, f.data, 0o644); err != nil {
				return nil, err
			}
		}
		f.Written = true
	}
	if change != nil {
		if err := change.Finish(); err != nil {
			return nil, err
		}
	}
	r := report.New("profile gen", nil, res)
	r.Text = func(w io.Writer, o report.Options) error {
		var b strings.Builder
		for _, f := range res.Files {
			fmt.Fprintf(&b, "%s: %s\n", f.Path, f.Summary)
			for _, n := range f.Notes {
				fmt.Fprintf(&b, "  note: %s\n", term.Line(n))
			}
		}
		if res.Backup != "" {
			fmt.Fprintf(&b, "replaced files are backed up as change %s in %s\n", res.Backup, opts.StateDir)
		}
		fmt.Fprintln(&b, "\nsecurity_opt:")
		io.WriteString(w, term.Fit(b.String(), o.LineWidth()))
		// The entries are for pasting into a compose file: never wrapped.
		for _, s := range res.SecurityOpt {
			fmt.Fprintf(w, "  - %s\n", s)
		}
		return nil
	}
	return &r, nil
}

// seccompGenerator is the seccomp half of profile gen.
type seccompGenerator struct {
	base         string
	allow, deny  []string
	syscallsFrom []string
}

func (g *seccompGenerator) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.base, "base", "default", "seccomp base profile: default, strict or runtime")
	fs.StringSliceVar(&g.allow, "allow", nil, "syscalls to allow in addition to the base (comma-separated or repeated)")
	fs.StringSliceVar(&g.deny, "deny", nil, "syscalls to deny although the base allows them")
	fs.StringArrayVar(&g.syscallsFrom, "syscalls-from", nil, "file of syscalls to allow: a list, a seccomp profile, or a 'profile record' observation")
}

func (g *seccompGenerator) generate(name string) (generatedFile, error) {
	allow := append([]string(nil), g.allow...)
	res := seccomp.NewResolver()
	for _, path := range g.syscallsFrom {
		names, err := seccomp.ReadSyscalls(path, res)
		if err != nil {
			return generatedFile{}, fmt.Errorf("--syscalls-from: %w", err)
		}
		allow = append(allow, names...)
	}
	p, err := seccomp.Generate(seccomp.GenOptions{Base: g.base, Allow: allow, Deny: g.deny}, res)
	if err != nil {
		return generatedFile{}, usageError(fmt.Errorf("generating seccomp profile: %w", err))
	}
	data, err := p.Marshal()
	if err != nil {
		return generatedFile{}, err
	}
	file := name + ".seccomp.json"
	// Validate what will be written, exactly as a user would.
	q, schema, err := seccomp.Parse(file, data)
	if err != nil {
		return generatedFile{}, fmt.Errorf("generated profile does not load: %w", err)
	}
	v := seccomp.Validate(q, schema, seccomp.DefaultTarget(), res)
	if v.Errors() > 0 {
		for _, f := range v.Findings {
			if f.Severity >= report.High {
				return generatedFile{}, failed("generated profile is invalid: %s: %s", f.Where(), f.Message)
			}
		}
	}
	var notes []string
	for _, f := range seccomp.Lint(q, seccomp.DefaultTarget()) {
		if f.Severity >= report.High {
			notes = append(notes, fmt.Sprintf("%s: %s", f.Rule, f.Message))
		}
	}
	allowed := 0
	for _, r := range q.Syscalls {
		if r.Action == seccomp.ActAllow {
			allowed += len(r.AllNames())
		}
	}
	summary := fmt.Sprintf("seccomp profile from %q, %d allowing names in %d rules, default %s", g.base, allowed, len(q.Syscalls), q.DefaultAction)
	if v.Compiled != nil {
		summary += fmt.Sprintf(", %d BPF instructions for %s", v.Compiled.Instructions, strings.Join(v.Compiled.Arches, "+"))
	}
	return generatedFile{
		Kind: "seccomp", File: file, Summary: summary, Notes: notes, data: data,
		securityOpt: func(path string) string { return "seccomp=" + path },
	}, nil
}
