// Package updates is the unattended-upgrades module of ctsec host: it
// reports whether automatic upgrades are on, really security-only and when
// they run, and writes an apt.conf.d file that replaces the origin list
// with "#clear" plus a timer drop-in for the schedule.
package updates

import (
	"fmt"
	"strings"
)

// Op is one effect of an apt configuration file on the tree.
type Op struct {
	Kind  string // "set" (scalar), "item" (list entry), "clear"
	Key   string // e.g. "Unattended-Upgrade::Origins-Pattern"
	Value string
	File  string
	Line  int
}

// ParseError locates a syntax error.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ParseAptConf reads apt.conf(5) syntax: "Key::Sub "value";", scopes
// "Key { Sub "v"; };", list entries ""v";" inside a scope, "#clear Key;",
// comments "//", "/* */" and "#" lines.
func ParseAptConf(file string, data []byte) ([]Op, error) {
	p := &aptParser{file: file, src: string(data), line: 1}
	return p.parse()
}

type aptParser struct {
	file  string
	src   string
	pos   int
	line  int
	ops   []Op
	scope []string
}

func (p *aptParser) errf(format string, args ...any) error {
	return &ParseError{File: p.file, Line: p.line, Msg: fmt.Sprintf(format, args...)}
}

func (p *aptParser) skipSpace() error {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '\n':
			p.line++
			p.pos++
		case c == ' ' || c == '\t' || c == '\r':
			p.pos++
		case strings.HasPrefix(p.src[p.pos:], "//"):
			p.skipLine()
		case strings.HasPrefix(p.src[p.pos:], "/*"):
			end := strings.Index(p.src[p.pos+2:], "*/")
			if end < 0 {
				return p.errf("unterminated /* comment")
			}
			p.line += strings.Count(p.src[p.pos:p.pos+2+end], "\n")
			p.pos += end + 4
		case c == '#' && !strings.HasPrefix(p.src[p.pos:], "#clear") && !strings.HasPrefix(p.src[p.pos:], "#include"):
			p.skipLine()
		default:
			return nil
		}
	}
	return nil
}

func (p *aptParser) skipLine() {
	for p.pos < len(p.src) && p.src[p.pos] != '\n' {
		p.pos++
	}
}

func (p *aptParser) word() string {
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == ';' || c == '{' || c == '}' {
			break
		}
		p.pos++
	}
	return p.src[start:p.pos]
}

func (p *aptParser) quoted() (string, error) {
	p.pos++ // opening quote
	end := strings.IndexByte(p.src[p.pos:], '"')
	if end < 0 {
		return "", p.errf("unterminated string")
	}
	s := p.src[p.pos : p.pos+end]
	p.line += strings.Count(s, "\n")
	p.pos += end + 1
	return s, nil
}

func (p *aptParser) full(key string) string {
	key = strings.Trim(key, ":")
	if len(p.scope) == 0 {
		return key
	}
	if key == "" {
		return strings.Join(p.scope, "::")
	}
	return strings.Join(p.scope, "::") + "::" + key
}

func (p *aptParser) expect(c byte) error {
	if err := p.skipSpace(); err != nil {
		return err
	}
	if p.pos >= len(p.src) || p.src[p.pos] != c {
		return p.errf("expected %q", c)
	}
	p.pos++
	return nil
}

func (p *aptParser) parse() ([]Op, error) {
	for {
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.pos >= len(p.src) {
			if len(p.scope) > 0 {
				return nil, p.errf("unclosed scope %q", strings.Join(p.scope, "::"))
			}
			return p.ops, nil
		}
		line := p.line
		switch c := p.src[p.pos]; {
		case c == '}':
			if len(p.scope) == 0 {
				return nil, p.errf("'}' without an open scope")
			}
			p.pos++
			p.scope = p.scope[:len(p.scope)-1]
			if err := p.expect(';'); err != nil {
				return nil, err
			}
		case c == '"':
			v, err := p.quoted()
			if err != nil {
				return nil, err
			}
			if len(p.scope) == 0 {
				return nil, p.errf("list value %q outside a scope", v)
			}
			p.ops = append(p.ops, Op{Kind: "item", Key: p.full(""), Value: v, File: p.file, Line: line})
			if err := p.expect(';'); err != nil {
				return nil, err
			}
		case c == '#':
			directive := p.word()
			p.skipSpace()
			arg := p.word()
			if directive == "#clear" {
				p.ops = append(p.ops, Op{Kind: "clear", Key: p.full(arg), File: p.file, Line: line})
			}
			if err := p.expect(';'); err != nil {
				return nil, err
			}
		default:
			key := p.word()
			if key == "" {
				return nil, p.errf("unexpected %q", c)
			}
			if err := p.skipSpace(); err != nil {
				return nil, err
			}
			if p.pos >= len(p.src) {
				return nil, p.errf("%s: missing value", key)
			}
			switch p.src[p.pos] {
			case '{':
				p.pos++
				if len(p.scope) >= 32 {
					return nil, p.errf("scopes nested too deeply")
				}
				p.scope = append(p.scope, strings.Trim(key, ":"))
			case '"':
				v, err := p.quoted()
				if err != nil {
					return nil, err
				}
				if err := p.skipSpace(); err != nil {
					return nil, err
				}
				if p.pos < len(p.src) && p.src[p.pos] == '{' {
					// "Key "value" { … };" names a scope by value; treat as scope.
					p.pos++
					p.scope = append(p.scope, strings.Trim(key, ":"), v)
					continue
				}
				kind := "set"
				if strings.HasSuffix(key, "::") {
					kind = "item" // "List:: "v";" appends
				}
				p.ops = append(p.ops, Op{Kind: kind, Key: p.full(key), Value: v, File: p.file, Line: line})
				if err := p.expect(';'); err != nil {
					return nil, err
				}
			default:
				v := p.word()
				p.ops = append(p.ops, Op{Kind: "set", Key: p.full(key), Value: v, File: p.file, Line: line})
				if err := p.expect(';'); err != nil {
					return nil, err
				}
			}
		}
	}
}

// Tree is the evaluated configuration: scalars (last wins) and lists
// (appended across files, reset by #clear).
type Tree struct {
	Scalars map[string]Op
	Lists   map[string][]Op
}

// Eval applies ops in order. Keys compare case-insensitively, as in apt.
func Eval(ops []Op) Tree {
	t := Tree{Scalars: map[string]Op{}, Lists: map[string][]Op{}}
	for _, op := range ops {
		k := strings.ToLower(op.Key)
		switch op.Kind {
		case "set":
			t.Scalars[k] = op
		case "item":
			t.Lists[k] = append(t.Lists[k], op)
		case "clear":
			for sk := range t.Scalars {
				if sk == k || strings.HasPrefix(sk, k+"::") {
					delete(t.Scalars, sk)
				}
			}
			for lk := range t.Lists {
				if lk == k || strings.HasPrefix(lk, k+"::") {
					delete(t.Lists, lk)
				}
			}
		}
	}
	return t
}

// Scalar is a scalar's value and where it is set.
func (t Tree) Scalar(key string) (Op, bool) {
	op, ok := t.Scalars[strings.ToLower(key)]
	return op, ok
}

// List is a list's entries.
func (t Tree) List(key string) []Op { return t.Lists[strings.ToLower(key)] }
