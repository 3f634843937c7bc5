package main

import (
	"context"
	"fmt"
	"syscall"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/seccomp"
	"github.com/spf13/cobra"
)

type seccompExecOptions struct {
	Profile string
	Caps    []string
	Command []string
}

func newSeccompExecCmd(a *app, runF runFunc[seccompExecOptions]) *cobra.Command {
	if runF == nil {
		runF = runSeccompExec
	}
	opts := &seccompExecOptions{}
	cmd := &cobra.Command{
		Use:   "exec --profile PROFILE [--caps CAPS] -- CMD [ARGS...]",
		Short: "Run a command under a profile, loaded the way runc loads it",
		Long: `exec tries a profile without a container: it compiles the profile for this host
(includes/excludes judged for --caps, default Docker's 14, and this kernel),
starts a fresh ctsec process that sets no_new_privs, loads the filter on the
thread that will exec (as runc does: no TSYNC, execve ends the other threads)
and execs CMD at once. A syscall the profile denies fails with the profile's
errno; KILL actions end the command with SIGSYS.

It tests CMD alone. In a container runc itself still runs under the filter
after loading it (its sync pipe, exec fifo and Go runtime), so a container
profile also needs the runtime set: profile gen --base runtime or
profile record --base runtime. runc's ENOSYS stub for syscalls newer than
the profile is not added (see compile).

--caps only decides which conditional rules apply; the command keeps the
capabilities it is started with. The exit code is CMD's (128+signal when it
was killed).`,
		Example: `  ctsec seccomp exec --profile strict -- /bin/busybox unshare -m true
  ctsec seccomp exec --profile myservice.seccomp.json -- ./server --port 8080`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Profile == "" {
				return usageError(fmt.Errorf("--profile is required"))
			}
			opts.Command = args
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().StringVar(&opts.Profile, "profile", "", "the profile file (or built-in name) to apply")
	cmd.Flags().StringSliceVar(&opts.Caps, "caps", nil, "capabilities that decide includes/excludes (default Docker's 14)")
	cmd.Flags().SetInterspersed(false)
	// The command's own output is the output.
	return withFormats(cmd, report.Text)
}

// runSeccompExec runs the command under the profile; its stdin, stdout and
// stderr are the command's, and its exit code is passed through.
func runSeccompExec(ctx context.Context, opts *seccompExecOptions, a *app) (*report.Report, error) {
	tf := targetFlags{Arch: seccomp.NativeArch(), Caps: opts.Caps, Runc: "auto"}
	t, err := tf.target(ctx)
	if err != nil {
		return nil, err
	}
	p, err := loadValid(opts.Profile)
	if err != nil {
		return nil, err
	}
	c, err := p.Resolve(t).Compile()
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", opts.Profile, err)
	}
	res, err := seccomp.Exec(ctx, c, opts.Command, seccomp.ExecOptions{Stdin: a.stdin, Stdout: a.stdout, Stderr: a.stderr})
	if err != nil {
		return nil, err
	}
	name := opts.Command[0]
	switch {
	case res.Signal == syscall.SIGSYS:
		return nil, &exitErr{code: res.Code, err: fmt.Errorf("seccomp exec: %s killed by SIGSYS: the profile kills or traps a syscall it made", name)}
	case res.Signal != 0:
		// Not the filter's doing: a user's kill, a crash, an OOM kill.
		return nil, &exitErr{code: res.Code, err: fmt.Errorf("seccomp exec: %s killed by signal %v", name, res.Signal)}
	case res.Code != 0:
		return nil, &exitErr{code: res.Code}
	}
	return nil, nil
}
