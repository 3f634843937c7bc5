package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/seccomp/record"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// The recording shim is dispatched before cobra, from init: it must run on
// the main thread (so the exec comes from the thread group leader) and
// before anything else starts, and test binaries re-executing themselves as
// the shim reach it the same way.
func init() {
	if len(os.Args) > 1 && os.Args[1] == record.ShimCommand {
		runtime.LockOSThread()
		err := record.Shim(shimArgs(os.Args[2:]))
		fmt.Fprintf(os.Stderr, "ctsec: %v\n", err)
		os.Exit(127)
	}
}

func shimArgs(args []string) []string {
	if len(args) > 0 && args[0] == "--" {
		return args[1:]
	}
	return args
}

// newRecordShimCmd documents the hidden shim in the command tree; init runs it.
func newRecordShimCmd() *cobra.Command {
	return &cobra.Command{
		Use:    record.ShimCommand + " -- CMD [ARGS...]",
		Short:  "Internal: load the recording filter and exec CMD (run by profile record)",
		Hidden: true,
		RunE: func(_ *cobra.Command, args []string) error {
			return usageError(errors.New(record.ShimCommand + " is run by ctsec profile record only"))
		},
	}
}

type recordFlags struct {
	output, observations, base string
	force                      bool
	grace                      time.Duration
	listen, recordingProfile   string
	metadata                   string
	once                       bool
}

type profileRecordOptions struct {
	recordFlags
	Command []string // process mode: the command to record
	// set lists the flags given, for the mode checks
	set func(name string) bool
}

