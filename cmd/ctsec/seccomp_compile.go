package main

import (
	"fmt"
	"strings"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/spf13/cobra"
)

type compileResult struct {
	Profile      string         `json:"profile"`
	Arches       []string       `json:"arches"`
	Instructions int            `json:"instructions"`
	Optimize     int            `json:"optimize"`
	PerArch      map[string]int `json:"per_arch"`
	Dropped      []string       `json:"dropped,omitempty"`
	Output       string         `json:"output,omitempty"`
}

func newSeccompCompileCmd(a *app) *cobra.Command {
	var tf targetFlags
	var out string
	var pfc bool
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
			t, err := tf.target()
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
			per, err := e.PerArch()
			if err != nil {
				return fmt.Errorf("compiling %s: %w", args[0], err)
			}
			res := compileResult{Profile: args[0], Arches: c.Arches, Instructions: c.Instructions, Optimize: c.Optimize, PerArch: per, Dropped: c.Dropped}
			if out != "" {
				if err := safefile.WriteFile(out, c.BPF, 0o644); err != nil {
					return err
				}
				res.Output = out
			}
			if a.format == report.Text {
				fmt.Fprintf(a.stdout, "%s: %d BPF instructions for %s (limit 4096, optimize %d)\n", args[0], c.Instructions, strings.Join(c.Arches, "+"), c.Optimize)
				for _, arch := range c.Arches {
					fmt.Fprintf(a.stdout, "  %-10s %d alone\n", arch, per[arch])
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
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the BPF program to this file")
	cmd.Flags().BoolVar(&pfc, "pfc", false, "print libseccomp's readable pseudo-filter code instead")
	return cmd
}
