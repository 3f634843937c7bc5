package firewall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/execx"
)

// The Docker bypass, closed. Docker DNATs a published port in nat
// PREROUTING, so the connection reaches the container through FORWARD and
// ufw's INPUT rules never see it; `ufw route` rules land after Docker's own
// accept. DOCKER-USER is the chain Docker keeps for the admin: it jumps to
// it first in FORWARD and leaves its rules alone when dockerd restarts.
// ctsec loads one chain of its own, ctsec-docker-user, that DOCKER-USER
// jumps to first:
//
//	-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN         replies, established flows
//	-p tcp -m conntrack --ctstate DNAT --ctorigdstport 5432 -j RETURN   one per firewall.allow port (and source)
//	-m conntrack --ctstate DNAT -j DROP                          every other published port
//
// Keyed on the conntrack DNAT state and the original destination port (the
// host port the client asked for), it filters published ports on every
// interface of the host and nothing else: container egress and other
// forwarded traffic are not DNAT'd and pass to Docker's rules untouched.
//
// It persists through ufw: a ctsec block in /etc/ufw/after.init (the one
// hook ufw-init runs at every start, reload and stop; after.rules is tracked
// by ucf, so the distribution's file is not edited) loads the chain when ufw
// starts (at boot before dockerd, which keeps it) and removes it when ufw
// stops.

// dockerChain is ctsec's chain; DOCKER-USER jumps to it first.
const dockerChain = "ctsec-docker-user"

// jumpRule is the first rule of DOCKER-USER, as iptables -S prints it.
const jumpRule = "-A DOCKER-USER -j " + dockerChain

// dockerFilter is what ctsec loads for one policy: the rules of its chain
// per address family, in the exact form `iptables -S` prints them, so that
// verification and audit compare the loaded chain with them line by line.
type dockerFilter struct {
	V4, V6 []string
}

// family is one of iptables and ip6tables.
type family struct {
	cmd  string
	v6   bool
	icmp string // REJECT's default, as iptables -S spells it
}

var families = []family{{"iptables", false, "icmp-port-unreachable"}, {"ip6tables", true, "icmp6-port-unreachable"}}

func (f *dockerFilter) rules(fam family) []string {
	if fam.v6 {
		return f.V6
	}
	return f.V4
}

// dropTarget is what happens to a new connection to a published port the
// policy does not allow: the host's own default for incoming connections
// (the policy's, or ufw's DEFAULT_INPUT_POLICY when the policy leaves it),
// "" when that default accepts (nothing to filter).
func dropTarget(fw host.FirewallPolicy, inputPolicy string) string {
	switch fw.DefaultIncoming {
	case "deny":
		return "DROP"
	case "reject":
		return "REJECT"
	case "allow":
		return ""
	}
	switch inputPolicy {
	case "DROP", "REJECT":
		return inputPolicy
	}
	return ""
}

// planDockerFilter is the filter for the policy, or nil when the policy
// does not want one (firewall.docker off, or incoming connections allowed).
// Only typed, validated values reach the rules (ports, tcp/udp, parsed
// networks); an entry that does not parse is left out, never widened.
func planDockerFilter(fw host.FirewallPolicy, inputPolicy string) *dockerFilter {
	target := dropTarget(fw, inputPolicy)
	if !fw.Docker || target == "" {
		return nil
	}
	f := &dockerFilter{}
	for _, fam := range families {
		rules := []string{"-A " + dockerChain + " -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"}
		for _, r := range fw.Allow {
			if r.Port < 1 || r.Port > 65535 || (r.Proto != "tcp" && r.Proto != "udp") {
				continue
			}
			match := fmt.Sprintf("-p %s -m conntrack --ctstate DNAT --ctorigdstport %d -j RETURN", r.Proto, r.Port)
			if len(r.From) == 0 {
				rules = append(rules, "-A "+dockerChain+" "+match)
				continue
			}
			for _, src := range r.From {
				pfx, err := host.ParseAddrOrPrefix(src)
				if err != nil || !pfx.IsValid() || pfx.Addr().Is4() == fam.v6 {
					continue
				}
				pfx = pfx.Masked()
				if pfx.Bits() == 0 {
					// iptables -S prints no -s for the whole address space.
					rules = append(rules, "-A "+dockerChain+" "+match)
				} else {
					rules = append(rules, "-A "+dockerChain+" -s "+pfx.String()+" "+match)
				}
			}
		}
		last := "-A " + dockerChain + " -m conntrack --ctstate DNAT -j " + target
		if target == "REJECT" {
			last += " --reject-with " + fam.icmp
		}
		rules = slices.Compact(append(rules, last))
		if fam.v6 {
			f.V6 = rules
		} else {
			f.V4 = rules
		}
	}
	return f
}