func newProfileRecordCmd(a *app, runF runFunc[profileRecordOptions]) *cobra.Command {
	if runF == nil {
		runF = runProfileRecord
	}
	opts := &profileRecordOptions{}
	f := &opts.recordFlags
	cmd := &cobra.Command{
		Use:   "record -o FILE [--base runtime] -- CMD [ARGS...]\n  ctsec profile record --listen SOCKET -o FILE",
		Short: "Record the syscalls a command or container makes into an allow-list seccomp profile",
		Long: `record learns which syscalls a service really makes, losslessly, with seccomp
user notification: every syscall stops in the kernel until ctsec has noted it
and answered "continue". No eBPF, kernel headers or ptrace are needed, and
denied or failing calls are seen too. Needs root (or no_new_privs, set for
non-root users), Linux 5.9+ and libseccomp 2.5+.

Process mode runs CMD, and every process it starts, under the recorder until
all of them have exited. Ctrl-C ends the recording cleanly: the command gets
--grace to exit, is then killed, and the profile is still written.

Container mode (--listen) serves runc's seccomp-agent protocol on SOCKET and
writes a recording profile (--recording-profile) whose listenerPath is SOCKET.
Start containers with it (docker run --security-opt seccomp=FILE on Docker
23.0 or later, or in an OCI config for runc); each container is recorded by
id, and its profile is written when its last process exits. Containers still
running when the recorder stops fail every notified syscall with ENOSYS:
stop them first, then Ctrl-C.

Outputs: FILE, a Docker-format profile (default action ERRNO, the observed
syscalls allowed, clone3 answered with ENOSYS unless observed), and
FILE.syscalls.json, the observations (per architecture: count, first and last
seen; plus the syscalls allowed without being observed, with the reason).
--base runtime adds what runc itself needs after loading a filter, for a
profile recorded from a plain process that will run in a container.`,
		Example: `  # record a process and everything it starts
  ctsec profile record -o nginx.json --base runtime -- nginx -g 'daemon off;'

  # record containers: start the agent, then run containers with the recording profile
  ctsec profile record --listen /run/ctsec-record.sock -o /var/lib/ctsec/{id}.json
  docker run --security-opt seccomp=/var/lib/ctsec/recording.json myimage`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Command = args
			opts.set = cmd.Flags().Changed
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "", "profile to write (listen mode: per container, {id}/{metadata} placeholders, else -ID is added)")
	fl.StringVar(&f.observations, "observations", "", "observation file (default: FILE with .syscalls.json)")
	fl.StringVar(&f.base, "base", "none", "base set to add: runtime (what runc needs to start a container) or none")
	fl.BoolVar(&f.force, "force", false, "overwrite existing output files")
	fl.DurationVar(&f.grace, "grace", 10*time.Second, "how long an interrupted command gets to exit before it is killed")
	fl.StringVar(&f.listen, "listen", "", "record containers: serve runc's seccomp agent protocol on this unix socket")
	fl.StringVar(&f.recordingProfile, "recording-profile", "", "listen mode: where to write the profile containers run under while recorded (default: recording.json beside FILE)")
	fl.StringVar(&f.metadata, "metadata", "", "listen mode: listenerMetadata put in the recording profile and in each observation")
	fl.BoolVar(&f.once, "once", false, "listen mode: stop after the first container has finished")
	cmd.RegisterFlagCompletionFunc("base", cobra.FixedCompletions([]string{"runtime", "none"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runProfileRecord(ctx context.Context, opts *profileRecordOptions, a *app) (*report.Report, error) {
	f := opts.recordFlags
	args := opts.Command
	if f.output == "" {
		return nil, usageError(errors.New("-o FILE is required"))
	}
	if f.base == "none" {
		f.base = record.BaseNone
	}
	if f.base != record.BaseNone && f.base != record.BaseRuntime {
		return nil, usageError(fmt.Errorf("--base: want runtime or none, not %q", f.base))
	}
	if f.grace < 0 {
		return nil, usageError(fmt.Errorf("--grace %s: want a duration of zero or more", f.grace))
	}
	// A flag of the other mode would be ignored without a word; a user who
	// gave it expected it to matter.
	set := opts.set
	if set == nil {
		set = func(string) bool { return false }
	}
	if err := flagsOnlyFor(set, f.listen != "", "--listen", "once", "metadata", "recording-profile"); err != nil {
		return nil, err
	}
	if err := flagsOnlyFor(set, f.listen == "", "a command (process mode)", "observations", "grace"); err != nil {
		return nil, err
	}
	if f.listen != "" {
		if len(args) > 0 {
			return nil, usageError(errors.New("--listen records containers: give no command"))
		}
		return runRecordAgent(ctx, a, f)
	}
	if len(args) == 0 {
		return nil, usageError(errors.New("no command to record: ctsec profile record -o FILE -- CMD [ARGS...]"))
	}
	return runRecordProcess(ctx, a, f, args)
}

// quiet is a report whose text view prints nothing: the command said what
// it did on stderr, and stdout belongs to what it ran.
func quiet(r report.Report) *report.Report {
	r.Text = func(io.Writer, report.Options) error { return nil }
	return &r
}

// recordSummary is the JSON output of a recording.
type recordSummary struct {
	Profile      string            `json:"profile"`
	Observations string            `json:"observations"`
	Syscalls     int               `json:"syscalls"`
	Arches       []string          `json:"arches"`
	Command      []string          `json:"command,omitempty"`
	Container    *record.Container `json:"container,omitempty"`
	ExitCode     *int              `json:"exit_code,omitempty"`
	Signal       string            `json:"signal,omitempty"`
	Interrupted  bool              `json:"interrupted,omitempty"`
	Leftover     []int             `json:"leftover_pids,omitempty"`
}

func summarize(obs *record.Observation, profile, observations string) recordSummary {
	arches := map[string]bool{}
	for _, s := range obs.Syscalls {
		arches[s.Arch] = true
	}
	s := recordSummary{Profile: profile, Observations: observations, Syscalls: len(obs.Names()),
		Command: obs.Command, Container: obs.Container, Interrupted: obs.Interrupted}
	for a := range arches {
		s.Arches = append(s.Arches, a)
	}
	sort.Strings(s.Arches)
	return s
}

// flagsOnlyFor refuses flags that mean something only in one mode when
// that mode is not the one running.
func flagsOnlyFor(set func(string) bool, modeOn bool, mode string, names ...string) error {
	if modeOn {
		return nil
	}
	for _, n := range names {
		if set(n) {
			return usageError(fmt.Errorf("--%s works only with %s", n, mode))
		}
	}
	return nil
}

func runRecordProcess(ctx context.Context, a *app, f recordFlags, args []string) (*report.Report, error) {
	obsPath := f.observations
	if obsPath == "" {
		obsPath = record.ObservationPath(f.output)
	}
	if filepath.Clean(obsPath) == filepath.Clean(f.output) {
		return nil, usageError(fmt.Errorf("--observations %s is the profile -o names; give another file", obsPath))
	}
	if !f.force {
		for _, p := range []string{f.output, obsPath} {
			if _, err := os.Lstat(p); err == nil {
				return nil, usageError(fmt.Errorf("%s exists; choose another -o or pass --force", p))
			}
		}
	}
	if err := checkOutputDirs(f.output, obsPath); err != nil {
		return nil, err
	}
	// Resolve the command before anything starts, so a typo is one line
	// from ctsec and not an error from the shim followed by another.
	if _, err := exec.LookPath(args[0]); err != nil {
		return nil, fmt.Errorf("finding command %q: %w", args[0], errors.Unwrap(err))
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the ctsec binary to re-execute: %w", err)
	}
	res, err := record.Record(ctx, record.Options{
		Args: args, Shim: []string{exe, record.ShimCommand},
		Stdin: a.stdin, Stdout: a.stdout, Stderr: a.stderr,
		Grace: f.grace, ForwardInterrupt: !terminalDeliversInterrupt(),
		Clock: a.clock,
	})
	if err != nil {
		return nil, err
	}
	if err := record.Write(&res.Observation, record.ProfileOptions{Base: f.base}, f.output, obsPath); err != nil {
		rescue(a, &res.Observation)
		return nil, err
	}
	s := summarize(&res.Observation, f.output, obsPath)
	s.ExitCode, s.Signal, s.Leftover = &res.ExitCode, res.Signal, res.Leftover
	if a.jsonOutput() {
		return quiet(report.New("profile record", nil, s)), nil
	}
	status := fmt.Sprintf("exit %d", res.ExitCode)
	if res.Signal != "" {
		status = "killed by " + res.Signal
	}
	if s.Interrupted {
		status += ", interrupted"
	}
	fmt.Fprintf(a.stderr, "ctsec: recorded %d syscalls (%s) from %s (%s): profile %s, observations %s\n",
		s.Syscalls, strings.Join(s.Arches, ", "), filepath.Base(args[0]), status, f.output, obsPath)
	if len(res.Leftover) > 0 {
		fmt.Fprintf(a.stderr, "ctsec: processes %v started by the command are still running; without the recorder their syscalls fail with ENOSYS — stop them\n", res.Leftover)
	}
	return quiet(report.New("profile record", nil, s)), nil
}

func runRecordAgent(ctx context.Context, a *app, f recordFlags) (*report.Report, error) {
	sock, err := filepath.Abs(f.listen)
	if err != nil {
		return nil, usageError(fmt.Errorf("--listen: %w", err))
	}
	recPath := f.recordingProfile
	if recPath == "" {
		recPath = filepath.Join(filepath.Dir(f.output), "recording.json")
	}
	if err := checkOutputDirs(f.output, recPath); err != nil {
		return nil, err
	}
	prof, err := record.RecordingProfile(sock, f.metadata)
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(prof, "", "  ")
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	if old, err := os.ReadFile(recPath); err == nil && string(old) != string(data) && !f.force {
		return nil, usageError(fmt.Errorf("%s exists and is not this recording profile; choose --recording-profile or pass --force", recPath))
	}
	ln, err := record.Listen(sock)
	if err != nil {
		return nil, err
	}
	if err := record.WriteJSON(recPath, prof); err != nil {
		ln.Close()
		return nil, fmt.Errorf("writing recording profile %q: %w", recPath, err)
	}
	fmt.Fprintf(a.stderr, "ctsec: recording profile %s (listenerPath %s); start containers with it, e.g.\n"+
		"  docker run --security-opt seccomp=%s IMAGE    (Docker 23.0 or later)\n"+
		"ctsec: waiting for containers; Ctrl-C stops\n", recPath, sock, recPath)
	var done []recordSummary
	var writeErr error
	agent := &record.Agent{
		Once:  f.once,
		Clock: a.clock,
		Log:   prefixWriter{a},
		Done: func(obs *record.Observation) {
			path := record.ContainerPath(f.output, obs.Container)
			profile, observations := path, record.ObservationPath(path)
			if !f.force {
				profile, observations = record.FreePaths(path)
			}
			if err := record.Write(obs, record.ProfileOptions{Base: f.base}, profile, observations); err != nil {
				fmt.Fprintf(a.stderr, "ctsec: container %s: %v\n", obs.Container.ID, err)
				rescue(a, obs)
				writeErr = err
				return
			}
			s := summarize(obs, profile, observations)
			done = append(done, s)
			fmt.Fprintf(a.stderr, "ctsec: container %s: %d syscalls: profile %s, observations %s\n",
				obs.Container.ID, s.Syscalls, profile, observations)
		},
	}
	err = agent.Serve(ctx, ln)
	os.Remove(sock)
	if err != nil {
		return nil, err
	}
	return quiet(report.New("profile record", nil, listenSummary{recPath, done})), writeErr
}

// listenSummary is the JSON data of a container recording session.
type listenSummary struct {
	RecordingProfile string          `json:"recording_profile"`
	Containers       []recordSummary `json:"containers"`
}

// rescue prints a recording that could not be saved to stderr: a long
// recording is not repeated easily.
func rescue(a *app, obs *record.Observation) {
	fmt.Fprintln(a.stderr, "ctsec: the observations that could not be saved follow:")
	report.WriteJSON(a.stderr, obs)
}

// checkOutputDirs fails before recording, not after, when an output could
// not be written: a recording that cannot be saved is lost.
func checkOutputDirs(paths ...string) error {
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return usageError(fmt.Errorf("%s is a directory; -o names the profile file to write", p))
		}
		dir := filepath.Dir(p)
		fi, err := os.Stat(dir)
		if err != nil {
			return usageError(fmt.Errorf("output directory for %s: %w", p, err))
		}
		if !fi.IsDir() {
			return usageError(fmt.Errorf("output directory for %s: %s is not a directory", p, dir))
		}
		if err := unix.Access(dir, unix.W_OK); err != nil {
			return usageError(fmt.Errorf("output directory %s is not writable: %w", dir, err))
		}
	}
	return nil
}

// prefixWriter turns agent log lines into ctsec's stderr lines.
type prefixWriter struct{ a *app }

func (w prefixWriter) Write(p []byte) (int, error) {
	fmt.Fprintf(w.a.stderr, "ctsec: %s", p)
	return len(p), nil
}

// terminalDeliversInterrupt reports whether Ctrl-C on our terminal already
// reaches the command: stdin is a terminal whose foreground process group is
// ours (the command inherits it). Then forwarding SIGINT would send it twice.
func terminalDeliversInterrupt() bool {
	pgrp, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}
