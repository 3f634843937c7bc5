// Package schedule runs ctsec's audits week after week: systemd timers and
// hardened services for the daily bench, host audit and status and the
// weekly AppArmor review, and the reports each run keeps under the state
// directory, rotated, each saying what changed since the previous run (new
// and fixed findings). It reads as a pipeline:
//
//	jobs.go     the jobs and their unit files (what each needs, so the
//	            service is hardened as far as that job allows)
//	plan.go     the unit files to write or remove under a root, as diffs
//	apply.go    written in a journal change, checked with systemd-analyze
//	            verify, the timers enabled; undone by ctsec rollback
//	reports.go  a run's report kept, the previous one compared, old ones
//	            rotated
package schedule

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// UnitDir is where ctsec writes its units (the administrator's directory).
const UnitDir = "/etc/systemd/system"

// Job is one scheduled audit.
type Job struct {
	Name string
	// Args are the ctsec command the job runs (without output flags).
	Args []string
	// Calendar is the default OnCalendar.
	Calendar string
	// Every says "daily" or "weekly", for people.
	Every string
	// Takes are the flags the job's command accepts from install (the
	// policy for host audits).
	Takes []string
	// Hardening are the service settings that restrict the job, as far
	// as what it does allows; Why says what it needs.
	Hardening []string
	Why       string
}

// common are the settings every job's service can have: the jobs read
// and report, they write only their state directory.
var common = []string{
	"NoNewPrivileges=yes",
	"PrivateTmp=yes",
	"ProtectSystem=strict",
	"ProtectHome=read-only",
	"ProtectKernelModules=yes",
	"ProtectControlGroups=yes",
	"ProtectClock=yes",
	"ProtectHostname=yes",
	"RestrictRealtime=yes",
	"RestrictSUIDSGID=yes",
	"RestrictNamespaces=yes",
	"LockPersonality=yes",
	"MemoryDenyWriteExecute=yes",
	"SystemCallArchitectures=native",
	"UMask=0077",
	"Nice=10",
	"IOSchedulingClass=idle",
}

// Jobs are the scheduled audits, in the order they are listed.
var Jobs = []Job{
	{Name: "bench", Args: []string{"bench"}, Calendar: "*-*-* 03:00:00", Every: "daily",
		Hardening: append(slices.Clone(common),
			"ProtectKernelTunables=yes",
			"ProtectKernelLogs=yes",
			"RestrictAddressFamilies=AF_UNIX AF_NETLINK",
			"CapabilityBoundingSet=CAP_AUDIT_CONTROL CAP_DAC_READ_SEARCH CAP_SYS_PTRACE"),
		Why: "talks to the Docker socket (AF_UNIX), asks the kernel for audit rules (auditctl -l: AF_NETLINK, CAP_AUDIT_CONTROL), reads dockerd's /proc entries and the daemon's files"},
	{Name: "host-audit", Args: []string{"host", "audit"}, Calendar: "*-*-* 03:15:00", Every: "daily", Takes: []string{"policy"},
		Hardening: append(slices.Clone(common),
			"ProtectKernelLogs=yes",
			"RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6",
			"CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_DAC_READ_SEARCH CAP_DAC_OVERRIDE CAP_SETUID CAP_SETGID CAP_SYS_CHROOT"),
		Why: "reads /etc and /proc/sys, runs sshd -T (privilege separation: setuid, chroot), iptables and ufw (netlink, CAP_NET_ADMIN), fail2ban-client (its socket)"},
	{Name: "status", Args: []string{"status"}, Calendar: "*-*-* 03:30:00", Every: "daily", Takes: []string{"policy"},
		Hardening: append(slices.Clone(common),
			"ProtectKernelLogs=yes",
			"RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6",
			"CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_AUDIT_CONTROL CAP_DAC_READ_SEARCH CAP_DAC_OVERRIDE CAP_SETUID CAP_SETGID CAP_SYS_CHROOT CAP_SYS_PTRACE"),
		Why: "everything the host audit and bench need, and apt-get --simulate (reads apt's lists)"},
	{Name: "apparmor-review", Args: []string{"apparmor", "review"}, Calendar: "Mon *-*-* 04:00:00", Every: "weekly",
		Hardening: append(slices.Clone(common),
			"ProtectKernelTunables=yes",
			"RestrictAddressFamilies=AF_UNIX",
			"CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_SYSLOG"),
		Why: "reads audit.log, kern.log and the journal (journalctl), dmesg (CAP_SYSLOG, so kernel logs stay visible), the Docker socket for which container runs under a profile"},
}

