package apparmor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Spec describes what one service may do, in the operator's words. It is
// the input of `ctsec profile gen --apparmor-spec FILE`:
//
//	name: web                      # profile ctsec-web (the CLI's NAME wins)
//	template: docker-default       # or strict
//	mode: complain                 # or enforce
//	filesystem:
//	  read_only: [/etc/**]         # deny writes
//	  writable: [/var/cache/nginx/**]
//	  executables: [/usr/sbin/nginx, /docker-entrypoint.sh]  # only these may run
//	  deny_executables: [/bin/sh]
//	  deny: [/root/**]             # no access at all
//	capabilities:
//	  allow: [chown, setuid, setgid, net_bind_service]        # only these
//	  deny: [sys_admin]
//	network:
//	  protocols: [tcp, udp]        # only these (unix sockets stay allowed)
//	  raw: false                   # deny raw sockets
//	  packet: false                # deny packet sockets
//	rules: |                       # extra AppArmor rules, checked one by one
//	  /run/nginx.pid rw,
//
// Paths are AppArmor patterns (`*`, `**`, `{a,b}`, `@{PROC}`), written by the
// operator; they are checked but keep their meaning.
type Spec struct {
	Name         string         `yaml:"name" json:"name,omitempty"`
	Template     string         `yaml:"template" json:"template,omitempty"`
	Mode         string         `yaml:"mode" json:"mode,omitempty"`
	Filesystem   SpecFilesystem `yaml:"filesystem" json:"filesystem"`
	Capabilities SpecCaps       `yaml:"capabilities" json:"capabilities"`
	Network      SpecNetwork    `yaml:"network" json:"network"`
	Rules        string         `yaml:"rules" json:"rules,omitempty"`
	// Created dates the complain-since marker of a complain-mode profile
	// (zero: now); tests pin it.
	Created time.Time      `yaml:"-" json:"-"`
	file    string         // where the spec came from, for messages
	lines   map[string]int // YAML path → line, for messages
}

// SpecFilesystem lists paths by what the service may do with them.
type SpecFilesystem struct {
	ReadOnly        []string `yaml:"read_only" json:"read_only,omitempty"`
	Writable        []string `yaml:"writable" json:"writable,omitempty"`
	Executables     []string `yaml:"executables" json:"executables,omitempty"`
	DenyExecutables []string `yaml:"deny_executables" json:"deny_executables,omitempty"`
	Deny            []string `yaml:"deny" json:"deny,omitempty"`
}

// SpecCaps restricts capabilities. A nil Allow keeps the template's
// `capability,`; an empty list allows none.
type SpecCaps struct {
	Allow *[]string `yaml:"allow" json:"allow,omitempty"`
	Deny  []string  `yaml:"deny" json:"deny,omitempty"`
}

// SpecNetwork restricts sockets. Raw and Packet false add deny rules; unset
// leaves the template's choice.
type SpecNetwork struct {
	Protocols []string `yaml:"protocols" json:"protocols,omitempty"`
	Raw       *bool    `yaml:"raw" json:"raw,omitempty"`
	Packet    *bool    `yaml:"packet" json:"packet,omitempty"`
}

// MaxSpecSize bounds a spec file.
const MaxSpecSize = 1 << 20

// serviceNameRE matches what `ctsec profile gen` accepts for the seccomp
// half, so one NAME works for both files.
var serviceNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`) })

// ValidateServiceName accepts names that are safe as a profile suffix, a
// file name and a compose service name.
func ValidateServiceName(s string) error {
	if !serviceNameRE().MatchString(s) {
		return fmt.Errorf("service name %q: want letters, digits, _ . - (at most 128, starting with a letter or digit)", s)
	}
	return nil
}

// ProfileName is the AppArmor profile name ctsec gives a service.
func ProfileName(service string) string { return "ctsec-" + service }

// SecurityOpt is the compose `security_opt` entry that selects a profile.
func SecurityOpt(profile string) string { return "apparmor=" + profile }

// LoadSpec reads and checks a spec file.
func LoadSpec(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading AppArmor spec: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSpecSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading AppArmor spec %s: %w", path, err)
	}
	return ParseSpec(path, data)
}

// ParseSpec decodes a spec strictly (unknown keys are errors) and checks
// every value; errors name file:line.
func ParseSpec(file string, data []byte) (*Spec, error) {
	if len(data) > MaxSpecSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, MaxSpecSize)
	}
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(file, err)
	}
	s.file = file
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil {
		s.lines = map[string]int{}
		indexLines(&root, "", s.lines)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

var yamlLineRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^line (\d+): (.*)$`) })

