// Package modules lists the host modules in the order ctsec applies them:
// SSH and fail2ban before the firewall closes anything, then updates and
// audit rules, and the integrity database last.
package modules

import (
	"fmt"
	"strings"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/auditd"
	"github.com/ctsec/ctsec/host/fail2ban"
	"github.com/ctsec/ctsec/host/firewall"
	"github.com/ctsec/ctsec/host/integrity"
	"github.com/ctsec/ctsec/host/ssh"
	"github.com/ctsec/ctsec/host/sysctl"
	"github.com/ctsec/ctsec/host/updates"
)

// All returns every module, in apply order: integrity last, so AIDE's
// database records the host as the other modules left it.
func All() []host.Module {
	return []host.Module{ssh.New(), fail2ban.New(), sysctl.New(), firewall.New(), updates.New(), auditd.New(), integrity.New()}
}

// Names are the module names, in apply order.
func Names() []string {
	var out []string
	for _, m := range All() {
		out = append(out, m.Name())
	}
	return out
}

// Select returns the named modules (all when names is empty), in apply order.
func Select(names []string) ([]host.Module, error) {
	all := All()
	if len(names) == 0 {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		found := false
		for _, m := range all {
			if m.Name() == n {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown module %q (want one of %s)", n, strings.Join(Names(), ", "))
		}
		want[n] = true
	}
	var out []host.Module
	for _, m := range all {
		if want[m.Name()] {
			out = append(out, m)
		}
	}
	return out, nil
}
