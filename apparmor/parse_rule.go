package apparmor

import "strings"

// typeRule turns the tokens of one rule (without its comma) into a typed
// rule, or nil when the rule uses syntax ctsec does not model; the caller
// then keeps it verbatim.
func typeRule(toks []token) Rule {
	var q Qualifiers
	owner := false
	i := 0
qual:
	for ; i < len(toks) && toks[i].kind == tokWord; i++ {
		switch toks[i].text {
		case "audit":
			q.Audit = true
		case "deny":
			q.Deny = true
		case "allow":
		case "owner":
			owner = true
		default:
			break qual
		}
	}
	c := &cursor{toks: toks[i:]}
	if c.done() {
		return nil
	}
	head := c.peek()
	if owner && !(head.kind == tokString || head.kind == tokWord && (head.text == "file" || isPathWord(head.text) || isPermWord(head.text))) {
		return nil
	}
	if head.kind == tokWord {
		switch head.text {
		case "file":
			c.next()
			if c.done() {
				if owner {
					return nil
				}
				return File{Qualifiers: q}
			}
			return fileRule(c, q, owner)
		case "capability":
			c.next()
			r := Capability{Qualifiers: q}
			for !c.done() {
				t := c.next()
				if t.kind != tokWord {
					return nil
				}
				r.Names = append(r.Names, t.text)
			}
			return r
		case "network":
			return networkRule(c, q)
		case "signal":
			return signalRule(c, q)
		case "ptrace":
			return ptraceRule(c, q)
		case "mount":
			return mountRule(c, q)
		case "umount", "unmount":
			c.next()
			r := Umount{Qualifiers: q}
			if !c.done() {
				p, ok := c.path()
				if !ok || !c.done() {
					return nil
				}
				r.Point = p
			}
			return r
		case "pivot_root":
			return pivotRule(c, q)
		case "unix":
			return unixRule(c, q)
		case "change_profile":
			return changeProfileRule(c, q)
		case "dbus":
			return dbusRule(c, q)
		}
	}
	return fileRule(c, q, owner)
}

type cursor struct {
	toks []token
	i    int
}

func (c *cursor) done() bool { return c.i >= len(c.toks) }
func (c *cursor) peek() token {
	if c.done() {
		return token{kind: -1}
	}
	return c.toks[c.i]
}
func (c *cursor) next() token { t := c.peek(); c.i++; return t }

// path reads a quoted string or an unquoted path word as a glob (a parsed
// profile's paths keep their pattern meaning and their escapes).
func (c *cursor) path() (Path, bool) {
	t := c.peek()
	switch {
	case t.kind == tokString, t.kind == tokWord && t.text != "->":
		c.next()
		return Path{text: t.text, glob: true}, true
	}
	return Path{}, false
}

// value reads the value of key= : the rest of a `key=value` word, or the
// following string, word or parenthesised list.
func (c *cursor) value(t token, key string) ([]string, bool) {
	if v := strings.TrimPrefix(t.text, key+"="); v != "" {
		return []string{v}, true
	}
	n := c.peek()
	switch n.kind {
	case tokString, tokWord:
		c.next()
		return []string{n.text}, true
	case tokOpen:
		c.next()
		var words []string
		for !c.done() {
			w := c.next()
			switch w.kind {
			case tokClose:
				return words, true
			case tokComma:
			case tokWord, tokString:
				words = append(words, w.text)
			default:
				return nil, false
			}
		}
	}
	return nil, false
}

// single reads a key that must hold exactly one value. ok is false for a
// list or a missing value: the caller then keeps the rule verbatim.
func (c *cursor) single(t token, key string) (string, bool) {
	v, ok := c.value(t, key)
	if !ok || len(v) != 1 {
		return "", false
	}
	return v[0], true
}

// literalAddr is single for a unix address, which ctsec models only as a
// literal: a pattern leaves the rule verbatim.
func (c *cursor) literalAddr(t token) (string, bool) {
	v, ok := c.single(t, "addr")
	if !ok || strings.ContainsAny(v, `\*?[]{}^"`) {
		return "", false
	}
	return v, true
}

// target reads an optional `-> NAME`; false means the rule is malformed.
func (c *cursor) target() (string, bool) {
	if c.peek().kind != tokArrow {
		return "", true
	}
	c.next()
	n := c.next()
	if n.kind != tokWord && n.kind != tokString {
		return "", false
	}
	return n.text, true
}

// keyOf returns the key of a `key=` word.
func keyOf(t token) string {
	if t.kind != tokWord {
		return ""
	}
	k, _, ok := strings.Cut(t.text, "=")
	if !ok {
		return ""
	}
	return k
}

