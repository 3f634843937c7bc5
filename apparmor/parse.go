package apparmor

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// MaxProfileSize bounds what the parser reads: real profiles are a few KiB.
const MaxProfileSize = 4 << 20

// Parse reads the profiles in a profile file. file names the source in
// errors. Comments, blank lines, includes and variables are kept; rules
// ctsec does not model are kept verbatim as Raw. The preamble (abi,
// includes, variables, leading comments) goes to the first profile.
func Parse(file string, r io.Reader) ([]*Profile, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxProfileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	if len(data) > MaxProfileSize {
		return nil, &SyntaxError{File: file, Line: 1, Msg: fmt.Sprintf("larger than %d bytes", MaxProfileSize)}
	}
	toks, err := lex(file, string(data))
	if err != nil {
		return nil, err
	}
	p := &parser{file: file, toks: toks, src: string(data)}
	return p.parseFile()
}

// ParseProfile parses a file that must define exactly one profile.
func ParseProfile(file string, data []byte) (*Profile, error) {
	ps, err := Parse(file, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if len(ps) != 1 {
		return nil, &SyntaxError{File: file, Line: 1, Msg: fmt.Sprintf("want exactly one profile, found %d", len(ps))}
	}
	return ps[0], nil
}

// ParseRules parses rule lines as they would appear inside a profile body
// (e.g. the extra rules of a service spec). Blocks are refused.
func ParseRules(file, text string) ([]Rule, error) {
	if len(text) > MaxProfileSize {
		return nil, &SyntaxError{File: file, Line: 1, Msg: "rules too large"}
	}
	toks, err := lex(file, text)
	if err != nil {
		return nil, err
	}
	p := &parser{file: file, toks: toks, src: text}
	rules, err := p.body(false)
	if err != nil {
		return nil, err
	}
	if !p.eof() {
		return nil, p.errf(p.peek(), "unexpected %q", p.peek().text)
	}
	return rules, nil
}

type parser struct {
	file string
	src  string
	toks []token
	pos  int
}

func (p *parser) eof() bool { return p.pos >= len(p.toks) }

func (p *parser) peek() token {
	if p.eof() {
		t := token{kind: -1, text: "end of file", line: 1}
		if len(p.toks) > 0 {
			t.line = p.toks[len(p.toks)-1].line
		}
		return t
	}
	return p.toks[p.pos]
}

func (p *parser) next() token {
	t := p.peek()
	p.pos++
	return t
}

func (p *parser) errf(t token, format string, args ...any) error {
	return &SyntaxError{File: p.file, Line: t.line, Col: t.col, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parseFile() ([]*Profile, error) {
	var profiles []*Profile
	cur := &Profile{}
	for !p.eof() {
		t := p.peek()
		switch {
		case t.kind == tokComment:
			p.next()
			cur.Header = append(cur.Header, strings.TrimPrefix(t.text, " "))
		case t.kind == tokInclude || (t.kind == tokWord && t.text == "include"):
			inc, err := p.include()
			if err != nil {
				return nil, err
			}
			cur.Includes = append(cur.Includes, inc)
		case t.kind == tokWord && t.text == "abi":
			p.next()
			a := p.next()
			if a.kind != tokWord || !strings.HasPrefix(a.text, "<") || !strings.HasSuffix(a.text, ">") {
				return nil, p.errf(a, "abi wants <path>")
			}
			cur.ABI = a.text[1 : len(a.text)-1]
			// The renderer's check: a path it would refuse to write is
			// refused here, where the position is known.
			if err := (Include{Path: cur.ABI}).Validate(); err != nil {
				return nil, p.errf(a, "abi: %v", err)
			}
			if c := p.next(); c.kind != tokComma {
				return nil, p.errf(c, "abi rule needs a terminating comma")
			}
		case t.kind == tokWord && strings.HasPrefix(t.text, "@{"):
			v, err := p.variable()
			if err != nil {
				return nil, err
			}
			cur.Variables = append(cur.Variables, v)
		case t.kind == tokWord && t.text == "profile", t.kind == tokWord && strings.HasPrefix(t.text, "/"), t.kind == tokString:
			start := t.off
			if err := p.header(cur); err != nil {
				return nil, err
			}
			headerEnd := p.toks[p.pos-1].end
			rules, err := p.body(true)
			if err != nil {
				return nil, err
			}
			cur.Rules = rules
			cur.span = srcSpan{ok: true, headerStart: start, headerEnd: headerEnd, closeBrace: p.toks[p.pos-1].off}
			profiles = append(profiles, cur)
			cur = &Profile{}
		default:
			return nil, p.errf(t, "unexpected %q outside a profile", t.text)
		}
	}
	if len(profiles) == 0 {
		return nil, &SyntaxError{File: p.file, Line: p.peek().line, Msg: "no profile found"}
	}
	return profiles, nil
}

// include parses `include <x>`, `include "x"`, `include if exists <x>` and `#include <x>`.
func (p *parser) include() (Include, error) {
	t := p.next()
	var inc Include
	rest := ""
	if t.kind == tokInclude {
		inc.Legacy = true
		rest = strings.TrimSpace(strings.TrimPrefix(t.text, "#include"))
	} else {
		// collect the rest of the directive from the source line
		n := p.peek()
		if n.kind == tokWord && n.text == "if" {
			p.next()
			if e := p.next(); e.kind != tokWord || e.text != "exists" {
				return inc, p.errf(e, "want `include if exists`")
			}
			inc.IfExists = true
			n = p.peek()
		}
		p.next()
		switch n.kind {
		case tokString:
			rest = `"` + n.text + `"`
		case tokWord:
			rest = n.text
		default:
			return inc, p.errf(n, "include wants <path> or \"path\"")
		}
	}
	if strings.HasPrefix(rest, "if exists ") {
		inc.IfExists = true
		rest = strings.TrimSpace(strings.TrimPrefix(rest, "if exists "))
	}
	switch {
	case len(rest) > 2 && rest[0] == '<' && rest[len(rest)-1] == '>':
		inc.Path = rest[1 : len(rest)-1]
	case len(rest) > 2 && rest[0] == '"' && rest[len(rest)-1] == '"':
		inc.Path, inc.Quoted = rest[1:len(rest)-1], true
	default:
		return inc, p.errf(t, "include wants <path> or \"path\", not %q", rest)
	}
	if err := inc.Validate(); err != nil {
		return inc, p.errf(t, "%v", err)
	}
	return inc, nil
}

// variable parses `@{NAME}=v1 v2` or `@{NAME}+=v` up to the end of its line.
func (p *parser) variable() (Variable, error) {
	t := p.next()
	name, rest, ok := strings.Cut(t.text, "}")
	if !ok {
		return Variable{}, p.errf(t, "bad variable %q", t.text)
	}
	v := Variable{Name: strings.TrimPrefix(name, "@{")}
	rest = strings.TrimSpace(rest)
	if rest == "" {
		if n := p.peek(); n.kind == tokWord && !n.newlineBefore {
			p.next()
			rest = n.text
		}
	}
	switch {
	case strings.HasPrefix(rest, "+="):
		v.Append, rest = true, rest[2:]
	case strings.HasPrefix(rest, "="):
		rest = rest[1:]
	default:
		return v, p.errf(t, "variable @{%s} needs = or +=", v.Name)
	}
	if rest != "" {
		v.Values = append(v.Values, rest)
	}
	for !p.eof() {
		n := p.peek()
		if n.newlineBefore || (n.kind != tokWord && n.kind != tokString) {
			break
		}
		p.next()
		if n.kind == tokString {
			v.Values = append(v.Values, `"`+n.text+`"`)
		} else {
			v.Values = append(v.Values, n.text)
		}
	}
	if err := v.Validate(); err != nil {
		return v, p.errf(t, "%v", err)
	}
	return v, nil
}

// header parses `[profile] NAME [ATTACH] [flags=](FLAGS) {`.
func (p *parser) header(cur *Profile) error {
	t := p.next()
	keyword := t.kind == tokWord && t.text == "profile"
	if keyword {
		t = p.next()
	}
	switch t.kind {
	case tokWord, tokString:
		cur.Name = t.text
	default:
		return p.errf(t, "profile needs a name")
	}
	if err := ValidateName(cur.Name); err != nil {
		return p.errf(t, "%v", err)
	}
	if n := p.peek(); keyword && (n.kind == tokString || n.kind == tokWord && strings.HasPrefix(n.text, "/")) {
		p.next()
		g, err := ParseGlob(n.text)
		if err != nil {
			return p.errf(n, "attachment: %v", err)
		}
		cur.Attach = g
	}
	n := p.peek()
	if n.kind == tokWord && (n.text == "flags=" || n.text == "flags") {
		p.next()
		if n.text == "flags" {
			if e := p.next(); e.kind != tokWord || e.text != "=" {
				return p.errf(e, "want flags=(…)")
			}
		}
		n = p.peek()
	}
	if n.kind == tokWord && strings.HasPrefix(n.text, "flags=") && n.text != "flags=" {
		// flags=complain without parentheses
		p.next()
		cur.Flags = []string{strings.TrimPrefix(n.text, "flags=")}
		n = p.peek()
	} else if n.kind == tokOpen {
		flags, err := p.parenList()
		if err != nil {
			return err
		}
		cur.Flags = flags
		n = p.peek()
	}
	for _, f := range cur.Flags {
		if !knownFlags[f] {
			return p.errf(n, "unknown profile flag %q", f)
		}
	}
	if n.kind != tokBlockOpen {
		return p.errf(n, "want { after the profile header, found %q", n.text)
	}
	p.next()
	return nil
}

// child parses a nested `profile NAME {…}`, `hat NAME {…}` or `^NAME {…}`.
func (p *parser) child() (Child, error) {
	t := p.peek()
	c := Child{Profile: &Profile{}}
	switch {
	case t.text == "hat":
		p.next()
		c.Hat = true
	case strings.HasPrefix(t.text, "^"):
		c.Hat = true
		p.toks[p.pos].text = strings.TrimPrefix(t.text, "^")
	}
	if err := p.header(c.Profile); err != nil {
		return c, err
	}
	rules, err := p.body(true)
	if err != nil {
		return c, err
	}
	c.Profile.Rules = rules
	return c, nil
}

// parenList reads `( a, b c )` into words.
func (p *parser) parenList() ([]string, error) {
	open := p.next()
	if open.kind != tokOpen {
		return nil, p.errf(open, "want (")
	}
	var words []string
	for {
		t := p.next()
		switch t.kind {
		case tokClose:
			return words, nil
		case tokComma:
		case tokWord:
			words = append(words, t.text)
		case tokString:
			words = append(words, t.text)
		default:
			return nil, p.errf(open, "unclosed (")
		}
	}
}

// body parses rules up to the closing brace (inBlock) or the end of input.
func (p *parser) body(inBlock bool) ([]Rule, error) {
	var rules []Rule
	prevLine := 0
	for {
		if p.eof() {
			if inBlock {
				return nil, p.errf(p.peek(), "missing } at end of profile")
			}
			return rules, nil
		}
		t := p.peek()
		for k := 0; k < t.blankBefore && len(rules) > 0; k++ {
			rules = append(rules, Blank{})
		}
		switch t.kind {
		case tokBlockClose:
			if !inBlock {
				return nil, p.errf(t, "unexpected }")
			}
			p.next()
			return rules, nil
		case tokComment:
			p.next()
			rules = append(rules, Comment{Text: strings.TrimPrefix(t.text, " "), Trailing: !t.newlineBefore && t.line == prevLine})
			continue
		case tokInclude:
			inc, err := p.include()
			if err != nil {
				return nil, err
			}
			rules = append(rules, inc)
			prevLine = t.line
			continue
		case tokWord:
			if t.text == "profile" || t.text == "hat" || strings.HasPrefix(t.text, "^") {
				if !inBlock {
					return nil, p.errf(t, "a profile block is not a rule")
				}
				c, err := p.child()
				if err != nil {
					return nil, err
				}
				rules = append(rules, c)
				prevLine = p.toks[p.pos-1].line
				continue
			}
			if t.text == "include" {
				inc, err := p.include()
				if err != nil {
					return nil, err
				}
				rules = append(rules, inc)
				prevLine = t.line
				continue
			}
		}
		r, end, err := p.statement()
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
		prevLine = end.line
	}
}

// statement reads tokens up to the terminating comma and types them.
func (p *parser) statement() (Rule, token, error) {
	start := p.pos
	depth := 0
	for {
		if p.eof() {
			return nil, token{}, p.errf(p.toks[start], "rule is not terminated by a comma")
		}
		t := p.next()
		switch t.kind {
		case tokOpen:
			depth++
		case tokClose:
			depth--
		case tokBlockOpen:
			return nil, t, p.errf(p.toks[start], "nested profiles, hats and conditionals are not supported")
		case tokBlockClose:
			return nil, t, p.errf(p.toks[start], "rule is not terminated by a comma")
		case tokComment, tokInclude:
			return nil, t, p.errf(p.toks[start], "rule is not terminated by a comma before the comment")
		case tokComma:
			if depth > 0 {
				continue
			}
			toks := p.toks[start : p.pos-1]
			if len(toks) == 0 {
				return nil, t, p.errf(t, "empty rule")
			}
			r := typeRule(toks)
			if r != nil && r.Validate() == nil {
				return r, t, nil
			}
			if r == nil && isFileStatement(toks) {
				return nil, t, p.errf(toks[0], "%s", fileRuleProblem(toks))
			}
			// Not modelled, or values ctsec refuses to generate (a peer
			// pattern, say): kept verbatim when it is one well-formed rule.
			raw := Raw{Text: collapseSpace(p.src[toks[0].off:t.end])}
			if err := raw.Validate(); err != nil {
				if r != nil {
					err = r.Validate()
				}
				return nil, t, p.errf(toks[0], "%v", err)
			}
			return raw, t, nil
		}
	}
}

// collapseSpace joins a multi-line rule onto one line, outside quotes.
func collapseSpace(s string) string {
	var b strings.Builder
	inQuote, space := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inQuote {
			b.WriteByte(c)
			if c == '\\' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			} else if c == '"' {
				inQuote = false
			}
			continue
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(c)
		if c == '"' {
			inQuote = true
		}
	}
	return b.String()
}

// isFileStatement reports a file rule without a link or exec target: those
// ctsec models fully, so one it cannot type is an error, not a Raw rule.
func isFileStatement(toks []token) bool {
	for _, t := range toks {
		if t.kind == tokArrow {
			return false
		}
	}
	for _, t := range toks {
		switch {
		case t.kind == tokWord && (t.text == "audit" || t.text == "deny" || t.text == "allow" || t.text == "owner"):
			continue
		case t.kind == tokString, t.kind == tokWord && isPathWord(t.text):
			return true
		}
		return false
	}
	return false
}

// fileRuleProblem explains why a file rule did not parse.
func fileRuleProblem(toks []token) string {
	words := 0
	for _, t := range toks {
		if t.kind == tokWord && !isPathWord(t.text) && t.text != "audit" && t.text != "deny" && t.text != "allow" && t.text != "owner" {
			words++
			if _, _, err := SplitPerms(t.text); err != nil {
				return err.Error()
			}
		}
	}
	if words == 0 {
		return "file rule has no permissions"
	}
	return "malformed file rule (want [owner] PATH PERMISSIONS,)"
}