// Find returns the job named name.
func Find(name string) (Job, error) {
	for _, j := range Jobs {
		if j.Name == name {
			return j, nil
		}
	}
	return Job{}, fmt.Errorf("unknown job %q (want one of %s)", name, strings.Join(Names(), ", "))
}

// Names are the jobs' names.
func Names() []string {
	var out []string
	for _, j := range Jobs {
		out = append(out, j.Name)
	}
	return out
}

// Unit names the job's units.
func (j Job) Unit(kind string) string { return "ctsec-" + j.Name + "." + kind }

// Settings are what install writes into the units.
type Settings struct {
	// Self is the absolute path of the ctsec binary the service runs.
	Self string
	// StateDir is where the reports are kept (and the only place the
	// service may write).
	StateDir string
	// Calendar overrides the job's OnCalendar; RandomDelay spreads the
	// runs of many hosts.
	Calendar    string
	RandomDelay time.Duration
	// Keep is how many reports rotation keeps per job.
	Keep int
	// Policy is the host policy file for the jobs that take one.
	Policy string
}

// ServiceUnit is the job's service: one run of `ctsec schedule run JOB`.
func (j Job) ServiceUnit(s Settings) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by ctsec schedule install: the %s %s job.\n", j.Every, j.Name)
	fmt.Fprintf(&b, "# It needs: %s.\n", j.Why)
	fmt.Fprintf(&b, "[Unit]\nDescription=ctsec %s (%s), report kept in %s/reports/%s\n", j.Name, j.Every, s.StateDir, j.Name)
	fmt.Fprintf(&b, "Documentation=man:ctsec-schedule(1)\nAfter=network-online.target docker.service\n\n")
	fmt.Fprintf(&b, "[Service]\nType=oneshot\n")
	args := []string{quote(s.Self), "schedule", "run", j.Name, "--state-dir", quote(s.StateDir), "--keep", fmt.Sprint(s.Keep)}
	if s.Policy != "" && slices.Contains(j.Takes, "policy") {
		args = append(args, "--policy", quote(s.Policy))
	}
	fmt.Fprintf(&b, "ExecStart=%s\n", strings.Join(args, " "))
	fmt.Fprintf(&b, "ReadWritePaths=%s\n", quote(s.StateDir))
	for _, h := range j.Hardening {
		fmt.Fprintln(&b, h)
	}
	return []byte(b.String())
}

// TimerUnit is the job's timer: at the calendar time, spread by the random
// delay, caught up after downtime (Persistent).
func (j Job) TimerUnit(s Settings) []byte {
	cal := s.Calendar
	if cal == "" {
		cal = j.Calendar
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by ctsec schedule install.\n[Unit]\nDescription=ctsec %s, %s\n\n", j.Name, j.Every)
	fmt.Fprintf(&b, "[Timer]\nOnCalendar=%s\n", cal)
	if s.RandomDelay > 0 {
		fmt.Fprintf(&b, "RandomizedDelaySec=%d\n", int(s.RandomDelay.Seconds()))
	}
	fmt.Fprintf(&b, "Persistent=true\nAccuracySec=1min\n\n[Install]\nWantedBy=timers.target\n")
	return []byte(b.String())
}

// quote is systemd's quoting for a command line word: double quotes when
// it holds a space or a quote, with backslash escapes; '%' doubled, since
// systemd expands specifiers.
func quote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if !strings.ContainsAny(s, " \t\"'\\$;") {
		return s
	}
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", "$$").Replace(s)
	return `"` + s + `"`
}