// perms reads `(a, b)` or a single permission word.
func (c *cursor) perms(allowed map[string]bool) ([]string, bool) {
	t := c.peek()
	if t.kind == tokOpen {
		c.next()
		var words []string
		for !c.done() {
			w := c.next()
			switch w.kind {
			case tokClose:
				return words, true
			case tokComma:
			case tokWord:
				words = append(words, w.text)
			default:
				return nil, false
			}
		}
		return nil, false
	}
	if t.kind == tokWord && allowed[t.text] {
		c.next()
		return []string{t.text}, true
	}
	return nil, true
}

func isPathWord(s string) bool { return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "@{") }

func isPermWord(s string) bool {
	_, _, err := SplitPerms(s)
	return err == nil && s != ""
}

func fileRule(c *cursor, q Qualifiers, owner bool) Rule {
	r := File{Qualifiers: q, Owner: owner}
	t := c.peek()
	var permWord string
	switch {
	case t.kind == tokString || t.kind == tokWord && isPathWord(t.text):
		r.Path, _ = c.path()
		pw := c.next()
		if pw.kind != tokWord {
			return nil
		}
		permWord = pw.text
	case t.kind == tokWord && isPermWord(t.text):
		// the perms-first form: `rw /path,`
		c.next()
		permWord = t.text
		p, ok := c.path()
		if !ok {
			return nil
		}
		r.Path = p
	default:
		return nil
	}
	var err error
	if r.Perms, r.Exec, err = SplitPerms(permWord); err != nil {
		return nil
	}
	var ok bool
	if r.Target, ok = c.target(); !ok || !c.done() {
		return nil
	}
	return r
}

func networkRule(c *cursor, q Qualifiers) Rule {
	c.next()
	r := Network{Qualifiers: q}
	for !c.done() {
		t := c.next()
		if t.kind != tokWord {
			return nil
		}
		switch {
		case r.Family == "" && r.Type == "" && r.Protocol == "" && NetworkFamilies[t.text]:
			r.Family = t.text
		case r.Type == "" && r.Protocol == "" && NetworkTypes[t.text]:
			r.Type = t.text
		case r.Protocol == "" && NetworkProtocols[t.text]:
			r.Protocol = t.text
		default:
			return nil
		}
	}
	return r
}

func signalRule(c *cursor, q Qualifiers) Rule {
	c.next()
	r := Signal{Qualifiers: q}
	var ok bool
	if r.Perms, ok = c.perms(setOf("send", "receive", "r", "w", "rw")); !ok {
		return nil
	}
	for !c.done() {
		t := c.next()
		switch keyOf(t) {
		case "set":
			if r.Set, ok = c.value(t, "set"); !ok {
				return nil
			}
		case "peer":
			v, ok := c.single(t, "peer")
			if !ok {
				return nil
			}
			r.Peer = v
		default:
			return nil
		}
	}
	return r
}

func ptraceRule(c *cursor, q Qualifiers) Rule {
	c.next()
	r := Ptrace{Qualifiers: q}
	var ok bool
	if r.Perms, ok = c.perms(setOf("trace", "tracedby", "read", "readby", "r", "w", "rw")); !ok {
		return nil
	}
	for !c.done() {
		t := c.next()
		if keyOf(t) != "peer" {
			return nil
		}
		v, ok := c.single(t, "peer")
		if !ok {
			return nil
		}
		r.Peer = v
	}
	return r
}

func mountRule(c *cursor, q Qualifiers) Rule {
	c.next()
	r := Mount{Qualifiers: q}
	var ok bool
	for !c.done() {
		t := c.peek()
		switch keyOf(t) {
		case "fstype":
			c.next()
			if r.FSTypes, ok = c.value(t, "fstype"); !ok {
				return nil
			}
			continue
		case "options":
			c.next()
			if r.Options, ok = c.value(t, "options"); !ok {
				return nil
			}
			continue
		case "":
		default:
			return nil
		}
		if t.kind == tokArrow {
			c.next()
			if r.Point, ok = c.path(); !ok || !c.done() {
				return nil
			}
			return r
		}
		if !r.Source.IsZero() {
			return nil
		}
		if r.Source, ok = c.path(); !ok {
			return nil
		}
	}
	return r
}

