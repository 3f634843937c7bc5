package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/report"
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
		audit(newSeccompValidateCmd(a)),
		audit(newSeccompLintCmd(a)),
		newSeccompDiffCmd(a),
		newSeccompCompileCmd(a),
		newSeccompExecCmd(a),
		newSeccompShowCmd(a),
	)
	return cmd
}

// targetFlags are the three facts moby's includes/excludes are judged on,
// and the runc that loads the filter.
type targetFlags struct {
	arch, kernel, runc string
	caps               []string
}

func (t *targetFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&t.arch, "arch", seccomp.NativeArch(), "judge and compile for a host of this architecture (amd64 covers x86_64+x86+x32 through archMap)")
	fs.StringSliceVar(&t.caps, "caps", nil, "the container's capabilities (default Docker's 14; ALL for every one)")
	fs.StringVar(&t.kernel, "kernel", "", "kernel version X.Y for minKernel conditions (default this host's)")
}

// addRunc registers --runc for the commands that build the program.
func (t *targetFlags) addRunc(fs *pflag.FlagSet) {
	fs.StringVar(&t.runc, "runc", "auto", "count the program as this runc release loads it (1.1.5, 1.2...); auto asks the runc on PATH, and without one assumes 1.2 or later")
}

// target builds the target; with --runc it also settles which runc loads
// the filter (asking `runc --version` for auto).
func (t *targetFlags) target(ctx context.Context) (seccomp.Target, error) {
	tg := seccomp.DefaultTarget()
	switch t.runc {
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
		r, err := seccomp.ParseRuncVersion(t.runc)
		if err != nil {
			return tg, usageError(fmt.Errorf("--runc: %w", err))
		}
		r.Source = "--runc"
		tg.Runc = r
	}
	arch, err := seccomp.ParseArch(t.arch)
	if err != nil {
		return tg, usageError(fmt.Errorf("--arch: %w", err))
	}
	tg.Arch = arch
	if t.caps != nil {
		if tg.Caps, err = seccomp.ParseCaps(t.caps); err != nil {
			return tg, usageError(fmt.Errorf("--caps: %w", err))
		}
	}
	if t.kernel != "" {
		if tg.Kernel, err = seccomp.ParseKernel(t.kernel); err != nil {
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
		f := report.Finding{Rule: "seccomp/load", Severity: report.Critical, Message: err.Error(), File: arg}
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

// finish turns the emitted report's outcome into the exit: a load failure
// outranks findings.
func (b *batch) finish(emitErr error) error {
	if b.loadErr != nil {
		return b.loadErr
	}
	return emitErr
}

// loadValid loads a profile for a command that must act on it (compile,
// exec): schema errors stop it with the first one, as one line.
func loadValid(arg string) (*seccomp.Profile, error) {
	p, schema, err := loadProfile(arg)
	if err != nil {
		return nil, err
	}
	for _, f := range schema {
		if f.Severity >= report.High {
			return nil, fmt.Errorf("%s: %s (run ctsec seccomp validate %s)", f.Where(), f.Message, arg)
		}
	}
	return p, nil
}

func newSeccompValidateCmd(a *app) *cobra.Command {
	var tf targetFlags
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
			b, err := newBatch(cmd.Context(), &tf, args)
			if err != nil {
				return err
			}
			res := seccomp.NewResolver()
			findings := b.failures
			data := []*seccomp.Validation{}
			errorsFound := false
			for _, l := range b.profiles {
				v := seccomp.Validate(l.p, l.schema, b.target, res)
				findings = append(findings, v.Findings...)
				data = append(data, v)
				errorsFound = errorsFound || v.Errors() > 0
			}
			err = a.emit(report.New("seccomp validate", findings, data))
			if err == nil && errorsFound {
				err = errFindingsReached // a failed validation is exit 1 whatever --fail-on says
			}
			return b.finish(err)
		},
	}
	tf.add(cmd.Flags())
	tf.addRunc(cmd.Flags())
	return cmd
}

func newSeccompLintCmd(a *app) *cobra.Command {
	var tf targetFlags
	cmd := &cobra.Command{
		Use:   "lint PROFILE...",
		Short: "Review a profile's policy: dangerous syscalls, deny-lists, clone3, bypasses",
		Long: `lint reviews what a profile allows, with rule ids:

  seccomp/default-allow        default ALLOW or LOG: a deny-list that lets new syscalls through
  seccomp/dangerous-syscall    a dangerous syscall allowed, with the capability Docker gates it on
  seccomp/ptrace-old-kernel    ptrace allowed without minKernel 4.8 (seccomp bypass before 4.8)
  seccomp/clone3-not-enosys    clone3 denied with something other than ENOSYS (breaks glibc 2.34+)
  seccomp/clone3-args          argument rules on clone3, which BPF cannot see
  seccomp/socketcall-bypass    socket filtered by argument while socketcall is allowed
  seccomp/missing-compat-arch  x86/x32 (or arm, s390) missing: 32-bit processes are killed
  seccomp/rule-no-effect       a rule with the default action (runc skips it)

Schema errors (see validate) are reported too. Exit 1 when findings reach
--fail-on (default high).`,
		Example: `  ctsec seccomp lint myservice.seccomp.json
  ctsec seccomp lint --fail-on medium --format json profile.json
  ctsec seccomp lint default`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := newBatch(cmd.Context(), &tf, args)
			if err != nil {
				return err
			}
			findings := b.failures
			for _, l := range b.profiles {
				findings = append(findings, seccomp.CapFindings(l.schema)...)
				findings = append(findings, seccomp.Lint(l.p, b.target)...)
			}
			return b.finish(a.emit(report.New("seccomp lint", findings, nil)))
		},
	}
	tf.add(cmd.Flags())
	return cmd
}

func newSeccompDiffCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "diff A B",
		Short: "Show syscalls added, removed and changed between two profiles",
		Long: `diff compares two profiles rule by rule: the default action, architectures and
flags, then each syscall's treatment (action, errno, argument conditions and
includes/excludes). Syscalls only in B are "added", only in A "removed".
Text for people; --format json gives {"findings":[],"data":{added,removed,changed…}}.
A profile that does not validate (errors, not warnings) is refused: what Docker
would make of it is not what it says.`,
		Example: `  ctsec seccomp diff default strict
  ctsec seccomp diff old.json new.json --format json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A profile with schema errors means something else to Docker
			// than it says (an ignored misspelt key, a bogus action), so a
			// diff of it would mislead: refuse it as compile and exec do.
			pa, err := loadValid(args[0])
			if err != nil {
				return err
			}
			pb, err := loadValid(args[1])
			if err != nil {
				return err
			}
			d := seccomp.Compare(pa, pb)
			if a.format == report.Text {
				return d.WriteText(a.stdout)
			}
			return a.emit(report.New("seccomp diff", nil, d))
		},
	}
}

func newSeccompShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show [default|strict|runtime]",
		Short: "Print a built-in profile",
		Long: `show prints a built-in seccomp profile as JSON, ready to save and edit:

  default  Docker's default profile, generated from github.com/moby/profiles/seccomp v0.2.3
  strict   the default minus the dangerous groups: every capability-gated rule except
           chroot, ptrace/process_vm_* and socketcall, name_to_handle_at; clone3 gets
           ENOSYS whatever the capabilities
  runtime  only what runc needs to start a container; a base for allow-lists

Without an argument it lists them (--format json: a report whose data is the
list). With a name it prints the profile itself, whatever --format says: the
profile is the output.`,
		Example:   "  ctsec seccomp show strict > strict.json\n  docker run --security-opt seccomp=strict.json …",
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: profiles.SeccompNames(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				if a.jsonOutput() {
					type builtin struct {
						Name        string `json:"name"`
						Description string `json:"description"`
					}
					var list []builtin
					for _, n := range profiles.SeccompNames() {
						list = append(list, builtin{n, profiles.SeccompDoc(n)})
					}
					return a.emit(report.New("seccomp show", nil, list))
				}
				for _, n := range profiles.SeccompNames() {
					fmt.Fprintf(a.stdout, "%-8s %s\n", n, profiles.SeccompDoc(n))
				}
				return nil
			}
			data, err := profiles.Seccomp(args[0])
			if err != nil {
				return usageError(err)
			}
			if _, err := a.stdout.Write(data); err != nil {
				return err
			}
			if !strings.HasSuffix(string(data), "\n") {
				fmt.Fprintln(a.stdout)
			}
			return nil
		},
	}
}
