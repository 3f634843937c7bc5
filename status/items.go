package status

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/bench"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/seccomp"
)

// items are the checkpoint, in Rules order.
var items = []struct {
	rule string
	eval func(*facts) Item
}{
	{"status/sysctl", sysctlItem},
	{"status/apparmor-profiles", apparmorProfilesItem},
	{"status/apparmor-containers", benchItem("5.2")},
	{"status/seccomp-profiles", seccompProfilesItem},
	{"status/seccomp-unconfined", benchItem("5.22", "5.5")},
	{"status/containers-hardened", benchItem("5.4", "5.26", "5.11", "5.29")},
	{"status/fail2ban", fail2banItem},
	{"status/ssh-key-only", sshItem},
	{"status/firewall", firewallItem},
	{"status/integrity", integrityItem},
	{"status/audit-rules", auditRulesItem},
	{"status/bench", benchScoreItem},
	{"status/updates", updatesItem},
}

func skipped(format string, args ...any) Item {
	return Item{Status: report.Skip, Summary: fmt.Sprintf(format, args...)}
}

// verdict passes with okSummary when there are no failures, and fails
// with failSummary otherwise.
func verdict(failures []Failure, evidence []string, okSummary, failSummary string) Item {
	it := Item{Status: report.Pass, Summary: okSummary, Evidence: evidence, Failures: failures}
	if len(failures) > 0 {
		it.Status, it.Summary = report.Fail, failSummary
	}
	return it
}

// moduleAudit is a host module's audit, or the item that says why there is
// none.
func (f *facts) moduleAudit(name string) (hostAudit, *Item) {
	a := f.host[name]
	switch {
	case !a.present:
		it := skipped("ctsec has no %s module here", name)
		return a, &it
	case !a.managed:
		it := skipped("the host policy leaves %s alone (its section is null)", name)
		return a, &it
	case a.err != nil:
		it := Item{Status: report.Fail, Summary: fmt.Sprintf("the %s audit failed: %v", name, a.err),
			Failures: []Failure{{Target: name, Message: fmt.Sprintf("the %s audit failed: %v", name, a.err)}}}
		return a, &it
	}
	return a, nil
}

func failureOf(fd report.Finding) Failure {
	return Failure{Target: fd.Target, Message: fd.Message, File: fd.File, Line: fd.Line}
}

func sysctlItem(f *facts) Item {
	a, it := f.moduleAudit("sysctl")
	if it != nil {
		return *it
	}
	var failures []Failure
	ok, transient := 0, 0
	for _, fd := range a.findings {
		if fd.Rule != "host/sysctl-value" {
			continue
		}
		switch {
		case fd.Severity >= report.Medium:
			failures = append(failures, failureOf(fd))
		case fd.Severity == report.Low:
			transient++
			ok++
		default:
			ok++
		}
	}
	var ev []string
	if transient > 0 {
		ev = append(ev, fmt.Sprintf("%d of them are set now but not in a sysctl.d file: they change at the next boot", transient))
	}
	return verdict(failures, ev, fmt.Sprintf("%d policy settings in effect", ok),
		fmt.Sprintf("%d policy settings differ from the running kernel (%d in effect)", len(failures), ok))
}

func apparmorProfilesItem(f *facts) Item {
	switch {
	case f.aaErr != nil:
		return Item{Status: report.Fail, Summary: "reading AppArmor's status failed: " + f.aaErr.Error(),
			Failures: []Failure{{Target: "apparmor", Message: f.aaErr.Error()}}}
	case !f.aa.KernelEnabled:
		return skipped("this kernel has no AppArmor: profiles can be generated and validated, not loaded")
	case !f.aa.SecurityFS:
		return skipped("AppArmor is enabled but securityfs is not mounted at /sys/kernel/security")
	}
	modes := map[string]int{}
	for _, p := range f.aa.Loaded {
		modes[p.Mode]++
	}
	ev := []string{fmt.Sprintf("%d profiles loaded: %s", len(f.aa.Loaded), countList(modes))}
	var failures []Failure
	for _, d := range f.aa.OnDisk {
		name := strings.Join(d.Names, ",")
		switch {
		case d.Problem != "":
			failures = append(failures, Failure{Target: d.File, Message: d.File + " does not parse: " + d.Problem, File: d.File})
		case !d.Loaded:
			failures = append(failures, Failure{Target: name, Message: fmt.Sprintf("%s (%s) is installed but not loaded", name, d.File), File: d.File})
		default:
			ev = append(ev, fmt.Sprintf("%s: %s", name, orDash(d.Mode)))
		}
	}
	return verdict(failures, ev, ev[0], fmt.Sprintf("%d container profiles in %s are not loaded", len(failures), "/"+apparmor.ProfileDir))
}

