package ssh

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

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
	for hp, data := range rec.files {
		out := filepath.Join(dir, hp)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			s.Close()
			return nil, nil, err
		}
		if err := os.WriteFile(out, rewriteIncludes(data, dir), 0o600); err != nil {
			s.Close()
			return nil, nil, err
		}
	}
	return s, cfg, nil
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
		return fmt.Errorf("sshd -t rejected the configuration (exit %d): %s", res.ExitCode, execx.FirstLine(append(res.Stderr, res.Stdout...)))
	}
	return nil
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
		return nil, fmt.Errorf("sshd -T (exit %d): %s", res.ExitCode, execx.FirstLine(append(res.Stderr, res.Stdout...)))
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
// under the root (sshd -T "port" lines).
func Ports(ctx context.Context, env *host.Env) ([]int, error) {
	st, _, err := stage(env, host.Overlay{Env: env})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	eff, err := Dump(ctx, env.Runner, st.main, "")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, p := range eff["port"] {
		if n, err := strconv.Atoi(p); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}
