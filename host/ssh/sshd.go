package ssh

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/execx"
)

// MainConfig is the host path sshd reads first.
const MainConfig = "/etc/ssh/sshd_config"

// Effective is `sshd -T` output: lower-case keyword → values (multi-valued
// keywords such as port repeat).
type Effective map[string][]string

// Get is the first value of a keyword ("" when absent).
func (e Effective) Get(k string) string {
	if v := e[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func parseEffective(out []byte) Effective {
	eff := Effective{}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		if k == "" {
			continue
		}
		eff[k] = append(eff[k], v)
	}
	return eff
}

// recorder is a Source that remembers what the parser read, so exactly
// that set can be staged for sshd.
type recorder struct {
	src   Source
	files map[string][]byte
}

func (r *recorder) ReadFile(p string) ([]byte, error) {
	b, err := r.src.ReadFile(p)
	if err == nil {
		r.files[p] = b
	}
	return b, err
}

func (r *recorder) Glob(p string) ([]string, error) { return r.src.Glob(p) }

// staged is a configuration sshd can read with -f: the live files, or a
// copy under a temporary directory with Include paths pointing into it
// (for a --root tree or a configuration not written yet).
type staged struct {
	main string
	dir  string
}

func (s *staged) Close() {
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

func stage(env *host.Env, ov host.Overlay) (*staged, *Config, error) {
	rec := &recorder{src: ov, files: map[string][]byte{}}
	cfg, err := Parse(rec, MainConfig)
	if err != nil {
		return nil, nil, err
	}
	if env.Live() && len(ov.Files) == 0 {
		return &staged{main: MainConfig}, cfg, nil
	}
	dir, err := os.MkdirTemp("", "ctsec-sshd-")
	if err != nil {
		return nil, nil, err
	}
	s := &staged{main: filepath.Join(dir, MainConfig), dir: dir}
	// sshd resolves Match Group through this machine's users and groups;
	// for another root the root's own are what count, so each Group
	// criterion is turned into the User list it stands for there.
	var accts []account
	if !env.Live() {
		accts, _ = readAccounts(env)
	}
	for hp, data := range rec.files {
		out := filepath.Join(dir, hp)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			s.Close()
			return nil, nil, err
		}
		data = rewriteIncludes(data, dir)
		if !env.Live() {
			data = rewriteMatchGroups(data, accts)
		}
		if err := os.WriteFile(out, data, 0o600); err != nil {
			s.Close()
			return nil, nil, err
		}
	}
	return s, cfg, nil
}

// rewriteMatchGroups replaces every "Group PATTERNS" criterion of a Match
// line by "User NAMES" of the accounts whose groups match, as sshd's
// ga_match_pattern_list would decide ("User !*" matches nobody). Line
// numbers stay as they were.
func rewriteMatchGroups(data []byte, accts []account) []byte {
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		d, ok, err := parseLine(line)
		if err != nil || !ok || d.Keyword != "match" {
			continue
		}
		changed := false
		args := slices.Clone(d.Args)
		for j := 0; j+1 < len(args); j++ {
			if !strings.EqualFold(args[j], "group") {
				if !strings.EqualFold(args[j], "all") {
					j++
				}
				continue
			}
			var users []string
			for _, a := range accts {
				if matchGroups(a.Groups, args[j+1]) == 1 {
					users = append(users, a.Name)
				}
			}
			if len(users) == 0 {
				users = []string{"!*"}
			}
			args[j], args[j+1] = "User", strings.Join(users, ",")
			changed = true
			j++
		}
		if changed {
			lines[i] = "Match " + strings.Join(args, " ")
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

// rewriteIncludes points every Include of a staged file into the staging
// directory; everything else is kept byte for byte so line numbers match.
func rewriteIncludes(data []byte, dir string) []byte {
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		d, ok, err := parseLine(line)
		if err != nil || !ok || d.Keyword != "include" {
			continue
		}
		var args []string
		for _, a := range d.Args {
			if !path.IsAbs(a) {
				a = path.Join("/etc/ssh", a)
			}
			args = append(args, strconv.Quote(filepath.Join(dir, a)))
		}
		lines[i] = "Include " + strings.Join(args, " ")
	}
	return []byte(strings.Join(lines, "\n"))
}

// runtimeDir is sshd's privilege separation directory; without it even
// `sshd -t` fails ("Missing privilege separation directory").
func ensureRuntimeDir() {
	if _, err := os.Stat("/run/sshd"); err != nil && os.Geteuid() == 0 {
		os.MkdirAll("/run/sshd", 0o755)
	}
}

// Test runs `sshd -t -f main`: nil when sshd accepts the configuration.
func Test(ctx context.Context, r execx.Runner, main string) error {
	ensureRuntimeDir()
	res, err := r.Run(ctx, "sshd", "-t", "-f", main)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("sshd -t rejected the configuration (exit %d): %s", res.ExitCode, sshdMessage(main, append(res.Stderr, res.Stdout...)))
	}
	return nil
}

// sshdLine is how sshd names a configuration line in its errors.
var sshdLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\S+) line (\d+): (.*)$`) })

// sshdMessage is sshd's first error line in the operator's terms: a staged
// copy's path becomes the host path it stands for, and for a file outside
// /etc/ssh (an Include of ../../etc/shadow) sshd's own words are withheld,
// since they quote the line — which may be a secret.
func sshdMessage(main string, out []byte) string {
	msg := execx.FirstLine(out)
	if dir, ok := strings.CutSuffix(main, MainConfig); ok && dir != "" {
		msg = strings.ReplaceAll(msg, dir, "")
	}
	if m := sshdLine().FindStringSubmatch(msg); m != nil {
		if !strings.HasPrefix(path.Clean(m[1]), "/etc/ssh/") {
			return fmt.Sprintf("%s line %s: sshd rejects this line (its text is not shown: the file is outside /etc/ssh)", m[1], m[2])
		}
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}

// Dump runs `sshd -T -f main [-C spec]`.
func Dump(ctx context.Context, r execx.Runner, main, spec string) (Effective, error) {
	ensureRuntimeDir()
	args := []string{"-T", "-f", main}
	if spec != "" {
		args = append(args, "-C", spec)
	}
	res, err := r.Run(ctx, "sshd", args...)
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("sshd -T (exit %d): %s", res.ExitCode, sshdMessage(main, append(res.Stderr, res.Stdout...)))
	}
	return parseEffective(res.Stdout), nil
}

// Supported lists what the installed OpenSSH implements (`ssh -Q kind`).
func Supported(ctx context.Context, r execx.Runner, kind string) (map[string]bool, error) {
	out, err := r.Output(ctx, "ssh", "-Q", kind)
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		m[l] = true
	}
	return m, nil
}

// Ports are the ports sshd listens on according to its configuration
// under the root, and, when pol manages ssh, according to the planned one
// too (both matter: the first until sshd reloads, the second after). They
// come from sshd -T's listenaddress lines, which carry the port of each
// address: "ListenAddress 0.0.0.0:2222" listens on 2222 whatever Port says.
func Ports(ctx context.Context, env *host.Env, pol *host.Policy) ([]int, error) {
	overlays := []host.Overlay{{Env: env}}
	if pol != nil && pol.Manages("ssh") {
		overlays = append(overlays, host.Overlay{Env: env, Files: map[string][]byte{DropIn: Render(pol)}})
	}
	var out []int
	for _, ov := range overlays {
		st, _, err := stage(env, ov)
		if err != nil {
			return nil, err
		}
		eff, err := Dump(ctx, env.Runner, st.main, "")
		st.Close()
		if err != nil {
			return nil, err
		}
		for _, p := range listenPorts(eff) {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// listenPorts reads the ports of sshd -T's "listenaddress HOST:PORT" lines
// ("[::]:22" for IPv6), or its "port" lines when it prints no address.
func listenPorts(eff Effective) []int {
	var out []int
	add := func(s string) {
		if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65536 && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	for _, la := range eff["listenaddress"] {
		if i := strings.LastIndexByte(la, ':'); i >= 0 && !strings.HasSuffix(la, "]") {
			add(la[i+1:])
		}
	}
	if len(out) == 0 {
		for _, p := range eff["port"] {
			add(p)
		}
	}
	return out
}
