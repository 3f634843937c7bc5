package record

// Implicit is a syscall a recorded profile allows without it having been
// observed, and why.
type Implicit struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

const (
	reasonGoRuntime = "allowed unobserved by the container recording filter: runc init's Go runtime may make it before the agent has the listener, and notifying it could deadlock runc; runc needs it in every profile"
	reasonExit      = "allowed unobserved by the recording filter so the program can always end, even if the recorder is gone"
	reasonSigreturn = "allowed unobserved by the recording filter: a signal return answered with ENOSYS by a stopped recorder would corrupt the program"
	reasonWrite     = "allowed unobserved by the recording filter: runc refuses NOTIFY on write, which it needs to hand the listener to its parent"
	reasonRestart   = "issued by the kernel to restart a call a signal interrupted; whether it happens depends on timing"
	reasonVDSO      = "served by the vDSO on this host without entering the kernel (invisible to seccomp and strace); a real syscall on hosts whose clock source lacks vDSO support"
)

// filterAllowed are the syscalls a process recording filter lets through
// without notification. Everything else is notified, so everything else the
// program does is seen.
var filterAllowed = []Implicit{
	{"exit", reasonExit},
	{"exit_group", reasonExit},
	{"rt_sigreturn", reasonSigreturn},
	{"sigreturn", reasonSigreturn},
}

// containerFilterAllowed adds what runc itself forbids to notify, and what
// runc init's Go runtime may do on any thread between loading the filter and
// handing its listener to the agent: a notified call there waits for an
// agent that has no listener yet, and runc init deadlocks (runc says so in
// syncParentSeccomp). runc needs all of them in any profile anyway, so
// allowing them unobserved loses nothing from the recorded profile.
var containerFilterAllowed = append(append([]Implicit(nil), filterAllowed...),
	Implicit{"write", reasonWrite},
	Implicit{"futex", reasonGoRuntime},
	Implicit{"nanosleep", reasonGoRuntime},
	Implicit{"sched_yield", reasonGoRuntime},
	Implicit{"mmap", reasonGoRuntime},
	Implicit{"munmap", reasonGoRuntime},
	Implicit{"madvise", reasonGoRuntime},
	Implicit{"tgkill", reasonGoRuntime},
	Implicit{"getpid", reasonGoRuntime},
	Implicit{"gettid", reasonGoRuntime},
	Implicit{"rt_sigprocmask", reasonGoRuntime},
	Implicit{"sigaltstack", reasonGoRuntime},
	Implicit{"clone", reasonGoRuntime},
	Implicit{"epoll_pwait", reasonGoRuntime},
)

// alwaysAllowed are added to every recorded profile although the filter
// notifies them: whether a run makes them depends on timing or on the host's
// clock source, not on the program.
var alwaysAllowed = []Implicit{
	{"restart_syscall", reasonRestart},
	{"clock_gettime", reasonVDSO},
	{"clock_getres", reasonVDSO},
	{"gettimeofday", reasonVDSO},
	{"time", reasonVDSO},
	{"getcpu", reasonVDSO},
}

// implicitFor is the full implicit set of a recording source.
func implicitFor(source string) []Implicit {
	base := filterAllowed
	if source == SourceContainer {
		base = containerFilterAllowed
	}
	return append(append([]Implicit(nil), base...), alwaysAllowed...)
}
