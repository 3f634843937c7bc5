// Package record learns which syscalls a program really makes, losslessly,
// with seccomp user notification: a filter answers every syscall with NOTIFY,
// the recorder notes it (per architecture, with counts and first/last seen)
// and lets it continue. It needs no eBPF, no kernel headers and no ptrace.
//
// Two sources feed the same recorder:
//
//   - a process: Record re-executes a shim (ctsec __record-shim) that
//     installs the notify filter and execs the command; the parent takes the
//     listener out of the shim with pidfd_getfd, so the shim makes no syscall
//     the recorder would have to let through unseen;
//   - containers: an Agent serves runc's seccomp-agent protocol on a unix
//     socket (the profile's listenerPath); runc sends the container's state
//     JSON with the listener fd over SCM_RIGHTS.
//
// From a recording it writes an allow-list profile in the Docker/moby format
// and an observation file ({"syscalls":[{name, arch, count, first_seen,
// last_seen}], ...}).
package record