func countList(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], orDash(k)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// benchItem is an item made of bench checks: it fails with their failed
// items, is skipped when all of them are, and passes otherwise.
func benchItem(ids ...string) func(*facts) Item {
	return func(f *facts) Item {
		if f.snap == nil {
			return skipped("%s", f.noDocker)
		}
		var failures []Failure
		var ev, skips []string
		for _, id := range ids {
			r, ok := f.results[id]
			if !ok {
				continue
			}
			line := fmt.Sprintf("CIS %s %s: %s", id, r.Status, r.Detail)
			switch r.Status {
			case bench.Fail:
				for _, item := range r.Items {
					failures = append(failures, Failure{Target: item.Target, Message: fmt.Sprintf("%s: %s (CIS %s)", item.Target, item.Detail, id)})
				}
			case bench.Skip:
				skips = append(skips, line)
			}
			ev = append(ev, line)
		}
		if len(skips) == len(ids) {
			return Item{Status: report.Skip, Summary: strings.Join(skips, "; "), Evidence: ev}
		}
		running := 0
		for _, c := range f.snap.Containers {
			if c.State != nil && c.State.Running {
				running++
			}
		}
		return verdict(failures, ev, fmt.Sprintf("%d containers (%d running) pass CIS %s", len(f.snap.Containers), running, strings.Join(ids, ", ")),
			fmt.Sprintf("%d failures of CIS %s", len(failures), strings.Join(ids, ", ")))
	}
}

func seccompProfilesItem(f *facts) Item {
	if f.snap == nil {
		return skipped("%s", f.noDocker)
	}
	if len(f.snap.Containers) == 0 {
		return skipped("no containers on engine %s", f.snap.Engine.Host)
	}
	var failures []Failure
	var ev []string
	custom, dflt := 0, 0
	res := seccomp.NewResolver()
	target := seccomp.DefaultTarget()
	for _, c := range f.snap.Containers {
		if c.HostConfig == nil {
			continue
		}
		found := false
		for _, opt := range c.HostConfig.SecurityOpt {
			k, v, ok := strings.Cut(opt, "=")
			if !ok {
				k, v, ok = strings.Cut(opt, ":")
			}
			if !ok || k != "seccomp" || v == "unconfined" {
				continue
			}
			found = true
			custom++
			name := c.DisplayName()
			p, schema, err := seccomp.Parse("container "+name, []byte(v))
			if err != nil {
				failures = append(failures, Failure{Target: name, Message: fmt.Sprintf("%s: its seccomp profile does not load: %v", name, err)})
				continue
			}
			val := seccomp.Validate(p, schema, target, res)
			if n := val.Errors(); n > 0 {
				first := ""
				for _, fd := range val.Findings {
					if fd.Severity >= report.High {
						first = fd.Message
						break
					}
				}
				failures = append(failures, Failure{Target: name, Message: fmt.Sprintf("%s: its seccomp profile has %d errors, first: %s", name, n, first)})
				continue
			}
			ev = append(ev, name+": custom profile valid")
		}
		if !found {
			dflt++
		}
	}
	return verdict(failures, ev, fmt.Sprintf("%d containers run a custom seccomp profile, all valid; %d run Docker's default or none", custom, dflt),
		fmt.Sprintf("%d of %d custom seccomp profiles in use are invalid", len(failures), custom))
}

