package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/ctsec/ctsec/seccomp"
	"github.com/spf13/cobra"
)

type seccompCompileOptions struct {
	Profile string
	Target  targetFlags
	Output  string // where to write the raw BPF program
	PFC     bool   // libseccomp's pseudo-filter code instead of a summary
}

type compileResult struct {
	Profile string `json:"profile"`
	*seccomp.Compiled
	Output string `json:"output,omitempty"`
	Bytes  int    `json:"bytes,omitempty"`
	PFC    string `json:"pfc,omitempty"`
}

func newSeccompCompileCmd(a *app, runF runFunc[seccompCompileOptions]) *cobra.Command {
	if runF == nil {
		runF = runSeccompCompile
	}
	opts := &seccompCompileOptions{}
	cmd := &cobra.Command{
		Use:   "compile PROFILE",
		Short: "Compile a profile to the BPF program runc loads and count its instructions",
		Long: `compile applies archMap and includes/excludes for the target (--arch, --caps,
--kernel) and builds the program the kernel will hold, as the runc that loads
it does (--runc; default: ask the runc on PATH, and assume 1.2 or later when
there is none): libseccomp's filter with rules equal to the default skipped and
unknown names dropped, built as a binary tree above 32 names by runc 1.2 and
later but as a linear list by runc 1.1, behind runc's stub that answers
syscalls numbered above the profile's highest with ENOSYS (unless the default
allows). It reports the instruction count (stub and filter), and for each
architecture how many of them its syscalls can run through, all from one
build. -o writes the raw program (struct sock_filter array, host byte order)
atomically: byte for byte what PTRACE_SECCOMP_GET_FILTER reads back from a
container started by that runc.`,
		Example: `  ctsec seccomp compile default
  ctsec seccomp compile --runc 1.1.5 default
  ctsec seccomp compile --arch arm64 profile.json -o profile.arm64.bpf
  ctsec seccomp compile --pfc strict | less`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Profile = args[0]
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Target.add(cmd.Flags())
	opts.Target.addRunc(cmd.Flags())
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "write the BPF program to this `FILE`")
	cmd.Flags().BoolVar(&opts.PFC, "pfc", false, "print libseccomp's readable pseudo-filter code instead")
	return cmd
}

func runSeccompCompile(ctx context.Context, opts *seccompCompileOptions, _ *app) (*report.Report, error) {
	t, err := opts.Target.target(ctx)
	if err != nil {
		return nil, err
	}
	p, err := loadValid(opts.Profile)
	if err != nil {
		return nil, err
	}
	e := p.Resolve(t)
	if opts.PFC {
		text, err := e.PFC()
		if err != nil {
			return nil, fmt.Errorf("compiling %s: %w", opts.Profile, err)
		}
		r := report.New("seccomp compile", nil, compileResult{Profile: opts.Profile, PFC: string(text)})
		r.Text = func(w io.Writer, _ report.Options) error {
			_, err := w.Write(text)
			return err
		}
		return &r, nil
	}
	c, err := e.Compile()
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", opts.Profile, err)
	}
	res := compileResult{Profile: opts.Profile, Compiled: c}
	if opts.Output != "" {
		if err := safefile.WriteFile(opts.Output, c.BPF, 0o644); err != nil {
			return nil, err
		}
		res.Output, res.Bytes = opts.Output, len(c.BPF)
	}
	r := report.New("seccomp compile", nil, res)
	r.Text = func(w io.Writer, o report.Options) error {
		var b strings.Builder
		fmt.Fprintf(&b, "%s: %d BPF instructions for %s as %s loads it (limit %d)\n", res.Profile, c.Instructions, strings.Join(c.Arches, "+"), c.Runc, seccomp.MaxInstructions)
		fmt.Fprintf(&b, "  libseccomp filter %d (optimize %d), runc ENOSYS stub %d\n", c.Filter, c.Optimize, c.Stub)
		for _, arch := range c.Arches {
			fmt.Fprintf(&b, "  %-10s %d reachable\n", arch, c.PerArch[arch])
		}
		if len(res.Dropped) > 0 {
			fmt.Fprintf(&b, "dropped (libseccomp cannot resolve): %s\n", strings.Join(res.Dropped, ", "))
		}
		if res.Output != "" {
			fmt.Fprintf(&b, "wrote %s (%d bytes)\n", res.Output, res.Bytes)
		}
		_, err := io.WriteString(w, term.Fit(b.String(), o.LineWidth()))
		return err
	}
	return &r, nil
}
