// Package firewall is the UFW module of ctsec host, Docker-aware: it reports
// UFW's state, defaults and rules, and container ports that bypass UFW
// (Docker DNATs published ports into FORWARD, where UFW's INPUT rules never
// see them) unless DOCKER-USER filters them. Changes are computed by running
// the real ufw on a copy of its files inside a private mount and network
// namespace, so neither planning nor verification touches the host's rules.
package firewall

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Rule is one "### tuple ###" line of user.rules, the form ufw re-reads.
type Rule struct {
	Action  string // allow, deny, reject, limit (route:… for routed rules)
	Proto   string // tcp, udp, any
	DPort   string
	Dst     string
	SPort   string
	Src     string
	Dir     string // in, out, in_eth0 …
	Comment string
	Line    int
}

// ParseTuples reads the rule tuples of a user.rules/user6.rules file:
// "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in comment=737368".
func ParseTuples(data []byte) ([]Rule, error) {
	var out []Rule
	for i, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "### tuple ###")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 6 {
			return nil, fmt.Errorf("line %d: rule tuple has %d fields, want at least 6", i+1, len(f))
		}
		r := Rule{Action: f[0], Proto: f[1], DPort: f[2], Dst: f[3], SPort: f[4], Src: f[5], Dir: "in", Line: i + 1}
		for _, x := range f[6:] {
			if c, ok := strings.CutPrefix(x, "comment="); ok {
				b, err := hex.DecodeString(c)
				if err != nil {
					return nil, fmt.Errorf("line %d: comment is not hex: %v", i+1, err)
				}
				r.Comment = string(b)
			} else if strings.HasPrefix(x, "in") || strings.HasPrefix(x, "out") {
				r.Dir = x
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// Allows reports whether the rule lets new connections to port/proto in
// from anywhere (or from addr when given).
func (r Rule) Allows(port int, proto, addr string) bool {
	if r.Action != "allow" && r.Action != "limit" {
		return false
	}
	if !strings.HasPrefix(r.Dir, "in") {
		return false
	}
	if r.Proto != "any" && r.Proto != proto {
		return false
	}
	if !portIn(r.DPort, port) {
		return false
	}
	if r.Src == "0.0.0.0/0" || r.Src == "::/0" || r.Src == "any" {
		return true
	}
	return addr != "" && r.Src == addr
}

// portIn matches "22", "any", "8000:8100" or "80,443".
func portIn(spec string, port int) bool {
	if spec == "any" {
		return true
	}
	for _, part := range strings.Split(spec, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		if port >= a && port <= b {
			return true
		}
	}
	return false
}

// ParseKV reads shell-style KEY=value files (/etc/default/ufw, ufw.conf).
func ParseKV(data []byte) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		l := strings.TrimSpace(line)
		if l == "" || l[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		m[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return m
}

// Published is a container port bound on the host.
type Published struct {
	Container string
	HostIP    string
	HostPort  int
	Proto     string
	Target    string // container port
}

// ParseDockerPorts reads the Ports column of `docker ps`:
// "0.0.0.0:8080->80/tcp, :::8080->80/tcp, 5432/tcp".
func ParseDockerPorts(container, s string) []Published {
	var out []Published
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		host, target, ok := strings.Cut(part, "->")
		if !ok {
			continue // exposed, not published
		}
		i := strings.LastIndexByte(host, ':')
		if i < 0 {
			continue
		}
		ip, portText := host[:i], host[i+1:]
		proto := "tcp"
		if t, p, ok := strings.Cut(target, "/"); ok {
			target, proto = t, p
		}
		lo, hi, _ := strings.Cut(portText, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || a > 65535 {
			continue
		}
		b := a
		if hi != "" {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b > 65535 || b-a > 1024 {
				continue
			}
		}
		for p := a; p <= b; p++ {
			out = append(out, Published{Container: container, HostIP: ip, HostPort: p, Proto: proto, Target: target})
		}
	}
	return out
}

// Public reports whether a binding listens beyond loopback.
func (p Published) Public() bool {
	return !strings.HasPrefix(p.HostIP, "127.") && p.HostIP != "::1" && p.HostIP != "[::1]"
}