func fail2banItem(f *facts) Item {
	a, it := f.moduleAudit("fail2ban")
	if it != nil {
		return *it
	}
	var failures []Failure
	var ev []string
	for _, fd := range a.findings {
		switch {
		case fd.Severity >= report.High:
			failures = append(failures, failureOf(fd))
		case fd.Rule == "host/fail2ban-backend":
			ev = append(ev, fd.Message)
		}
	}
	switch {
	case !f.fail2ban.asked:
		ev = append(ev, "configuration only: the root is not the running system")
	case f.fail2ban.ok:
		ev = append(ev, f.fail2ban.detail)
	case len(failures) == 0:
		failures = append(failures, Failure{Target: "fail2ban", Message: "fail2ban is not running: " + f.fail2ban.detail})
	}
	summary := "the sshd jail loads"
	if f.fail2ban.ok {
		summary = f.fail2ban.detail
	}
	return verdict(failures, ev, summary, failuresSummary(failures))
}

// failuresSummary is the first failure and how many more; verdict is
// handed it whether or not there are any.
func failuresSummary(fs []Failure) string {
	switch len(fs) {
	case 0:
		return ""
	case 1:
		return fs[0].Message
	}
	return fmt.Sprintf("%s (and %d more)", fs[0].Message, len(fs)-1)
}

func sshItem(f *facts) Item {
	a := f.keyOnly
	switch {
	case !a.present:
		return skipped("ctsec has no ssh module here")
	case a.err != nil:
		return Item{Status: report.Fail, Summary: "sshd -T failed: " + a.err.Error(), Failures: []Failure{{Target: "sshd", Message: a.err.Error()}}}
	}
	var failures []Failure
	var ev []string
	for _, fd := range a.findings {
		switch {
		case fd.Rule == "host/ssh-installed":
			return skipped("%s", fd.Message)
		case fd.Rule == "host/ssh-option" && fd.Severity == report.Info:
			ev = append(ev, fd.Message)
		case fd.Rule == "host/ssh-option" || fd.Rule == "host/ssh-match":
			failures = append(failures, failureOf(fd))
		}
	}
	return verdict(failures, ev, "passwords and keyboard-interactive off, keys on (sshd -T, every Match block)", failuresSummary(failures))
}

func firewallItem(f *facts) Item {
	a, it := f.moduleAudit("firewall")
	if it != nil {
		return *it
	}
	var failures []Failure
	var ev []string
	for _, fd := range a.findings {
		switch fd.Rule {
		case "host/firewall-installed", "host/firewall-enabled", "host/firewall-default", "host/firewall-docker-bypass":
			if fd.Severity >= report.High {
				failures = append(failures, failureOf(fd))
				continue
			}
			ev = append(ev, fd.Message)
		case "host/firewall-docker-user", "host/firewall-docker":
			ev = append(ev, fd.Message)
		}
	}
	return verdict(failures, ev, "UFW active with default-deny, no published port bypasses it", failuresSummary(failures))
}

func integrityItem(f *facts) Item {
	a, it := f.moduleAudit("integrity")
	if it != nil {
		return *it
	}
	var failures []Failure
	var ev []string
	for _, fd := range a.findings {
		if fd.Severity >= report.Medium {
			failures = append(failures, failureOf(fd))
		} else {
			ev = append(ev, fd.Message)
		}
	}
	return verdict(failures, ev, "AIDE initialised and recent, rkhunter configured", failuresSummary(failures))
}

// auditIDs are CIS 1.1.3–1.1.18, the audit rules for Docker's files.
var auditIDs = func() []string {
	var ids []string
	for i := 3; i <= 18; i++ {
		ids = append(ids, fmt.Sprintf("1.1.%d", i))
	}
	return ids
}()

