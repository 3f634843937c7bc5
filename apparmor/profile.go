package apparmor

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Profile is one AppArmor profile together with the preamble of the file it
// lives in (abi, includes, variables, leading comments).
type Profile struct {
	// Header holds the comment lines before everything else, without "# ".
	Header []string
	// ABI selects a feature ABI, e.g. "abi/3.0" renders `abi <abi/3.0>,`.
	ABI       string
	Includes  []Include
	Variables []Variable

	Name   string
	Attach Path     // optional attachment pattern (the executable it confines)
	Flags  []string // e.g. attach_disconnected, mediate_deleted, complain
	Rules  []Rule

	// span locates a parsed top-level profile in its file, so a change of
	// mode or added rules can be edited into the text (see editFile).
	span srcSpan
}

// srcSpan holds byte offsets into the parsed source: the header from its
// first token to the end of its `{`, and the closing `}`.
type srcSpan struct {
	ok                                 bool
	headerStart, headerEnd, closeBrace int
}

// Variable is a preamble assignment `@{NAME}=VALUE...` (or `+=`).
type Variable struct {
	Name   string
	Values []string
	Append bool
}

func (v Variable) String() string {
	op := "="
	if v.Append {
		op = "+="
	}
	return "@{" + v.Name + "}" + op + strings.Join(v.Values, " ")
}

// Validate accepts identifier names and values without white space, quotes,
// comments or control characters (values are written unquoted).
func (v Variable) Validate() error {
	if !isIdent(v.Name) || strings.ContainsAny(v.Name, "-.") {
		return fmt.Errorf("variable name %q is not an identifier", v.Name)
	}
	if len(v.Values) == 0 {
		return fmt.Errorf("variable @{%s} has no value", v.Name)
	}
	for _, val := range v.Values {
		if val == "" || strings.ContainsAny(val, " \t\"#,\\()=<>") || !isValueStart(val[0]) {
			return fmt.Errorf("variable @{%s} value %q is not a plain path or word", v.Name, val)
		}
		for _, c := range []byte(val) {
			if c < 0x20 || c == 0x7f {
				return fmt.Errorf("variable @{%s} value %q contains a control character", v.Name, val)
			}
		}
		if err := checkGlob(val); err != nil {
			return fmt.Errorf("variable @{%s}: %w", v.Name, err)
		}
	}
	return nil
}

// isValueStart keeps a value from starting like a block, a list or an operator.
func isValueStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/@._~-", c) >= 0
}

// Flags known to apparmor_parser 3.x; others are refused rather than passed on.
var knownFlags = setOf("complain", "enforce", "kill", "unconfined", "audit", "chroot_relative",
	"namespace_relative", "mediate_deleted", "delegate_deleted", "attach_disconnected",
	"no_attach_disconnected", "chroot_attach", "chroot_no_attach", "prompt", "default_allow")

// Mode is complain, enforce (or another mode flag) as the flags say.
func (p *Profile) Mode() string {
	for _, f := range p.Flags {
		switch f {
		case "complain", "kill", "unconfined", "prompt", "default_allow":
			return f
		}
	}
	return "enforce"
}

// SetMode switches the profile between complain and enforce, dropping the
// other mode flags as aa-complain/aa-enforce do.
func (p *Profile) SetMode(mode string) error {
	if mode != "complain" && mode != "enforce" {
		return fmt.Errorf("mode %q: want complain or enforce", mode)
	}
	var kept []string
	for _, f := range p.Flags {
		switch f {
		case "complain", "enforce", "kill", "unconfined", "prompt", "default_allow":
		default:
			kept = append(kept, f)
		}
	}
	if mode == "complain" {
		kept = append(kept, "complain")
	}
	p.Flags = kept
	return nil
}

// Has reports whether the profile already holds an equal rule.
func (p *Profile) Has(r Rule) bool {
	key := r.String()
	for _, x := range p.Rules {
		if IsPolicy(x) && x.String() == key {
			return true
		}
	}
	return false
}

// RuleSet is the canonical text of every policy rule, for de-duplicating
// many candidate rules (e.g. from a week of logs) in one pass.
func (p *Profile) RuleSet() map[string]bool {
	set := make(map[string]bool, len(p.Rules))
	for _, x := range p.Rules {
		if IsPolicy(x) {
			set[x.String()] = true
		}
	}
	return set
}

// Add appends the rules the profile does not hold yet and returns how many
// were added.
func (p *Profile) Add(rules ...Rule) int {
	set := p.RuleSet()
	n := 0
	for _, r := range rules {
		if IsPolicy(r) {
			key := r.String()
			if set[key] {
				continue
			}
			set[key] = true
		}
		p.Rules = append(p.Rules, r)
		n++
	}
	return n
}

// RuleCount is the number of policy rules (not comments or blank lines).
func (p *Profile) RuleCount() int {
	n := 0
	for _, r := range p.Rules {
		if IsPolicy(r) {
			n++
		}
	}
	return n
}

