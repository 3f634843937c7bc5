package ssh

import (
	"net/netip"
	"strings"
)

// The matching below is sshd's own (OpenSSH match.c, addrmatch.c), so the
// guards decide as sshd will: AllowUsers/DenyUsers with their USER@HOST
// form, AllowGroups/DenyGroups, from= in authorized_keys, Match User/Group
// and PubkeyAcceptedAlgorithms.

// matchPattern is match_pattern: "*" and "?" wildcards, whole string.
func matchPattern(s, pat string) bool {
	// Iterative glob with backtracking to the last "*": linear enough for
	// the short names and patterns sshd_config holds, never exponential.
	si, pi, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(pat) && (pat[pi] == '?' || pat[pi] == s[si]):
			si++
			pi++
		case pi < len(pat) && pat[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pat) && pat[pi] == '*' {
		pi++
	}
	return pi == len(pat)
}

// matchPatternList is match_pattern_list: a comma-separated list where a
// "!" entry that matches wins (-1), else any plain entry that matches (1),
// else 0.
func matchPatternList(s, list string, lower bool) int {
	if lower {
		s = strings.ToLower(s)
	}
	got := 0
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		if lower {
			p = strings.ToLower(p)
		}
		if matchPattern(s, p) {
			if neg {
				return -1
			}
			got = 1
		}
	}
	return got
}

// addrMatchList is addr_match_list: entries are CIDR networks, addresses,
// or wildcard patterns matched against the address text; "!" negates.
// -2 is a malformed entry (sshd then treats the whole list as failed).
func addrMatchList(addr netip.Addr, list string) int {
	got := 0
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		if p == "" {
			return -2
		}
		found := false
		if pfx, ok := parseCIDR(p); ok {
			found = addr.IsValid() && pfx.Contains(addr)
		} else if strings.Contains(p, "/") && !strings.ContainsAny(p, "*?") {
			return -2
		} else if addr.IsValid() {
			found = matchPattern(addr.String(), p)
		}
		if found {
			if neg {
				return -1
			}
			got = 1
		}
	}
	return got
}

func parseCIDR(p string) (netip.Prefix, bool) {
	if pfx, err := netip.ParsePrefix(p); err == nil {
		return pfx.Masked(), true
	}
	if a, err := netip.ParseAddr(p); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// matchHostAndIP is match_host_and_ip: 1 when the host name or address
// matches the list and neither matches a negated entry.
func matchHostAndIP(host string, addr netip.Addr, list string) int {
	mip := addrMatchList(addr, list)
	if mip == -2 || mip == -1 {
		return -1
	}
	mhost := matchPatternList(host, list, true)
	if mhost == -1 {
		return -1
	}
	if mhost == 0 && mip == 0 {
		return 0
	}
	return 1
}

// matchUser is match_user: "USER" or "USER@HOST", the host part checked
// against the client's name and address (CIDR allowed).
func matchUser(user, host string, addr netip.Addr, pat string) bool {
	u, h, ok := strings.Cut(pat, "@")
	if !ok {
		return matchPattern(user, pat)
	}
	return matchPattern(user, u) && matchHostAndIP(host, addr, h) == 1
}

// matchGroups is ga_match_pattern_list for a Match Group line: -1 when a
// group matches a negated entry, 1 when one matches, else 0.
func matchGroups(groups []string, list string) int {
	got := 0
	for _, g := range groups {
		switch matchPatternList(g, list, false) {
		case -1:
			return -1
		case 1:
			got = 1
		}
	}
	return got
}
