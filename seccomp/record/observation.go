package record

import (
	"fmt"
	"sort"
	"time"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Sources of a recording.
const (
	SourceProcess   = "process"
	SourceContainer = "container"
)

// ObservationVersion is the version of the observation file format.
const ObservationVersion = 1

// Observation is what a recording saw; it is written as the observation
// file that `ctsec profile gen --syscalls-from` reads.
type Observation struct {
	Version     int        `json:"version"`
	Source      string     `json:"source"`
	Command     []string   `json:"command,omitempty"`
	Container   *Container `json:"container,omitempty"`
	Started     time.Time  `json:"started"`
	Ended       time.Time  `json:"ended"`
	Interrupted bool       `json:"interrupted,omitempty"`
	// Host says where the recording was made: syscall tables and the vDSO
	// differ between kernels and libseccomp versions.
	Host Host `json:"host"`
	// Syscalls are the syscalls observed, one entry per architecture.
	Syscalls []Syscall `json:"syscalls"`
	// Implicit are allowed by the recorded profile without being observed.
	Implicit []Implicit `json:"implicit"`
	// Unresolved are syscall numbers the linked libseccomp has no name for:
	// a profile cannot name them, so they are reported, not allowed.
	Unresolved []Unresolved `json:"unresolved,omitempty"`
}

// Host is the recording host's kernel and libseccomp.
type Host struct {
	Kernel     string `json:"kernel"`
	Machine    string `json:"machine"`
	Libseccomp string `json:"libseccomp"`
}

// thisHost describes the running host.
func thisHost() Host {
	var h Host
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
		h.Machine = unix.ByteSliceToString(u.Machine[:])
	}
	maj, min, micro := libseccomp.GetLibraryVersion()
	h.Libseccomp = fmt.Sprintf("%d.%d.%d", maj, min, micro)
	return h
}

// Container identifies a recorded container (from runc's state).
type Container struct {
	ID       string `json:"id"`
	Metadata string `json:"metadata,omitempty"`
	Bundle   string `json:"bundle,omitempty"`
	Pid      int    `json:"pid,omitempty"`
}

// Syscall is one observed syscall on one architecture.
type Syscall struct {
	Name      string    `json:"name"`
	Arch      string    `json:"arch"`
	Count     uint64    `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Unresolved is an observed syscall number without a name.
type Unresolved struct {
	Arch   string `json:"arch"`
	Number int32  `json:"number"`
	Count  uint64 `json:"count"`
}

// Names is the set of observed syscall names, over all architectures.
func (o *Observation) Names() map[string]bool {
	set := map[string]bool{}
	for _, s := range o.Syscalls {
		set[s.Name] = true
	}
	return set
}

type tallyKey struct {
	arch libseccomp.ScmpArch
	nr   int32
}

type counter struct {
	count       uint64
	first, last time.Time
}

// Tally counts notifications. It is owned by one goroutine at a time: the
// serve loop while it runs, the caller after it returned.
type Tally struct {
	counts map[tallyKey]*counter
}

// NewTally returns an empty tally.
func NewTally() *Tally { return &Tally{counts: map[tallyKey]*counter{}} }

func (t *Tally) add(arch libseccomp.ScmpArch, nr int32, now time.Time) {
	k := tallyKey{arch, nr}
	c := t.counts[k]
	if c == nil {
		c = &counter{first: now}
		t.counts[k] = c
	}
	c.count++
	c.last = now
}

// Merge adds o's counts to t (several `runc exec` sessions of one container).
func (t *Tally) Merge(o *Tally) {
	for k, oc := range o.counts {
		c := t.counts[k]
		if c == nil {
			cp := *oc
			t.counts[k] = &cp
			continue
		}
		c.count += oc.count
		if oc.first.Before(c.first) {
			c.first = oc.first
		}
		if oc.last.After(c.last) {
			c.last = oc.last
		}
	}
}

// Len is the number of distinct (architecture, syscall) pairs seen.
func (t *Tally) Len() int { return len(t.counts) }

// fill puts the tally into o, named and sorted (architecture, then name).
func (t *Tally) fill(o *Observation) {
	o.Syscalls = []Syscall{}
	for k, c := range t.counts {
		name, err := libseccomp.ScmpSyscall(k.nr).GetNameByArch(k.arch)
		if err != nil || name == "" {
			o.Unresolved = append(o.Unresolved, Unresolved{Arch: ArchName(k.arch), Number: k.nr, Count: c.count})
			continue
		}
		o.Syscalls = append(o.Syscalls, Syscall{
			Name: name, Arch: ArchName(k.arch), Count: c.count,
			FirstSeen: c.first.UTC(), LastSeen: c.last.UTC(),
		})
	}
	sort.Slice(o.Syscalls, func(i, j int) bool {
		a, b := o.Syscalls[i], o.Syscalls[j]
		if a.Arch != b.Arch {
			return a.Arch < b.Arch
		}
		return a.Name < b.Name
	})
	sort.Slice(o.Unresolved, func(i, j int) bool {
		a, b := o.Unresolved[i], o.Unresolved[j]
		if a.Arch != b.Arch {
			return a.Arch < b.Arch
		}
		return a.Number < b.Number
	})
}