// Validate checks every typed value that will be rendered.
func (p *Profile) Validate() error {
	for _, h := range p.Header {
		if err := (Comment{Text: h}).Validate(); err != nil {
			return err
		}
	}
	if p.ABI != "" {
		if err := (Include{Path: p.ABI}).Validate(); err != nil {
			return fmt.Errorf("abi: %w", err)
		}
	}
	for _, i := range p.Includes {
		if err := i.Validate(); err != nil {
			return err
		}
	}
	for _, v := range p.Variables {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	return p.validateBody()
}

func (p *Profile) validateBody() error {
	if err := ValidateName(p.Name); err != nil {
		return err
	}
	if !p.Attach.IsZero() {
		if err := p.Attach.Validate(); err != nil {
			return fmt.Errorf("attachment: %w", err)
		}
	}
	for _, f := range p.Flags {
		if !knownFlags[f] {
			return fmt.Errorf("unknown profile flag %q", f)
		}
	}
	for i, r := range p.Rules {
		if r == nil {
			return fmt.Errorf("rule %d is nil", i+1)
		}
		if err := r.Validate(); err != nil {
			return fmt.Errorf("rule %d: %w", i+1, err)
		}
	}
	return nil
}

// Render validates the profile and writes it. Nothing is written when
// validation fails.
func (p *Profile) Render(w io.Writer) error {
	b, err := p.Bytes()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Bytes validates and renders the profile.
func (p *Profile) Bytes() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("profile %q: %w", p.Name, err)
	}
	var b bytes.Buffer
	for _, h := range p.Header {
		b.WriteString(Comment{Text: h}.String() + "\n")
	}
	if p.ABI != "" {
		b.WriteString("abi <" + p.ABI + ">,\n")
	}
	for _, i := range p.Includes {
		b.WriteString(i.String() + "\n")
	}
	for _, v := range p.Variables {
		b.WriteString(v.String() + "\n")
	}
	if len(p.Header)+len(p.Includes)+len(p.Variables) > 0 || p.ABI != "" {
		b.WriteString("\n")
	}
	b.WriteString("profile " + quoteName(p.Name))
	p.writeBody(&b, "")
	b.WriteString("\n")
	return b.Bytes(), nil
}

// headerLine renders `profile NAME [ATTACH] [flags=(…)] {`.
func (p *Profile) headerLine() string {
	var b bytes.Buffer
	b.WriteString("profile " + quoteName(p.Name))
	p.writeHeaderTail(&b)
	return b.String()
}

func (p *Profile) writeHeaderTail(b *bytes.Buffer) {
	if !p.Attach.IsZero() {
		b.WriteString(" " + p.Attach.String())
	}
	if len(p.Flags) > 0 {
		b.WriteString(" flags=(" + strings.Join(p.Flags, ",") + ")")
	}
	b.WriteString(" {")
}

// writeBody writes ` [ATTACH] [flags=(…)] {`, the rules indented under
// indent, and the closing brace.
func (p *Profile) writeBody(b *bytes.Buffer, indent string) {
	p.writeHeaderTail(b)
	b.WriteString("\n")
	in := indent + "  "
	for _, r := range p.Rules {
		switch r := r.(type) {
		case Blank:
			b.WriteString("\n")
		case Comment:
			if r.Trailing && bytes.HasSuffix(b.Bytes(), []byte(",\n")) {
				b.Truncate(b.Len() - 1)
				b.WriteString("  " + r.String() + "\n")
				continue
			}
			b.WriteString(in + r.String() + "\n")
		case Child:
			b.WriteString(in)
			r.write(b, in)
			b.WriteString("\n")
		default:
			b.WriteString(in + r.String() + "\n")
		}
	}
	b.WriteString(indent + "}")
}

// String renders the profile, or a comment naming the validation error: use
// Bytes or Render where the error matters.
func (p *Profile) String() string {
	b, err := p.Bytes()
	if err != nil {
		return "# invalid profile: " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n"
	}
	return string(b)
}

// Child is a child profile or hat nested in a profile body
// (`profile NAME {…}` or `^NAME {…}`). Its preamble fields are unused.
type Child struct {
	Profile *Profile
	Hat     bool
}

func (c Child) String() string {
	var b bytes.Buffer
	c.write(&b, "")
	return strings.TrimSuffix(b.String(), "\n")
}

// Validate checks the nested profile (its name may be a plain hat name).
func (c Child) Validate() error {
	if c.Profile == nil {
		return fmt.Errorf("empty child profile")
	}
	return c.Profile.validateBody()
}

func (c Child) write(b *bytes.Buffer, indent string) {
	p := c.Profile
	if c.Hat {
		b.WriteString("^" + p.Name)
	} else {
		b.WriteString("profile " + quoteName(p.Name))
	}
	p.writeBody(b, indent)
}