func auditRulesItem(f *facts) Item {
	if f.snap != nil {
		it := benchItem(auditIDs...)(f)
		if it.Status != report.Skip {
			watched := 0
			for _, id := range auditIDs {
				if f.results[id].Status == bench.Pass {
					watched++
				}
			}
			it.Summary = fmt.Sprintf("%d of Docker's files and binaries present here are audited", watched)
			if len(it.Failures) > 0 {
				it.Summary = fmt.Sprintf("%d of Docker's files and binaries are not audited (CIS 1.1.x)", len(it.Failures))
			}
		}
		return it
	}
	a, it := f.moduleAudit("auditd")
	if it != nil {
		return skipped("%s; without an engine the bench's 1.1.x checks cannot run either", it.Summary)
	}
	var failures []Failure
	var ev []string
	for _, fd := range a.findings {
		if fd.Severity >= report.Low {
			failures = append(failures, failureOf(fd))
		} else {
			ev = append(ev, fd.Message)
		}
	}
	return verdict(failures, ev, "audit rules watch Docker's files and binaries", failuresSummary(failures))
}

func benchScoreItem(f *facts) Item {
	if f.snap == nil {
		return skipped("%s", f.noDocker)
	}
	s := f.score
	summary := fmt.Sprintf("score %d%% (%d passed, %d failed, %d manual, %d skipped)", s.Percent, s.Passed, s.Failed, s.Manual, s.Skipped)
	var failures []Failure
	var ev []string
	ids := make([]string, 0, len(f.results))
	for id := range f.results {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return lessID(ids[i], ids[j]) })
	for _, id := range ids {
		r := f.results[id]
		if r.Status != bench.Fail {
			continue
		}
		if r.Severity >= report.High {
			failures = append(failures, Failure{Target: "CIS " + id, Message: fmt.Sprintf("CIS %s failed: %s", id, r.Title)})
		} else {
			ev = append(ev, fmt.Sprintf("CIS %s failed (%s): %s", id, r.Severity, r.Title))
		}
	}
	it := verdict(failures, ev, summary, summary)
	it.Evidence = append([]string{fmt.Sprintf("engine %s, %d containers, snapshot %s", f.snap.Engine.Version, len(f.snap.Containers), f.snap.Taken.Format(time.RFC3339))}, it.Evidence...)
	return it
}

func lessID(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] != pb[i] {
			var na, nb int
			fmt.Sscan(pa[i], &na)
			fmt.Sscan(pb[i], &nb)
			return na < nb
		}
	}
	return len(pa) < len(pb)
}

func updatesItem(f *facts) Item {
	u := f.updates
	var failures []Failure
	var ev []string
	if a, it := f.moduleAudit("updates"); it == nil {
		for _, fd := range a.findings {
			if fd.Severity >= report.High {
				failures = append(failures, failureOf(fd))
			}
		}
	}
	switch {
	case !u.asked:
		if len(failures) == 0 {
			return skipped("pending updates are only known on the running system (the root is %s)", f.o.Root)
		}
	case u.err != nil:
		failures = append(failures, Failure{Target: "apt", Message: "asking apt for pending updates failed: " + u.err.Error()})
	default:
		for _, p := range u.security {
			failures = append(failures, Failure{Target: p.Package, Message: fmt.Sprintf("%s %s → %s from %s", p.Package, orDash(p.From), p.To, p.Origin)})
		}
		ev = append(ev, fmt.Sprintf("%d other upgrades pending", u.other))
		switch {
		case u.listsAt.IsZero():
			ev = append(ev, "apt has no package lists: run apt-get update")
		case u.listsAge > staleLists:
			failures = append(failures, Failure{Target: "apt lists", Message: fmt.Sprintf("the package lists are from %s (%d days old): what is pending is not known; run apt-get update",
				u.listsAt.UTC().Format("2006-01-02"), int(u.listsAge.Hours()/24))})
		default:
			ev = append(ev, "package lists from "+u.listsAt.UTC().Format(time.RFC3339))
		}
	}
	n := len(u.security)
	return verdict(failures, ev, "no security update pending", fmt.Sprintf("%d security updates pending; %s", n, failuresSummary(failures)))
}