// Markers of ctsec's block in after.init; everything outside them is the
// admin's and stays byte for byte.
const (
	blockBegin = "# >>> ctsec docker-user >>>"
	blockEnd   = "# <<< ctsec docker-user <<<"
)

// safeRule is every character a rule may hold; the rules are built from
// typed values only, and this keeps it so before they reach a shell file.
var safeRule = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[-A-Za-z0-9 ,./:]+$`) })

// renderBlock is the after.init block that loads f (start) and removes it
// (stop, flush-all), for iptables and, where the kernel has IPv6, ip6tables.
func renderBlock(f *dockerFilter) (string, error) {
	var b strings.Builder
	b.WriteString(blockBegin + "\n")
	b.WriteString(`# Written by "ctsec host apply firewall" from the firewall policy; "ctsec host
# rollback" takes it out again. Docker DNATs published container ports into
# FORWARD, where ufw's rules never see them: this loads the chain
# ` + dockerChain + `, which DOCKER-USER jumps to first, so that from outside only
# the ports in the policy's firewall.allow reach a published port. Replies and
# container egress pass. Docker keeps DOCKER-USER's rules when it restarts.
ctsec_docker_user() {
	for ctsec_ipt in iptables ip6tables; do
		"$ctsec_ipt" -w -nL INPUT >/dev/null 2>&1 || continue
		case "$1" in
		start)
			"$ctsec_ipt" -w -N DOCKER-USER 2>/dev/null || true
			ctsec_docker_user_rules "$ctsec_ipt" | "$ctsec_ipt-restore" -w --noflush || return 1
			[ "$("$ctsec_ipt" -w -S DOCKER-USER 1 2>/dev/null)" = "` + jumpRule + `" ] && continue
			while "$ctsec_ipt" -w -D DOCKER-USER -j ` + dockerChain + ` 2>/dev/null; do :; done
			"$ctsec_ipt" -w -I DOCKER-USER 1 -j ` + dockerChain + ` || return 1
			;;
		stop|flush-all)
			while "$ctsec_ipt" -w -D DOCKER-USER -j ` + dockerChain + ` 2>/dev/null; do :; done
			if "$ctsec_ipt" -w -F ` + dockerChain + ` 2>/dev/null; then
				"$ctsec_ipt" -w -X ` + dockerChain + ` || return 1
			fi
			;;
		esac
	done
}
ctsec_docker_user_rules() {
`)
	for i, fam := range families {
		if i == 0 {
			b.WriteString("\tif [ \"$1\" = " + fam.cmd + " ]; then\n")
		} else {
			b.WriteString("\telse\n")
		}
		b.WriteString("\t\tcat <<'CTSEC_RULES'\n*filter\n:" + dockerChain + " - [0:0]\n")
		for _, r := range f.rules(fam) {
			if !safeRule().MatchString(r) {
				return "", fmt.Errorf("DOCKER-USER rule %q holds characters a rule cannot have", r)
			}
			b.WriteString(r + "\n")
		}
		b.WriteString("COMMIT\nCTSEC_RULES\n")
	}
	b.WriteString("\tfi\n}\n")
	b.WriteString(`ctsec_docker_user "$1" || { echo "ctsec: the DOCKER-USER rules failed to $1 (ctsec host audit shows them)" >&2; exit 1; }` + "\n")
	b.WriteString(blockEnd + "\n")
	return b.String(), nil
}

// blockError is a damaged ctsec block, at a line of after.init.
type blockError struct {
	Line int
	Msg  string
}

func (e *blockError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// findBlock locates ctsec's block in an after.init: the byte range of its
// lines, begin marker to end marker inclusive, or ok false when it has none.
// Markers out of order or twice are an error naming the line: such a file
// was edited by hand, and ctsec does not guess which part is its own.
func findBlock(data []byte) (start, end int, ok bool, err error) {
	start, end = -1, -1
	off := 0
	for n, line := range lines(data) {
		switch strings.TrimSpace(string(line)) {
		case blockBegin:
			if start >= 0 {
				return 0, 0, false, &blockError{n + 1, "a second ctsec block begins; remove the extra one by hand"}
			}
			start = off
		case blockEnd:
			if start < 0 || end >= 0 {
				return 0, 0, false, &blockError{n + 1, "ctsec's block ends here but does not begin before; remove the partial block by hand"}
			}
			end = off + len(line)
		}
		off += len(line)
	}
	if start >= 0 && end < 0 {
		return 0, 0, false, &blockError{lineOf(data, start), "ctsec's block begins here but never ends; remove the partial block by hand"}
	}
	return start, end, start >= 0, nil
}

// lines splits data after each newline, keeping it; a last line without
// one is a line too.
func lines(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return append(out, data)
		}
		out = append(out, data[:i+1])
		data = data[i+1:]
	}
	return out
}

func lineOf(data []byte, off int) int { return bytes.Count(data[:off], []byte("\n")) + 1 }

// spliceBlock puts block (empty: none) into an after.init in place of
// ctsec's block, or, where it has none, after its leading comment lines
// (the #! line and the header), before anything the admin's script does —
// so an early exit in the admin's part cannot skip it. An empty file
// becomes a shell script holding only the block.
func spliceBlock(data []byte, block string) ([]byte, error) {
	start, end, ok, err := findBlock(data)
	if err != nil {
		return nil, err
	}
	if ok {
		return slices.Concat(data[:start], []byte(block), data[end:]), nil
	}
	if block == "" {
		return data, nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return []byte("#!/bin/sh\n" + block), nil
	}
	at := 0
	for _, line := range lines(data) {
		if !bytes.HasPrefix(line, []byte("#")) {
			break
		}
		at += len(line)
	}
	head := slices.Clone(data[:at])
	if len(head) > 0 && head[len(head)-1] != '\n' {
		head = append(head, '\n')
	}
	return slices.Concat(head, []byte(block), data[at:]), nil
}

// chains is what a kernel holds of ctsec's filter, per family command.
type chains map[string]*loaded

type loaded struct {
	off   bool     // the kernel does not answer for the family (IPv6 off)
	rules []string // ctsec's chain, nil when it does not exist
	first bool     // DOCKER-USER jumps to it first
}

// chainsScript prints, for each family, what parseChains reads: whether the
// kernel answers, ctsec's chain as iptables -S prints it, and DOCKER-USER's
// first rule. It never fails, so it can run inside the verification
// sandbox's `set -e` script as well as on the host.
func chainsScript() string {
	var b strings.Builder
	for _, fam := range families {
		fmt.Fprintf(&b, "echo '#family %[1]s'; if %[1]s -w -nL INPUT >/dev/null 2>&1; then %[1]s -w -S %[2]s 2>/dev/null || echo '#nochain'; echo '#first'; %[1]s -w -S DOCKER-USER 1 2>/dev/null || true; else echo '#off'; fi; ",
			fam.cmd, dockerChain)
	}
	return b.String() + "true"
}

func parseChains(out string) chains {
	cs := chains{}
	var cur *loaded
	inFirst := false
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "#family "):
			cur, inFirst = &loaded{rules: []string{}}, false
			cs[strings.TrimPrefix(l, "#family ")] = cur
		case cur == nil:
		case l == "#off":
			cur.off, cur.rules = true, nil
		case l == "#nochain":
			cur.rules = nil
		case l == "#first":
			inFirst = true
		case inFirst:
			cur.first = cur.first || l == jumpRule
		case strings.HasPrefix(l, "-A "+dockerChain+" "):
			cur.rules = append(cur.rules, l)
		}
	}
	return cs
}

// liveChains reads the running kernel's.
func liveChains(ctx context.Context, r execx.Runner) (chains, error) {
	res, err := r.Run(ctx, "sh", "-c", chainsScript())
	if err != nil {
		return nil, err
	}
	return parseChains(string(res.Stdout)), nil
}

// checkLoaded compares a kernel's chains with f (nil: ctsec's chain must be
// absent) and says what differs.
func checkLoaded(cs chains, f *dockerFilter) error {
	for _, fam := range families {
		l := cs[fam.cmd]
		switch {
		case l == nil:
			return fmt.Errorf("%s: nothing read about chain %s", fam.cmd, dockerChain)
		case l.off:
		case f == nil && l.rules != nil:
			return fmt.Errorf("%s still holds chain %s", fam.cmd, dockerChain)
		case f == nil:
		case l.rules == nil:
			return fmt.Errorf("%s has no chain %s: the block in %s did not load it", fam.cmd, dockerChain, afterInit)
		case !slices.Equal(l.rules, f.rules(fam)):
			return fmt.Errorf("%s chain %s holds %q, not the policy's %q", fam.cmd, dockerChain, l.rules, f.rules(fam))
		case !l.first:
			return fmt.Errorf("%s: DOCKER-USER does not jump to %s first", fam.cmd, dockerChain)
		}
	}
	return nil
}

// removeChain takes ctsec's chain out of the running kernel, for when the
// after.init that would remove it at the next ufw stop is gone (rollback,
// firewall.docker turned off).
func removeChain(ctx context.Context, r execx.Runner) error {
	for _, fam := range families {
		if res, err := r.Run(ctx, fam.cmd, "-w", "-nL", "INPUT"); err != nil || res.ExitCode != 0 {
			continue // the kernel has no such family (IPv6 off)
		}
		for range 100 {
			res, err := r.Run(ctx, fam.cmd, "-w", "-D", "DOCKER-USER", "-j", dockerChain)
			if err != nil {
				return err
			}
			if res.ExitCode != 0 {
				break
			}
		}
		if res, err := r.Run(ctx, fam.cmd, "-w", "-F", dockerChain); err != nil || res.ExitCode != 0 {
			continue // no such chain
		}
		if _, err := r.Output(ctx, fam.cmd, "-w", "-X", dockerChain); err != nil {
			return fmt.Errorf("removing %s chain %s: %w", fam.cmd, dockerChain, err)
		}
	}
	return nil
}

// describe is the filter for people: one line per rule and family.
func (f *dockerFilter) describe() []string {
	var out []string
	for _, fam := range families {
		for _, r := range f.rules(fam) {
			out = append(out, fam.cmd+" "+r)
		}
	}
	return out
}

// allowedPort reports whether the policy lets anyone from outside reach
// host port p/proto (a rule without source limits).
func allowedPort(fw host.FirewallPolicy, port int, proto string) bool {
	for _, a := range fw.Allow {
		if a.Port == port && a.Proto == proto && len(a.From) == 0 {
			return true
		}
	}
	return false
}

// portList is "5432/tcp, 8080/tcp" for messages.
func portList(ps []Published) string {
	var out []string
	for _, p := range ps {
		s := p.Container + " " + p.HostIP + ":" + strconv.Itoa(p.HostPort) + "/" + p.Proto
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}

// The hook ufw-init runs at every start and stop, and the template ufw's
// postinst copied it from.
const (
	afterInit      = "/etc/ufw/after.init"
	stockAfterInit = "/usr/share/ufw/after.init"
)

// afterInitEdit puts the block for f into after.init (or takes it out when
// f is nil) and makes the file executable, which ufw-init requires before
// it runs it. A file that is not executable today holds commands that do
// not run; unless it is ufw's own template, making it executable would run
// them as well, so that is refused with the reason.
func afterInitEdit(env *host.Env, f *dockerFilter) (*host.Edit, *host.Refusal, error) {
	block := ""
	if f != nil {
		var err error
		if block, err = renderBlock(f); err != nil {
			return nil, nil, err
		}
	}
	old, err := env.ReadFile(afterInit)
	exists := err == nil
	if err != nil && !host.IsNotExist(err) {
		return nil, nil, err
	}
	if !exists && f == nil {
		return nil, nil, nil
	}
	want, err := spliceBlock(old, block)
	if be := (*blockError)(nil); errors.As(err, &be) {
		return nil, nil, fmt.Errorf("%s:%d: %s", afterInit, be.Line, be.Msg)
	} else if err != nil {
		return nil, nil, err
	}
	if f == nil {
		if bytes.Equal(want, old) {
			return nil, nil, nil
		}
		ed, err := host.NewEdit(env, afterInit, want, 0o640)
		return ed, nil, err
	}
	var refusal *host.Refusal
	if exists {
		st, err := env.FS().Stat(afterInit)
		if err != nil {
			return nil, nil, err
		}
		if st.Mode().Perm()&0o100 == 0 {
			admin, _ := spliceBlock(old, "")
			stock, err := env.ReadFile(stockAfterInit)
			why := "it differs from ufw's template " + stockAfterInit
			if err != nil {
				why = "ufw's template " + stockAfterInit + " is not there to compare it with"
			}
			if err != nil || !bytes.Equal(admin, stock) {
				refusal = &host.Refusal{Guard: "firewall-after-init", Reason: fmt.Sprintf(
					"%s is not executable, so ufw-init does not run it, and %s: making it executable for ctsec's DOCKER-USER rules would run whatever else it holds too, at every ufw start; review it and chmod 750 it, or set firewall.docker: false",
					afterInit, why)}
			}
		}
	}
	ed, err := host.NewEditMode(env, afterInit, want, 0o750)
	return ed, refusal, err
}

// published lists the container ports bound on the live host (none when
// it is not live or has no Docker).
func published(ctx context.Context, env *host.Env) ([]Published, error) {
	if !env.Live() || !env.DockerPresent() {
		return nil, nil
	}
	res, err := env.Runner.Run(ctx, "docker", "ps", "--format", "{{.Names}}\t{{.Ports}}")
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("docker ps (exit %d): %s", res.ExitCode, execx.FirstLine(res.Stderr))
	}
	var pubs []Published
	for _, l := range strings.Split(strings.TrimSpace(string(res.Stdout)), "\n") {
		name, ports, _ := strings.Cut(l, "\t")
		pubs = append(pubs, ParseDockerPorts(name, ports)...)
	}
	return pubs, nil
}

// closedPorts are the public bindings the filter closes from outside.
func closedPorts(pubs []Published, fw host.FirewallPolicy) []Published {
	var out []Published
	for _, p := range pubs {
		if p.Public() && !allowedPort(fw, p.HostPort, p.Proto) && !allowedFrom(fw, p.HostPort, p.Proto) {
			out = append(out, p)
		}
	}
	return out
}

// allowedFrom reports whether the policy lets some sources reach the port.
func allowedFrom(fw host.FirewallPolicy, port int, proto string) bool {
	for _, a := range fw.Allow {
		if a.Port == port && a.Proto == proto && len(a.From) > 0 {
			return true
		}
	}
	return false
}