// yamlError turns yaml.v3's "yaml: line 3: …" (one or several lines) into
// "FILE:3: …" messages on one line.
func yamlError(file string, err error) error {
	var msgs []string
	for _, l := range strings.Split(err.Error(), "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "yaml: "))
		if l == "" || l == "unmarshal errors:" {
			continue
		}
		if m := yamlLineRE().FindStringSubmatch(l); m != nil {
			msgs = append(msgs, fmt.Sprintf("%s:%s: %s", file, m[1], m[2]))
		} else {
			msgs = append(msgs, fmt.Sprintf("%s: %s", file, l))
		}
	}
	return errors.New(strings.Join(msgs, "; "))
}

// indexLines records the line of every mapping key and sequence item.
func indexLines(n *yaml.Node, path string, out map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			indexLines(c, path, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := strings.TrimPrefix(path+"."+n.Content[i].Value, ".")
			out[p] = n.Content[i].Line
			indexLines(n.Content[i+1], p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			out[p] = c.Line
			indexLines(c, p, out)
		}
	}
}

// errAt formats a problem at a YAML path.
func (s *Spec) errAt(path string, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if line, ok := s.lines[path]; ok {
		return fmt.Errorf("%s:%d: %s: %s", s.file, line, path, msg)
	}
	return fmt.Errorf("%s: %s: %s", s.file, path, msg)
}

// Validate checks names, modes, paths, capabilities, protocols and rules.
func (s *Spec) Validate() error {
	if s.Name != "" {
		if err := ValidateServiceName(s.Name); err != nil {
			return s.errAt("name", "%v", err)
		}
	}
	switch s.Template {
	case "", "docker-default", "strict":
	default:
		return s.errAt("template", "unknown template %q (want docker-default or strict)", s.Template)
	}
	switch s.Mode {
	case "", "complain", "enforce":
	default:
		return s.errAt("mode", "unknown mode %q (want complain or enforce)", s.Mode)
	}
	lists := []struct {
		key   string
		paths []string
	}{
		{"filesystem.read_only", s.Filesystem.ReadOnly},
		{"filesystem.writable", s.Filesystem.Writable},
		{"filesystem.executables", s.Filesystem.Executables},
		{"filesystem.deny_executables", s.Filesystem.DenyExecutables},
		{"filesystem.deny", s.Filesystem.Deny},
	}
	for _, l := range lists {
		for i, p := range l.paths {
			if _, err := ParseGlob(p); err != nil {
				return s.errAt(fmt.Sprintf("%s[%d]", l.key, i), "%v", err)
			}
		}
	}
	if s.Capabilities.Allow != nil {
		for i, c := range *s.Capabilities.Allow {
			if !Capabilities[c] {
				return s.errAt(fmt.Sprintf("capabilities.allow[%d]", i), "unknown capability %q", c)
			}
		}
	}
	for i, c := range s.Capabilities.Deny {
		if !Capabilities[c] {
			return s.errAt(fmt.Sprintf("capabilities.deny[%d]", i), "unknown capability %q", c)
		}
	}
	for i, p := range s.Network.Protocols {
		if !NetworkProtocols[p] {
			return s.errAt(fmt.Sprintf("network.protocols[%d]", i), "unknown protocol %q (want tcp, udp or icmp)", p)
		}
	}
	if _, err := s.extraRules(); err != nil {
		return err
	}
	return nil
}

// extraRules parses the spec's raw rules. Includes and blocks are refused:
// a spec adds rules to one profile, nothing else.
func (s *Spec) extraRules() ([]Rule, error) {
	if strings.TrimSpace(s.Rules) == "" {
		return nil, nil
	}
	rules, err := ParseRules(s.file+" (rules)", s.Rules)
	if err != nil {
		line := s.lines["rules"]
		return nil, fmt.Errorf("%s:%d: rules: %w", s.file, line, err)
	}
	for _, r := range rules {
		if _, ok := r.(Include); ok {
			return nil, s.errAt("rules", "includes are not allowed in rules (%s)", r)
		}
		if raw, ok := r.(Raw); ok {
			// Rules ctsec does not model pass to apparmor_parser as they
			// are; two it knows are wrong here are named now, with the
			// spec's line, rather than by the parser at a profile line.
			switch w := strings.Fields(raw.Text)[0]; {
			case w == "abi":
				return nil, s.errAt("rules", "%q: abi belongs in a profile's preamble, and ctsec pins abi/3.0", raw.Text)
			case strings.HasPrefix(w, "priority="):
				return nil, s.errAt("rules", "%q: rule priorities need AppArmor 4.1; ctsec profiles pin the 3.0 ABI", raw.Text)
			}
		}
	}
	return rules, nil
}
