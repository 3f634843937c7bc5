// Package fail2ban is the fail2ban module of ctsec host: it reports the
// effective jail (fail2ban-client -d) with the file each value comes from
// (jail.conf, jail.d/*.conf, jail.local, jail.d/*.local; later wins, and a
// jail section beats [DEFAULT] whatever the file), and writes
// /etc/fail2ban/jail.d/ctsec.local, read last.
package fail2ban

import (
	"fmt"
	"sort"
	"strings"
)

// Entry is one "key = value" of a section, continuation lines joined.
type Entry struct {
	Section string
	Key     string // lower case
	Value   string
	File    string
	Line    int
}

// ParseError locates a line fail2ban's config reader rejects.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ParseINI reads a fail2ban configuration file the way Python's
// configparser does for it: [sections], "key = value" or "key: value",
// indented lines continue the previous value, lines starting with # or ;
// are comments.
func ParseINI(file string, data []byte) ([]Entry, error) {
	var out []Entry
	section := ""
	last := -1
	// Continuation lines are gathered and joined once per entry: appending
	// to the value line by line was quadratic (256 KiB of them took 37 s).
	var cont []string
	flush := func() {
		if last >= 0 && len(cont) > 0 {
			out[last].Value = strings.TrimSpace(out[last].Value + "\n" + strings.Join(cont, "\n"))
		}
		cont = cont[:0]
	}
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimRight(raw, " \t\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last < 0 {
				return nil, &ParseError{file, i + 1, "continuation line without a key"}
			}
			cont = append(cont, trimmed)
			continue
		}
		flush()
		if trimmed[0] == '[' {
			end := strings.IndexByte(trimmed, ']')
			if end < 0 {
				return nil, &ParseError{file, i + 1, "section header without ']'"}
			}
			section = strings.TrimSpace(trimmed[1:end])
			last = -1
			continue
		}
		if section == "" {
			return nil, &ParseError{file, i + 1, "key outside any [section]"}
		}
		sep := strings.IndexAny(trimmed, "=:")
		if sep <= 0 {
			return nil, &ParseError{file, i + 1, "expected 'key = value'"}
		}
		out = append(out, Entry{Section: section, Key: strings.ToLower(strings.TrimSpace(trimmed[:sep])),
			Value: strings.TrimSpace(trimmed[sep+1:]), File: file, Line: i + 1})
		last = len(out) - 1
	}
	flush()
	return out, nil
}

// Globber lists host paths matching a pattern.
type Globber interface {
	Glob(pattern string) ([]string, error)
}

// JailFiles are the jail files in fail2ban's reading order.
func JailFiles(g Globber, dir string) ([]string, error) {
	confs, err := g.Glob(dir + "/jail.d/*.conf")
	if err != nil {
		return nil, err
	}
	locals, err := g.Glob(dir + "/jail.d/*.local")
	if err != nil {
		return nil, err
	}
	sort.Strings(confs)
	sort.Strings(locals)
	out := []string{dir + "/jail.conf"}
	out = append(out, confs...)
	out = append(out, dir+"/jail.local")
	return append(out, locals...), nil
}

// Lookup finds where a jail's key is set: the last entry in the jail's
// own section in any file, else the last in [DEFAULT].
func Lookup(entries []Entry, jail, key string) (Entry, bool) {
	var def, own Entry
	var haveDef, haveOwn bool
	for _, e := range entries {
		if e.Key != key {
			continue
		}
		switch e.Section {
		case jail:
			own, haveOwn = e, true
		case "DEFAULT":
			def, haveDef = e, true
		}
	}
	if haveOwn {
		return own, true
	}
	return def, haveDef
}
