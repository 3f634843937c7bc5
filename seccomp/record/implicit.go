package record

// Implicit is a syscall a recorded profile allows without it having been
// observed, and why.
type Implicit struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

const (
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

// containerFilterAllowed adds what runc itself forbids to notify.
var containerFilterAllowed = append(append([]Implicit(nil), filterAllowed...), Implicit{"write", reasonWrite})

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
