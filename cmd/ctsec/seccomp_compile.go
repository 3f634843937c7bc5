package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/spf13/cobra"
)

type seccompCompileOptions struct {
	Profile string
	Target  targetFlags
	Output  string // where to write the raw BPF program
	PFC     bool   // libseccomp's pseudo-filter code instead of a summary
}

type compileResult struct {
	Profile      string         `json:"profile"`
	Arches       []string       `json:"arches"`
	Instructions int            `json:"instructions"`
	Optimize     int            `json:"optimize"`
	PerArch      map[string]int `json:"per_arch"`
	Dropped      []string       `json:"dropped,omitempty"`
	Output       string         `json:"output,omitempty"`
	Bytes        int            `json:"bytes,omitempty"`
	PFC          string         `json:"pfc,omitempty"`
}

func newSeccompCompileCmd(a *app, runF runFunc[seccompCompileOptions]) *cobra.Command {
	if runF == nil {
		runF = runSeccompCompile
	}
	opts := &seccompCompileOptions{}
	cmd := &cobra.Command{
		Use:   "compile PROFILE",
		Short: "Compile a profile to BPF with libseccomp as runc does and count its instructions",
		Long: `compile applies archMap and includes/excludes for the target (--arch, --caps,
--kernel), builds the filter with libseccomp as runc does (rules equal to the
default skipped, unknown names dropped, binary tree above 32 rules) and
reports the instruction count, for the combined filter and for each
architecture alone. runc then prepends a short stub that answers syscalls
numbered above the profile's highest with ENOSYS (unless the default allows
or is already ENOSYS); that stub is not in this program or its count. -o
writes the raw BPF program (struct sock_filter array, host byte order)
atomically.`,
		Example: `  ctsec seccomp compile default
  ctsec seccomp compile --arch arm64 profile.json -o profile.arm64.bpf
  ctsec seccomp compile --pfc strict | less`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Profile = args[0]
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	opts.Target.add(cmd.Flags())
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "write the BPF program to this `FILE`")
	cmd.Flags().BoolVar(&opts.PFC, "pfc", false, "print libseccomp's readable pseudo-filter code instead")
	return cmd
}

func runSeccompCompile(_ context.Context, opts *seccompCompileOptions, _ *app) (*report.Report, error) {
	t, err := opts.Target.target()
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
	per, err := e.PerArch()
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", opts.Profile, err)
	}
	res := compileResult{Profile: opts.Profile, Arches: c.Arches, Instructions: c.Instructions, Optimize: c.Optimize, PerArch: per, Dropped: c.Dropped}
	if opts.Output != "" {
		if err := safefile.WriteFile(opts.Output, c.BPF, 0o644); err != nil {
			return nil, err
		}
		res.Output, res.Bytes = opts.Output, len(c.BPF)
	}
	r := report.New("seccomp compile", nil, res)
	r.Text = func(w io.Writer, o report.Options) error {
		var b strings.Builder
		fmt.Fprintf(&b, "%s: %d BPF instructions for %s (limit 4096, optimize %d)\n", res.Profile, res.Instructions, strings.Join(res.Arches, "+"), res.Optimize)
		for _, arch := range res.Arches {
			fmt.Fprintf(&b, "  %-10s %d alone\n", arch, res.PerArch[arch])
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
