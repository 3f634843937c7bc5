// Package ssh is the SSH module of ctsec host: it audits the effective sshd
// configuration (sshd -T, per Match block) and where each value comes from,
// and hardens it through /etc/ssh/sshd_config.d/00-ctsec.conf, which sorts
// first and so wins (sshd keeps the first value it reads).
package ssh

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/ctsec/ctsec/host"
)

// Directive is one configuration line, after Include expansion.
type Directive struct {
	Keyword string   // lower case, aliases resolved to the name sshd -T prints
	Raw     string   // keyword as written
	Args    []string // unquoted arguments
	File    string   // host path
	Line    int
	// Match is the Match line this directive is under, nil in global context.
	Match *Directive
}

// Config is a parsed sshd configuration.
type Config struct {
	Directives []Directive
	// Files lists every file read, in order.
	Files []string
	// Includes lists the Include patterns met, for checking that
	// sshd_config.d is read before the main file's settings.
	Includes []Directive
	// inMatch indexes the directives under each Match line, so reading
	// every block stays linear in the file.
	inMatch map[location][]int
}

type location struct {
	file string
	line int
}

// Source reads host paths for the parser: the files under a root, possibly
// with planned content laid over them.
type Source interface {
	ReadFile(hostPath string) ([]byte, error)
	Glob(hostPattern string) ([]string, error)
}

// ParseError locates a malformed line.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Canonical is the sshd -T name of a keyword.
func Canonical(keyword string) string { return host.SSHCanonical(keyword) }

const maxIncludeDepth = 16

// keyword is the shape of every sshd_config keyword.
var keyword = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,63}$`) })

// Parse reads the configuration starting at mainPath (a host path),
// expanding Include as sshd does: globs in lexical order, relative paths
// under /etc/ssh, an Include inside Match belonging to that Match, and a
// Match ending at the end of the file it starts in.
func Parse(src Source, mainPath string) (*Config, error) {
	c := &Config{}
	if err := c.parseFile(src, mainPath, nil, 0); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) parseFile(src Source, file string, match *Directive, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("%s: Include nested deeper than %d", file, maxIncludeDepth)
	}
	data, err := src.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading sshd configuration: %w", err)
	}
	c.Files = append(c.Files, file)
	cur := match
	for i, line := range strings.Split(string(data), "\n") {
		d, ok, err := parseLine(line)
		if err != nil {
			return &ParseError{File: file, Line: i + 1, Msg: err.Error()}
		}
		if ok && !keyword().MatchString(d.Raw) {
			// Never quote it: an Include can reach any file (../../etc/shadow),
			// and this line may be a secret.
			return &ParseError{File: file, Line: i + 1, Msg: "not an sshd keyword (sshd would refuse this line too)"}
		}
		if !ok {
			continue
		}
		d.File, d.Line = file, i+1
		if d.Keyword == "match" {
			if len(d.Args) == 0 {
				return &ParseError{File: file, Line: i + 1, Msg: "Match without criteria"}
			}
			// "Match all" is still a Match block: what follows applies to
			// every connection but only after the global values were taken.
			m := d
			cur = &m
			c.Directives = append(c.Directives, d)
			continue
		}
		d.Match = cur
		if cur != nil && d.Keyword != "include" {
			if c.inMatch == nil {
				c.inMatch = map[location][]int{}
			}
			k := location{cur.File, cur.Line}
			c.inMatch[k] = append(c.inMatch[k], len(c.Directives))
		}
		if d.Keyword == "include" {
			if len(d.Args) == 0 {
				return &ParseError{File: file, Line: i + 1, Msg: "Include without a path"}
			}
			c.Includes = append(c.Includes, d)
			for _, pat := range d.Args {
				if !path.IsAbs(pat) {
					pat = path.Join("/etc/ssh", pat)
				}
				files, err := src.Glob(pat)
				if err != nil {
					return &ParseError{File: file, Line: i + 1, Msg: fmt.Sprintf("Include %q: %v", pat, err)}
				}
				sort.Strings(files)
				for _, f := range files {
					if err := c.parseFile(src, f, cur, depth+1); err != nil {
						return err
					}
				}
			}
			continue
		}
		c.Directives = append(c.Directives, d)
	}
	return nil
}

// parseLine splits one line into keyword and arguments the way sshd's
// argv_split does: whitespace or one "=" after the keyword, double quotes
// group words, "#" starts a comment outside quotes.
func parseLine(line string) (Directive, bool, error) {
	s := strings.TrimSpace(line)
	if s == "" || s[0] == '#' {
		return Directive{}, false, nil
	}
	end := strings.IndexAny(s, " \t=")
	if end < 0 {
		end = len(s)
	}
	kw := s[:end]
	rest := strings.TrimLeft(s[end:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	if kw == "" {
		return Directive{}, false, fmt.Errorf("missing keyword")
	}
	args, err := splitArgs(rest)
	if err != nil {
		return Directive{}, false, fmt.Errorf("%s: %v", kw, err)
	}
	return Directive{Keyword: Canonical(kw), Raw: kw, Args: args}, true, nil
}

func splitArgs(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '"':
			inQuote = !inQuote
			have = true
		case ch == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			i++
			cur.WriteByte(s[i])
			have = true
		case !inQuote && (ch == ' ' || ch == '\t'):
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		case !inQuote && ch == '#':
			if have {
				args = append(args, cur.String())
			}
			return args, nil
		default:
			cur.WriteByte(ch)
			have = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote")
	}
	if have {
		args = append(args, cur.String())
	}
	return args, nil
}

// First returns the directive that sets keyword in global context: the
// first one read, which is the one sshd uses.
func (c *Config) First(keyword string) (Directive, bool) {
	keyword = Canonical(keyword)
	for _, d := range c.Directives {
		if d.Match == nil && d.Keyword == keyword {
			return d, true
		}
	}
	return Directive{}, false
}

// All returns every global directive setting keyword, in reading order.
func (c *Config) All(keyword string) []Directive {
	keyword = Canonical(keyword)
	var out []Directive
	for _, d := range c.Directives {
		if d.Match == nil && d.Keyword == keyword {
			out = append(out, d)
		}
	}
	return out
}

// Matches returns the Match lines, in order.
func (c *Config) Matches() []Directive {
	var out []Directive
	for _, d := range c.Directives {
		if d.Keyword == "match" {
			out = append(out, d)
		}
	}
	return out
}

// InMatch returns the directives under a Match line.
func (c *Config) InMatch(m Directive) []Directive {
	var out []Directive
	for _, i := range c.inMatch[location{m.File, m.Line}] {
		out = append(out, c.Directives[i])
	}
	return out
}

// IncludesPath reports whether a global Include pattern reads hostPath,
// and where: the drop-in only wins if it is included before any setting.
func (c *Config) IncludesPath(hostPath string) (Directive, bool) {
	for _, inc := range c.Includes {
		if inc.Match != nil {
			continue
		}
		for _, pat := range inc.Args {
			if !path.IsAbs(pat) {
				pat = path.Join("/etc/ssh", pat)
			}
			if ok, _ := filepath.Match(pat, hostPath); ok {
				return inc, true
			}
		}
	}
	return Directive{}, false
}

// Location is "file:line" of a directive.
func (d Directive) Location() string { return fmt.Sprintf("%s:%d", d.File, d.Line) }

// Value is the directive's arguments joined as sshd -T prints them.
func (d Directive) Value() string { return strings.ToLower(strings.Join(d.Args, " ")) }
