package fail2ban

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/report"
)

// Status is what `fail2ban-client status JAIL` says about a running jail.
type Status struct {
	Failed, TotalFailed int
	Banned, TotalBanned int
	BannedIPs           []netip.Addr
}

// ParseStatus reads the output of `fail2ban-client status JAIL`:
//
//	Status for the jail: sshd
//	|- Filter
//	|  |- Currently failed:	0
//	|  |- Total failed:	3
//	|  `- Journal matches:	_SYSTEMD_UNIT=sshd.service + _COMM=sshd
//	`- Actions
//	   |- Currently banned:	1
//	   |- Total banned:	1
//	   `- Banned IP list:	10.98.0.2
//
// The output comes from a server that reads untrusted log lines; anything
// that is not a count or an address is an error, never a guess.
func ParseStatus(out []byte) (Status, error) {
	var st Status
	seen := false
	for n, line := range strings.Split(string(out), "\n") {
		line = strings.TrimLeft(line, "|`- \t")
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		count := func(into *int) error {
			v, err := strconv.Atoi(val)
			if err != nil || v < 0 {
				return fmt.Errorf("line %d: %s is not a count: %q", n+1, key, truncate(val))
			}
			*into = v
			return nil
		}
		var err error
		switch strings.TrimSpace(key) {
		case "Currently failed":
			err = count(&st.Failed)
		case "Total failed":
			err = count(&st.TotalFailed)
		case "Currently banned":
			err = count(&st.Banned)
			seen = true
		case "Total banned":
			err = count(&st.TotalBanned)
		case "Banned IP list":
			for _, f := range strings.Fields(val) {
				a, perr := netip.ParseAddr(f)
				if perr != nil {
					return Status{}, fmt.Errorf("line %d: banned address %q is not an address", n+1, truncate(f))
				}
				st.BannedIPs = append(st.BannedIPs, a)
			}
		}
		if err != nil {
			return Status{}, err
		}
	}
	if !seen {
		return Status{}, fmt.Errorf("no \"Currently banned\" line: not the status of a jail")
	}
	return st, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// bannedFindings say, on the live host, what the running jail has banned
// now, as fail2ban-client status shows it; an operator address among them
// is high: that operator is shut out for the ban's length.
func bannedFindings(ctx context.Context, env *host.Env, pol *host.Policy) []report.Finding {
	if !env.Live() {
		return nil
	}
	if res, err := env.Runner.Run(ctx, "fail2ban-client", "ping"); err != nil || res.ExitCode != 0 {
		return nil
	}
	jail := pol.Fail2ban.Jail
	f := report.Finding{Rule: "host/fail2ban-banned", Severity: report.Info, Target: "jail " + jail}
	res, err := env.Runner.Run(ctx, "fail2ban-client", "status", jail)
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("fail2ban-client status %s (exit %d): %s", jail, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	var st Status
	if err == nil {
		st, err = ParseStatus(res.Stdout)
	}
	if err != nil {
		f.Message = "cannot read the running jail: " + err.Error()
		return []report.Finding{f}
	}
	var ips []string
	for _, a := range st.BannedIPs {
		ips = append(ips, a.String())
	}
	f.Message = fmt.Sprintf("the running jail %s bans %d address(es) now: %s (%d failure(s) counted, %d ban(s) since it started; fail2ban-client status %s)",
		jail, st.Banned, orDefault(strings.Join(ips, " "), "none"), st.TotalFailed, st.TotalBanned, jail)
	out := []report.Finding{f}
	for _, ip := range pol.Operator.TrustedIPs {
		pfx, err := host.ParseAddrOrPrefix(ip)
		if err != nil {
			continue
		}
		for _, a := range st.BannedIPs {
			if pfx.Contains(a.Unmap()) {
				out = append(out, report.Finding{Rule: "host/fail2ban-banned", Severity: report.High, Target: "jail " + jail,
					Message: fmt.Sprintf("trusted operator address %s (operator.trusted_ips %s) is banned: it cannot reach sshd until the ban ends", a, ip),
					Fix:     fmt.Sprintf("fail2ban-client set %s unbanip %s, then ctsec host apply fail2ban (puts operator.trusted_ips in ignoreip)", jail, a)})
			}
		}
	}
	return out
}
