package main

import (
	"fmt"
	"strings"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/seccomp"
	"github.com/spf13/cobra"
)

type compileResult struct {
	Profile string `json:"profile"`
	*seccomp.Compiled
	Output string `json:"output,omitempty"`
}

func newSeccompCompileCmd(a *app) *cobra.Command {
	var tf targetFlags
	var out string
	var pfc bool
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
			t, err := tf.target(cmd.Context())
			if err != nil {
				return err
			}
			p, err := loadValid(args[0])
			if err != nil {
				return err
			}
			e := p.Resolve(t)
			if pfc {
				text, err := e.PFC()
				if err != nil {
					return fmt.Errorf("compiling %s: %w", args[0], err)
				}
				_, err = a.stdout.Write(text)
				return err
			}
			c, err := e.Compile()
			if err != nil {
				return fmt.Errorf("compiling %s: %w", args[0], err)
			}
			res := compileResult{Profile: args[0], Compiled: c}
			if out != "" {
				if err := safefile.WriteFile(out, c.BPF, 0o644); err != nil {
					return err
				}
				res.Output = out
			}
			if a.format == report.Text {
				fmt.Fprintf(a.stdout, "%s: %d BPF instructions for %s as %s loads it (limit %d)\n", args[0], c.Instructions, strings.Join(c.Arches, "+"), c.Runc, seccomp.MaxInstructions)
				fmt.Fprintf(a.stdout, "  libseccomp filter %d (optimize %d), runc ENOSYS stub %d\n", c.Filter, c.Optimize, c.Stub)
				for _, arch := range c.Arches {
					fmt.Fprintf(a.stdout, "  %-10s %d reachable\n", arch, c.PerArch[arch])
				}
				if len(c.Dropped) > 0 {
					fmt.Fprintf(a.stdout, "dropped (libseccomp cannot resolve): %s\n", strings.Join(c.Dropped, ", "))
				}
				if out != "" {
					fmt.Fprintf(a.stdout, "wrote %s (%d bytes)\n", out, len(c.BPF))
				}
				return nil
			}
			return a.emit(report.New("seccomp compile", nil, res))
		},
	}
	tf.add(cmd.Flags())
	tf.addRunc(cmd.Flags())
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the BPF program to this file")
	cmd.Flags().BoolVar(&pfc, "pfc", false, "print libseccomp's readable pseudo-filter code instead")
	return cmd
}
