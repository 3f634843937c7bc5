package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/ctsec/ctsec/profiles"
	"github.com/ctsec/ctsec/seccomp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newSeccompCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "seccomp",
		Short: "Validate, lint, compile, diff and try seccomp profiles",
		Long: `Docker and runc accept broken seccomp profiles silently: bogus actions, unknown
architectures, misspelled keys and unknown syscall names all load, and runc
then drops the names it cannot resolve. These commands are the strict checker:
every problem is reported with file:line:column.

A PROFILE argument is a file, or the name of a built-in profile (default,
strict, runtime) when no such file exists.`,
	}
	cmd.AddCommand(
		newSeccompValidateCmd(a, nil),
		newSeccompLintCmd(a, nil),
		newSeccompDiffCmd(a, nil),
		newSeccompCompileCmd(a, nil),
		newSeccompExecCmd(a, nil),
		newSeccompShowCmd(a, nil),
	)
	return cmd
}

// targetFlags are the three facts moby's includes/excludes are judged on,
// and the runc that loads the filter.
type targetFlags struct {
	Arch, Kernel, Runc string
	Caps               []string
}

func (t *targetFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&t.Arch, "arch", seccomp.NativeArch(), "judge and compile for a host of this architecture (amd64 covers x86_64+x86+x32 through archMap)")
	fs.StringSliceVar(&t.Caps, "caps", nil, "the container's capabilities (default Docker's 14; ALL for every one)")
	fs.StringVar(&t.Kernel, "kernel", "", "kernel version X.Y for minKernel conditions (default this host's)")
}

// addRunc registers --runc for the commands that build the program.
func (t *targetFlags) addRunc(fs *pflag.FlagSet) {
	fs.StringVar(&t.Runc, "runc", "auto", "count the program as this runc `RELEASE` loads it (1.1.5, 1.2...); auto asks the runc on PATH, and without one assumes 1.2 or later")
}

// target builds the target; with --runc it also settles which runc loads
// the filter (asking `runc --version` for auto).
func (t *targetFlags) target(ctx context.Context) (seccomp.Target, error) {
	tg := seccomp.DefaultTarget()
	switch t.Runc {
	case "":
	case "auto":
		r, err := seccomp.DetectRunc(ctx)
		if err != nil {
			var nf *execx.NotFoundError
			if !errors.As(err, &nf) {
				return tg, fmt.Errorf("--runc auto: %w (name the release with --runc)", err)
			}
			r = seccomp.LatestRunc
		}
		tg.Runc = r
	default:
		r, err := seccomp.ParseRuncVersion(t.Runc)
		if err != nil {
			return tg, usageError(fmt.Errorf("--runc: %w", err))
		}
		r.Source = "--runc"
		tg.Runc = r
	}
	arch, err := seccomp.ParseArch(t.Arch)
	if err != nil {
		return tg, usageError(fmt.Errorf("--arch: %w", err))
	}
	tg.Arch = arch
	if t.Caps != nil {
		if tg.Caps, err = seccomp.ParseCaps(t.Caps); err != nil {
			return tg, usageError(fmt.Errorf("--caps: %w", err))
		}
	}
	if t.Kernel != "" {
		if tg.Kernel, err = seccomp.ParseKernel(t.Kernel); err != nil {
			return tg, usageError(fmt.Errorf("--kernel: %w", err))
		}
	}
	return tg, nil
}

// loadProfile reads a profile file, or a built-in profile by name when no
// file of that name exists. Input that is not a profile is exit 2.
func loadProfile(arg string) (*seccomp.Profile, []report.Finding, error) {
	if _, err := os.Stat(arg); errors.Is(err, fs.ErrNotExist) && profiles.SeccompDoc(arg) != "" {
		data, err := profiles.Seccomp(arg)
		if err != nil {
			return nil, nil, err
		}
		return seccomp.Parse(arg, data)
	}
	return seccomp.Load(arg)
}

// batch is the profiles of one validate or lint run and the target they are
// judged for.
type batch struct {
	target   seccomp.Target
	profiles []loaded
	failures []report.Finding // critical seccomp/load findings
	loadErr  error            // raised (exit 2) after the report is printed
}

// loaded is one profile argument.
type loaded struct {
	p      *seccomp.Profile
	schema []report.Finding
}

// newBatch loads every argument. With one argument a load failure is the
// command's error (exit 2, one line). With several, the others are still
// checked: each failure becomes a critical seccomp/load finding and the
// error is raised after the report (see finish).
func newBatch(ctx context.Context, tf *targetFlags, args []string) (*batch, error) {
	t, err := tf.target(ctx)
	if err != nil {
		return nil, err
	}
	b := &batch{target: t}
	for _, arg := range args {
		p, schema, err := loadProfile(arg)
		if err == nil {
			b.profiles = append(b.profiles, loaded{p, schema})
			continue
		}
		if len(args) == 1 {
			return nil, err
		}
		f := report.Finding{Rule: seccomp.RuleLoad, Severity: report.Critical, Message: err.Error(), File: arg}
		var se *seccomp.SyntaxError
		if errors.As(err, &se) {
			f.Message, f.Line, f.Column = se.Msg, se.Pos.Line, se.Pos.Column
		}
		b.failures = append(b.failures, f)
		if b.loadErr == nil {
			b.loadErr = err
		}
	}
	if b.loadErr != nil {
		b.loadErr = fmt.Errorf("%d of %d profiles could not be loaded; first: %w", len(b.failures), len(args), b.loadErr)
	}
	return b, nil
}

