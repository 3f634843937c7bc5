package main

import (
	"fmt"
	"syscall"

	"github.com/ctsec/ctsec/seccomp"
	"github.com/spf13/cobra"
)

func newSeccompExecCmd(a *app) *cobra.Command {
	var profile string
	var caps []string
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
			if profile == "" {
				return usageError(fmt.Errorf("--profile is required"))
			}
			tf := targetFlags{arch: seccomp.NativeArch(), caps: caps, runc: "auto"}
			t, err := tf.target(cmd.Context())
			if err != nil {
				return err
			}
			p, err := loadValid(profile)
			if err != nil {
				return err
			}
			c, err := p.Resolve(t).Compile()
			if err != nil {
				return fmt.Errorf("compiling %s: %w", profile, err)
			}
			res, err := seccomp.Exec(cmd.Context(), c, args, seccomp.ExecOptions{Stdin: a.stdin, Stdout: a.stdout, Stderr: a.stderr})
			if err != nil {
				return err
			}
			if res.Signal == syscall.SIGSYS {
				return &exitErr{code: res.Code, err: fmt.Errorf("seccomp exec: %s killed by SIGSYS: the profile kills or traps a syscall it made", args[0])}
			}
			if res.Signal != 0 {
				// Not the filter's doing: a user's kill, a crash, an OOM kill.
				return &exitErr{code: res.Code, err: fmt.Errorf("seccomp exec: %s killed by signal %v", args[0], res.Signal)}
			}
			if res.Code != 0 {
				return &exitErr{code: res.Code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&profile, "profile", "", "the profile file (or built-in name) to apply")
	cmd.Flags().StringSliceVar(&caps, "caps", nil, "capabilities that decide includes/excludes (default Docker's 14)")
	cmd.Flags().SetInterspersed(false)
	return cmd
}
