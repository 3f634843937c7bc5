// Package sysctl is the kernel-parameter module of ctsec host: it reports
// the running value of each policy key and the file that sets it (the LAST
// file read wins), and writes /etc/sysctl.d/99-zz-ctsec.conf, which sorts
// after 99-sysctl.conf (Debian's link to /etc/sysctl.conf).
package sysctl

import (
	"fmt"
	"path"
	"strings"

	"github.com/ctsec/ctsec/host"
)

// Setting is one "key = value" line.
type Setting struct {
	Key    string // dotted form
	Value  string // whitespace collapsed
	File   string
	Line   int
	Ignore bool // "-key = value": errors for a missing key are ignored
}

// Problem is a line sysctl would warn about and skip.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) Error() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// Parse reads a sysctl.conf file as procps does: blank lines and lines
// starting with # or ; are comments; "key = value" with spaces optional; a
// leading "-" marks a key whose absence is not an error; keys may use "/"
// instead of ".".
func Parse(file string, data []byte) ([]Setting, []Problem) {
	var out []Setting
	var probs []Problem
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			probs = append(probs, Problem{file, i + 1, "no '=' (sysctl skips this line)"})
			continue
		}
		s := Setting{File: file, Line: i + 1}
		k = strings.TrimSpace(k)
		if strings.HasPrefix(k, "-") {
			s.Ignore = true
			k = strings.TrimSpace(k[1:])
		}
		s.Key = NormalizeKey(k)
		if s.Key == "" {
			probs = append(probs, Problem{file, i + 1, "empty key"})
			continue
		}
		s.Value = strings.Join(strings.Fields(v), " ")
		out = append(out, s)
	}
	return out, probs
}

// NormalizeKey turns "net/ipv4/ip_forward" into "net.ipv4.ip_forward".
func NormalizeKey(k string) string {
	if strings.Contains(k, "/") {
		return strings.ReplaceAll(strings.Trim(k, "/"), "/", ".")
	}
	return k
}

// ProcPath is the /proc/sys file of a key.
func ProcPath(key string) string { return "/proc/sys/" + strings.ReplaceAll(key, ".", "/") }

// Dirs are searched in this order; a file name found in an earlier
// directory hides the same name in later ones (sysctl.d(5), sysctl(8)).
var Dirs = []string{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"}

// MainFile is read last by `sysctl --system` (procps).
const MainFile = "/etc/sysctl.conf"

// Globber lists host paths matching a pattern.
type Globber = host.Globber

// Order returns the files `sysctl --system` reads, in reading order.
func Order(g Globber) ([]string, error) {
	out, err := host.DropIns(g, Dirs, "*.conf")
	if err != nil {
		return nil, err
	}
	return append(out, MainFile), nil
}

// Winner is the last setting of key (globs in keys matched), or false.
func Winner(settings []Setting, key string) (Setting, bool) {
	var w Setting
	found := false
	for _, s := range settings {
		if s.Key == key {
			w, found = s, true
			continue
		}
		if strings.ContainsAny(s.Key, "*?[") {
			if ok, _ := path.Match(strings.ReplaceAll(s.Key, ".", "/"), strings.ReplaceAll(key, ".", "/")); ok {
				w, found = s, true
			}
		}
	}
	return w, found
}