// loadValid loads a profile for a command that must act on it (compile,
// exec, diff): schema errors stop it with the first one, as one line.
func loadValid(arg string) (*seccomp.Profile, error) {
	p, schema, err := loadProfile(arg)
	if err != nil {
		return nil, err
	}
	for _, f := range schema {
		if f.Severity >= report.High {
			return nil, fmt.Errorf("%s: %s (run ctsec seccomp validate %s)", f.Where(), f.Message, shellQuote(arg))
		}
	}
	return p, nil
}

type seccompValidateOptions struct {
	Profiles []string
	Target   targetFlags
}

// seccompValidateData is validate's result: per profile, the target it was
// judged for and the compiled filter.
type seccompValidateData struct {
	Profiles []*seccomp.Validation `json:"profiles"`
}

func newSeccompValidateCmd(a *app, runF runFunc[seccompValidateOptions]) *cobra.Command {
	if runF == nil {
		runF = runSeccompValidate
	}
	opts := &seccompValidateOptions{}
	cmd := &cobra.Command{
		Use:   "validate PROFILE...",
		Short: "Strictly check profiles: schema, syscall names per architecture, BPF size",
		Long: `validate loads each profile strictly (unknown keys, wrong types, bad actions,
operators, architectures and flags, name+names, architectures+archMap, argument
index above 5, malformed minKernel, errnoRet where it means nothing or is above
what libseccomp accepts, NOTIFY misuse), resolves every syscall name for the
architectures it reaches through libseccomp (unknown everywhere: error; missing
on some architectures or from an old libseccomp: warning), and compiles the
profile to BPF the way runc does for the target (--arch, --caps, --kernel) and
the runc release that loads it (--runc, default the one on PATH), reporting the
instruction count of the program the kernel holds against its 4096 limit.

Exit 1 when a profile has errors (or findings reach --fail-on), 2 when a file
is not a profile at all (unreadable, empty, broken JSON, wrong types); with
several files the others are still checked and the broken one is reported as
a critical seccomp/load finding before ctsec exits 2.`,
		Example: `  ctsec seccomp validate myservice.seccomp.json
  ctsec seccomp validate --arch arm64 --caps CAP_SYS_ADMIN profile.json
  ctsec seccomp validate --format sarif profiles/*.json > seccomp.sarif`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Profiles = args
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Target.add(cmd.Flags())
	opts.Target.addRunc(cmd.Flags())
	return withRules(audit(cmd), "seccomp validate")
}

func runSeccompValidate(ctx context.Context, opts *seccompValidateOptions, _ *app) (*report.Report, error) {
	b, err := newBatch(ctx, &opts.Target, opts.Profiles)
	if err != nil {
		return nil, err
	}
	res := seccomp.NewResolver()
	findings := b.failures
	data := seccompValidateData{Profiles: []*seccomp.Validation{}}
	errorsFound := false
	for _, l := range b.profiles {
		v := seccomp.Validate(l.p, l.schema, b.target, res)
		findings = append(findings, v.Findings...)
		data.Profiles = append(data.Profiles, v)
		errorsFound = errorsFound || v.Errors() > 0
	}
	r := report.New("seccomp validate", findings, data)
	r.Rules = seccomp.ValidateRules()
	switch {
	case b.loadErr != nil: // a load failure outranks findings
		return &r, b.loadErr
	case errorsFound: // a failed validation is exit 1 whatever --fail-on says
		return &r, errFindingsReached
	}
	return &r, nil
}

type seccompLintOptions struct {
	Profiles []string
	Target   targetFlags
}

func newSeccompLintCmd(a *app, runF runFunc[seccompLintOptions]) *cobra.Command {
	if runF == nil {
		runF = runSeccompLint
	}
	opts := &seccompLintOptions{}
	cmd := &cobra.Command{
		Use:   "lint PROFILE...",
		Short: "Review a profile's policy: dangerous syscalls, deny-lists, clone3, bypasses",
		Long: `lint reviews what a profile allows: a default that lets new syscalls through,
dangerous syscalls (and the capability Docker gates each on), ptrace before
Linux 4.8, clone3 answered with something other than ENOSYS, arguments on
clone3, socket filtered while socketcall is allowed, missing compat
architectures, rules with the default action, a recording profile. Schema
errors (see validate) are reported too; the rules are listed below.

Exit 1 when findings reach --fail-on (default high).`,
		Example: `  ctsec seccomp lint myservice.seccomp.json
  ctsec seccomp lint --fail-on medium --format json profile.json
  ctsec seccomp lint default`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Profiles = args
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Target.add(cmd.Flags())
	return withRules(audit(cmd), "seccomp lint")
}

func runSeccompLint(ctx context.Context, opts *seccompLintOptions, _ *app) (*report.Report, error) {
	b, err := newBatch(ctx, &opts.Target, opts.Profiles)
	if err != nil {
		return nil, err
	}
	findings := b.failures
	for _, l := range b.profiles {
		findings = append(findings, seccomp.CapFindings(l.schema)...)
		findings = append(findings, seccomp.Lint(l.p, b.target)...)
	}
	r := report.New("seccomp lint", findings, nil)
	r.Rules = seccomp.LintRules()
	if b.loadErr != nil {
		return &r, b.loadErr
	}
	return &r, nil
}

type seccompDiffOptions struct {
	A, B string
}

func newSeccompDiffCmd(a *app, runF runFunc[seccompDiffOptions]) *cobra.Command {
	if runF == nil {
		runF = runSeccompDiff
	}
	opts := &seccompDiffOptions{}
	return &cobra.Command{
		Use:   "diff A B",
		Short: "Show syscalls added, removed and changed between two profiles",
		Long: `diff compares two profiles rule by rule: the default action, architectures and
flags, then each syscall's treatment (action, errno, argument conditions and
includes/excludes). Syscalls only in B are "added", only in A "removed".
Text for people; --format json gives the report with the differences in data
(added, removed, changed …). A profile that does not validate (errors, not
warnings) is refused: what Docker would make of it is not what it says.`,
		Example: `  ctsec seccomp diff default strict
  ctsec seccomp diff old.json new.json --format json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.A, opts.B = args[0], args[1]
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
}

func runSeccompDiff(_ context.Context, opts *seccompDiffOptions, _ *app) (*report.Report, error) {
	// A profile with schema errors means something else to Docker than it
	// says (an ignored misspelt key, a bogus action), so a diff of it would
	// mislead: refuse it as compile and exec do.
	pa, err := loadValid(opts.A)
	if err != nil {
		return nil, err
	}
	pb, err := loadValid(opts.B)
	if err != nil {
		return nil, err
	}
	d := seccomp.Compare(pa, pb)
	r := report.New("seccomp diff", nil, d)
	r.Text = func(w io.Writer, o report.Options) error {
		var b strings.Builder
		if err := d.WriteText(&b); err != nil {
			return err
		}
		_, err := io.WriteString(w, term.Fit(b.String(), o.LineWidth()))
		return err
	}
	return &r, nil
}

type seccompShowOptions struct {
	Name string // empty: list the built-in profiles
}

// seccompBuiltin is one built-in profile in show's result.
type seccompBuiltin struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Profile     json.RawMessage `json:"profile,omitempty"`
}

type seccompShowData struct {
	Profiles []seccompBuiltin `json:"profiles"`
}

func newSeccompShowCmd(a *app, runF runFunc[seccompShowOptions]) *cobra.Command {
	if runF == nil {
		runF = runSeccompShow
	}
	opts := &seccompShowOptions{}
	return &cobra.Command{
		Use:   "show [default|strict|runtime]",
		Short: "Print a built-in profile",
		Long: `show prints a built-in seccomp profile as JSON, ready to save and edit:

  default  Docker's default profile, generated from github.com/moby/profiles/seccomp v0.2.3
  strict   the default minus the dangerous groups: every capability-gated rule except
           chroot, ptrace/process_vm_* and socketcall, name_to_handle_at; clone3 gets
           ENOSYS whatever the capabilities
  runtime  only what runc needs to start a container; a base for allow-lists

Without an argument it lists them. With a name, text output is the profile
itself, byte for byte; --format json is the report with the profile in
data.profiles[0].profile.`,
		Example:   "  ctsec seccomp show strict > strict.json\n  docker run --security-opt seccomp=strict.json …",
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: profiles.SeccompNames(),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = ""
			if len(args) == 1 {
				opts.Name = args[0]
			}
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
}

func runSeccompShow(_ context.Context, opts *seccompShowOptions, _ *app) (*report.Report, error) {
	if opts.Name == "" {
		var data seccompShowData
		for _, n := range profiles.SeccompNames() {
			data.Profiles = append(data.Profiles, seccompBuiltin{Name: n, Description: profiles.SeccompDoc(n)})
		}
		r := report.New("seccomp show", nil, data)
		r.Text = func(w io.Writer, o report.Options) error {
			t := term.NewTable(w, o.LineWidth())
			for _, p := range data.Profiles {
				t.Row(p.Name, p.Description)
			}
			return t.Flush()
		}
		return &r, nil
	}
	profile, err := profiles.Seccomp(opts.Name)
	if err != nil {
		return nil, usageError(err)
	}
	data := seccompShowData{Profiles: []seccompBuiltin{{Name: opts.Name, Description: profiles.SeccompDoc(opts.Name), Profile: profile}}}
	r := report.New("seccomp show", nil, data)
	r.Text = func(w io.Writer, _ report.Options) error {
		if _, err := w.Write(profile); err != nil {
			return err
		}
		if !strings.HasSuffix(string(profile), "\n") {
			_, err = io.WriteString(w, "\n")
		}
		return err
	}
	return &r, nil
}