func pivotRule(c *cursor, q Qualifiers) Rule {
	c.next()
	r := PivotRoot{Qualifiers: q}
	for !c.done() {
		t := c.peek()
		switch {
		case keyOf(t) == "oldroot":
			c.next()
			v, ok := c.single(t, "oldroot")
			if !ok {
				return nil
			}
			r.OldRoot = Path{text: v, glob: true}
		case t.kind == tokArrow:
			c.next()
			n := c.next()
			if (n.kind != tokWord && n.kind != tokString) || !c.done() {
				return nil
			}
			r.Target = n.text
		case r.NewRoot.IsZero():
			var ok bool
			if r.NewRoot, ok = c.path(); !ok {
				return nil
			}
		default:
			return nil
		}
	}
	return r
}

func unixRule(c *cursor, q Qualifiers) Rule {
	c.next()
	r := Unix{Qualifiers: q}
	var ok bool
	if r.Perms, ok = c.perms(setOf("create", "bind", "listen", "accept", "connect", "shutdown",
		"getattr", "setattr", "getopt", "setopt", "send", "receive", "r", "w", "rw")); !ok {
		return nil
	}
	for !c.done() {
		t := c.next()
		switch keyOf(t) {
		case "type":
			v, ok := c.single(t, "type")
			if !ok {
				return nil
			}
			r.Type = v
		case "addr":
			v, ok := c.literalAddr(t)
			if !ok {
				return nil // a pattern: kept verbatim
			}
			r.Addr = v
		case "peer":
			if c.peek().kind != tokOpen {
				return nil
			}
			c.next()
			for {
				w := c.next()
				if w.kind == tokClose {
					break
				}
				switch keyOf(w) {
				case "label":
					v, ok := c.single(w, "label")
					if !ok {
						return nil
					}
					r.PeerLabel = v
				case "addr":
					v, ok := c.literalAddr(w)
					if !ok {
						return nil
					}
					r.PeerAddr = v
				default:
					if w.kind != tokComma {
						return nil
					}
				}
			}
		default:
			return nil
		}
	}
	return r
}

// dbusRule reads the D-Bus rules ctsec writes and their hand-written
// equivalents; values outside the D-Bus grammar (patterns) leave the rule
// verbatim, since DBus renders its values unescaped.
func dbusRule(c *cursor, q Qualifiers) Rule {
	c.next()
	r := DBus{Qualifiers: q}
	var ok, topName bool
	if r.Perms, ok = c.perms(setOf("send", "receive", "bind", "eavesdrop", "r", "w", "rw")); !ok {
		return nil
	}
	one := func(t token, key string, dst *string) bool {
		v, ok := c.single(t, key)
		if !ok || *dst != "" {
			return false
		}
		*dst = v
		return true
	}
	for !c.done() {
		t := c.next()
		key := keyOf(t)
		switch key {
		case "bus":
			ok = one(t, key, &r.Bus)
		case "path":
			ok = one(t, key, &r.Path)
		case "interface":
			ok = one(t, key, &r.Interface)
		case "member":
			ok = one(t, key, &r.Member)
		case "name":
			ok = one(t, key, &r.Name)
			topName = true
		case "peer":
			ok = t.text == "peer=" && c.peek().kind == tokOpen
			if ok {
				c.next()
				ok = dbusPeer(c, &r)
			}
		default:
			ok = false
		}
		if !ok {
			return nil
		}
	}
	// A bind rule names its own bus name; other rules name the peer's. The
	// renderer writes the name where its permission puts it, so a rule with
	// the name in the other place would change meaning: keep it verbatim.
	if topName != r.isBind() && r.Name != "" || r.Validate() != nil {
		return nil
	}
	return r
}

// dbusPeer reads `name="N", label="L")` after `peer=(`.
func dbusPeer(c *cursor, r *DBus) bool {
	for !c.done() {
		w := c.next()
		switch keyOf(w) {
		case "name":
			v, ok := c.single(w, "name")
			if !ok || r.Name != "" {
				return false
			}
			r.Name = v
		case "label":
			v, ok := c.single(w, "label")
			if !ok || r.PeerLabel != "" {
				return false
			}
			r.PeerLabel = v
		default:
			if w.kind == tokClose {
				return true
			}
			if w.kind != tokComma {
				return false
			}
		}
	}
	return false
}

func changeProfileRule(c *cursor, q Qualifiers) Rule {
	c.next()
	r := ChangeProfile{Qualifiers: q}
	if t := c.peek(); t.kind == tokString || t.kind == tokWord && isPathWord(t.text) {
		r.Exec, _ = c.path()
	}
	var ok bool
	if r.Target, ok = c.target(); !ok || !c.done() {
		return nil
	}
	return r
}
