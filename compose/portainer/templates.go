package portainer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ctsec/ctsec/compose"
	"github.com/ctsec/ctsec/internal/report"
)

// Template is one Portainer App Template (v2 and v3 formats). Container
// templates (type 1) carry their settings inline; stack templates (2 swarm,
// 3 compose, 4 edge) point to a compose file in a repository.
type Template struct {
	ID         int    `json:"id"`
	Type       int    `json:"type"`
	Title      string `json:"title"`
	Image      string `json:"image"`
	Privileged bool   `json:"privileged"`
	Network    string `json:"network"`
	Volumes    []struct {
		Container string `json:"container"`
		Bind      string `json:"bind"`
		ReadOnly  bool   `json:"readonly"`
	} `json:"volumes"`
	Ports      []string `json:"ports"`
	Repository *struct {
		URL       string `json:"url"`
		Stackfile string `json:"stackfile"`
	} `json:"repository"`
}

type templateFile struct {
	Version   string     `json:"version"`
	Templates []Template `json:"templates"`
}

// AuditTemplates checks an App Templates file. Container templates are
// checked for privileged mode, engine sockets and sensitive host binds,
// database ports and unpinned images (templates have no cap_add, cap_drop or
// security_opt fields, so those cannot be set there at all). The compose
// files of stack templates are audited when stackDir holds a copy of their
// repository; otherwise an info finding names the file to audit.
func AuditTemplates(name string, src []byte, stackDir string) ([]report.Finding, error) {
	var tf templateFile
	if err := json.Unmarshal(src, &tf); err != nil {
		return nil, fmt.Errorf("%s: not a Portainer templates file: %w", name, err)
	}
	if tf.Version == "" || tf.Templates == nil {
		return nil, fmt.Errorf("%s: not a Portainer templates file (no version or templates)", name)
	}
	lines := templateLines(src)
	var out []report.Finding
	for i, t := range tf.Templates {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		add := func(rule string, sev report.Severity, fix, format string, args ...any) {
			out = append(out, report.Finding{Rule: rule, Severity: sev, File: name, Line: line,
				Target: "template " + t.Title, Path: "templates." + strconv.Itoa(i), Fix: fix,
				Message: "template " + strconv.Quote(t.Title) + ": " + fmt.Sprintf(format, args...)})
		}
		if t.Type != 1 {
			out = append(out, auditStackTemplate(name, line, i, t, stackDir, add)...)
			continue
		}
		if t.Privileged {
			add(compose.RulePrivileged, report.Critical, "remove privileged from the template", "deploys a privileged container")
		}
		if t.Network == "host" {
			add(compose.RuleHostNamespace, report.High, "use a bridge network", "uses the host network")
		}
		for _, v := range t.Volumes {
			if v.Bind == "" || !strings.HasPrefix(v.Bind, "/") {
				continue
			}
			switch {
			case compose.IsDockerSocket(v.Bind):
				add(compose.RuleDockerSocket, report.Critical, "use a socket proxy allowing only the calls needed", "binds %s: control of the engine is root on the host", v.Bind)
			case v.ReadOnly && compose.HarmlessReadOnly(v.Bind):
			case compose.SensitiveHostPath(v.Bind):
				sev, mode := report.High, "read-write"
				if v.ReadOnly {
					sev, mode = report.Medium, "read-only"
				}
				add(compose.RuleSensitiveMount, sev, "bind only the application's own directories", "binds host %s %s", v.Bind, mode)
			}
		}
		for _, p := range t.Ports {
			spec, _, _ := strings.Cut(p, "/")
			target := spec
			if i := strings.LastIndexByte(spec, ':'); i >= 0 {
				target = spec[i+1:]
			}
			n, err := strconv.Atoi(target)
			if err != nil {
				continue
			}
			if db, ok := compose.DatabasePort(n); ok && strings.Count(spec, ":") < 2 {
				add(compose.RuleDBPort, report.High, "do not publish it, or bind it to 127.0.0.1 when deploying; Docker bypasses UFW",
					"publishes %s port %d on all interfaces", db, n)
			}
		}
		img := t.Image
		if last := img[strings.LastIndexByte(img, '/')+1:]; img != "" && !strings.Contains(img, "@") && (!strings.Contains(last, ":") || strings.HasSuffix(last, ":latest")) {
			add(compose.RuleImageTag, report.Medium, "pin a version tag", "image %s is untagged or :latest", img)
		}
	}
	return out, nil
}

func auditStackTemplate(name string, line, i int, t Template, stackDir string, add func(string, report.Severity, string, string, ...any)) []report.Finding {
	if t.Repository == nil || t.Repository.Stackfile == "" {
		return nil
	}
	rel := filepath.Clean(t.Repository.Stackfile)
	if stackDir == "" || filepath.IsAbs(rel) || strings.HasPrefix(rel, "..") {
		add("portainer/stack-template", report.Info, "audit it with ctsec compose audit", "stack template: its compose file is %s in %s", t.Repository.Stackfile, t.Repository.URL)
		return nil
	}
	p := filepath.Join(stackDir, rel)
	if _, err := os.Stat(p); err != nil {
		add("portainer/stack-template", report.Info, "audit it with ctsec compose audit", "stack template: its compose file %s (%s) is not in %s", t.Repository.Stackfile, t.Repository.URL, stackDir)
		return nil
	}
	d, err := compose.LoadFile(p)
	if err != nil {
		add("portainer/stack-template", report.Low, "check the stack file", "stack file %s: %v", rel, err)
		return nil
	}
	return compose.Audit(d)
}

// templateLines finds the line of each element of the "templates" array.
func templateLines(src []byte) []int {
	dec := json.NewDecoder(bytes.NewReader(src))
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			if depth != 1 || v != "templates" {
				continue
			}
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return nil
			}
			var lines []int
			for dec.More() {
				off := int(dec.InputOffset())
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return lines
				}
				start := off + bytes.IndexByte(src[off:], '{')
				lines = append(lines, bytes.Count(src[:start], []byte("\n"))+1)
			}
			return lines
		}
	}
}

// ReadTemplates reads a templates file with the same size bound as compose files.
func ReadTemplates(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading templates: %w", err)
	}
	defer f.Close()
	return compose.ReadLimited(path, f)
}
