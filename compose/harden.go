package compose

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/profiles/capabilities"
	"go.yaml.in/yaml/v3"
)

// Policy chooses how far harden goes.
type Policy string

const (
	// Baseline changes what almost never breaks a service: capabilities from
	// the knowledge base, no-new-privileges, profiles, pids and memory limits.
	Baseline Policy = "baseline"
	// Strict adds a read-only root filesystem with tmpfs where images write.
	Strict Policy = "strict"
)

// HardenRules are the rules harden can fix, for --only.
var HardenRules = []string{RuleCapDropAll, RuleNoNewPrivs, RuleSeccomp, RuleAppArmor, RulePidsLimit, RuleMemoryLimit, RuleWritableRootfs}

// Options steer Harden.
type Options struct {
	Policy Policy
	// ProfilesDir holds per-service profiles: <service>.json (seccomp) and
	// <service>.apparmor (an AppArmor profile; its name is read from it).
	ProfilesDir string
	// Only restricts the edits to these rule ids (empty: all).
	Only []string
	// Swarm forces (true) or rules out (false) swarm handling; nil detects
	// it from deploy keys only swarm uses.
	Swarm *bool
	// KB is the capability knowledge base; nil uses the embedded one.
	KB *capabilities.Base
	// Pending are profile files (absolute paths) that will be written with
	// the result (--gen-profiles): they count as present in ProfilesDir.
	Pending map[string]bool
}

// Change is one edit harden makes.
type Change struct {
	Service string `json:"service"`
	Rule    string `json:"rule"`
	Field   string `json:"field"`
	Value   string `json:"value"`
	Reason  string `json:"reason,omitempty"`
	Line    int    `json:"line"`
}

// Result is a hardened file and what was done to it.
type Result struct {
	Output   []byte
	Changes  []Change
	Warnings []report.Finding
	Swarm    bool
	p        *patcher
}

// Diff is the unified diff from the original to the output.
func (r *Result) Diff(oldName, newName string) string { return r.p.Diff(oldName, newName) }

// Changed reports whether the output differs from the input.
func (r *Result) Changed() bool { return len(r.p.ins) > 0 }

// NormalizeRule accepts "cap-drop-all" or "compose/cap-drop-all".
func NormalizeRule(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "compose/") {
		s = "compose/" + s
	}
	for _, r := range HardenRules {
		if r == s {
			return s, nil
		}
	}
	names := make([]string, len(HardenRules))
	for i, r := range HardenRules {
		names[i] = strings.TrimPrefix(r, "compose/")
	}
	return "", fmt.Errorf("unknown harden rule %q (want one of %s)", strings.TrimPrefix(s, "compose/"), strings.Join(names, ", "))
}

// op is one planned change to one service, at model level and as text.
type op struct {
	rule    string
	path    []string // key, or deploy.resources.limits.<x>
	items   []string // for list appends: raw values
	value   any      // for scalars: the typed value compose-go will read back
	text    string   // scalar as YAML text
	comment string
}

// swarmOnlyDeploy are deploy keys only `docker stack deploy` honours
// (docker compose honours replicas, resources and restart_policy too).
var swarmOnlyDeploy = []string{"mode", "placement", "update_config", "rollback_config", "endpoint_mode"}

// IsSwarm reports whether the file uses deploy keys only `docker stack deploy` honours.
func IsSwarm(d *Document) (bool, string) {
	for _, s := range d.Services() {
		for _, k := range swarmOnlyDeploy {
			if has(s.M, "deploy", k) {
				return true, "services." + s.Name + ".deploy." + k
			}
		}
	}
	return false, ""
}

// Harden plans and applies the edits, then proves them by loading the
// output with compose-go and comparing it with the expected model.
func Harden(d *Document, o Options) (*Result, error) {
	skip := map[string]string{}
	for attempt := 0; ; attempt++ {
		res, err := harden(d, o, skip)
		var ve *verifyError
		if !errors.As(err, &ve) || len(ve.services) == 0 || attempt >= 3 {
			return res, err
		}
		// The edit of some service did not mean what was planned (an
		// unforeseen YAML layout): leave those services as they are, say so,
		// and harden the rest.
		for _, s := range ve.services {
			skip[s] = ve.detail
		}
	}
}

// verifyError says which services' models differ from the plan.
type verifyError struct {
	services []string
	detail   string
	err      error
}

func (e *verifyError) Error() string { return e.err.Error() }

func harden(d *Document, o Options, skip map[string]string) (*Result, error) {
	if o.Policy == "" {
		o.Policy = Baseline
	}
	if o.Policy != Baseline && o.Policy != Strict {
		return nil, fmt.Errorf("unknown policy %q (want baseline or strict)", o.Policy)
	}
	kb := o.KB
	if kb == nil {
		var err error
		if kb, err = capabilities.Default(); err != nil {
			return nil, err
		}
	}
	only := map[string]bool{}
	for _, r := range o.Only {
		only[r] = true
	}
	want := func(rule string) bool { return len(only) == 0 || only[rule] }

	res := &Result{}
	swarm, why := IsSwarm(d)
	if o.Swarm != nil {
		swarm, why = *o.Swarm, "--swarm"
	}
	res.Swarm = swarm
	if swarm {
		line, col := d.Locate(splitPath(why)...)
		res.Warnings = append(res.Warnings, report.Finding{Rule: RuleSwarm, Severity: report.Medium, File: d.Name, Line: line, Column: col,
			Message: "treated as a swarm stack (" + why + "): docker stack deploy ignores security_opt and privileged, so no-new-privileges, seccomp and AppArmor profiles cannot be applied this way; limits go under deploy.resources.limits",
			Fix:     "set no-new-privileges in the daemon (dockerd --no-new-privileges / daemon.json) and confine the nodes' engines; use --swarm=false if this file is deployed with docker compose"})
	}

	p := newPatcher(d)
	nodes := map[string][]serviceNode{}
	for _, sn := range d.serviceNodes() {
		nodes[sn.Name] = append(nodes[sn.Name], sn)
	}
	referenced := referencedAnchors(d)
	expected := deepCopy(d.Model)
	expSvcs, _ := expected["services"].(map[string]any)

	for _, s := range d.Services() {
		warn := func(rule string, sev report.Severity, path []string, format string, args ...any) {
			line, col := d.Locate(append([]string{"services", s.Name}, path...)...)
			res.Warnings = append(res.Warnings, report.Finding{Rule: rule, Severity: sev, File: d.Name, Line: line, Column: col,
				Target: "service " + s.Name, Path: strings.Join(append([]string{"services", s.Name}, path...), "."),
				Message: "service " + s.Name + ": " + fmt.Sprintf(format, args...)})
		}
		sn, why := editable(nodes[s.Name], referenced, skip[s.Name])
		if why != "" {
			warn(RuleNotHardened, report.Medium, nil, "%s", why)
			continue
		}
		ops := planService(d, s, o, kb, swarm, want, warn)
		if len(ops) == 0 {
			continue
		}
		es, _ := expSvcs[s.Name].(map[string]any)
		if es == nil {
			es = map[string]any{}
			expSvcs[s.Name] = es
		}
		for _, op := range ops {
			applyModel(es, op)
		}
		for _, op := range ops {
			line, _ := d.Locate(append([]string{"services", s.Name}, op.path...)...)
			v := op.text
			if op.items != nil {
				v = strings.Join(op.items, ", ")
			}
			res.Changes = append(res.Changes, Change{Service: s.Name, Rule: op.rule, Field: strings.Join(op.path, "."), Value: v, Reason: op.comment, Line: line})
		}
		if err := patchService(p, sn, s, ops); err != nil {
			if ee, ok := err.(*EditError); ok {
				warn(RuleNotHardened, report.Medium, nil, "not edited: %s", ee.Error())
				p.ins = p.ins[:len(p.ins)-p.lastCount] // undo this service's partial edits
				expSvcs[s.Name] = deepCopy(map[string]any{"x": s.M})["x"]
				res.Changes = dropService(res.Changes, s.Name)
				continue
			}
			return nil, err
		}
	}
	res.p = p
	res.Output = p.apply()
	if len(p.ins) == 0 {
		return res, nil
	}
	if err := verify(d, p, res.Output, expected); err != nil {
		return nil, err
	}
	return res, nil
}

func dropService(cs []Change, name string) []Change {
	out := cs[:0]
	for _, c := range cs {
		if c.Service != name {
			out = append(out, c)
		}
	}
	return out
}

// editable returns the one node of a service ctsec may edit, or why not.
func editable(sns []serviceNode, referenced map[string]bool, skipped string) (serviceNode, string) {
	switch {
	case len(sns) != 1:
		return serviceNode{}, fmt.Sprintf("defined in %d YAML documents; ctsec does not edit a service split across documents", len(sns))
	case skipped != "":
		return serviceNode{}, "not edited: the edit would not load back as planned (" + skipped + "); please report this file layout"
	}
	sn := sns[0]
	switch {
	case sn.Val.Kind == yaml.AliasNode:
		return sn, fmt.Sprintf("is an alias (*%s); not edited — write it as a mapping with <<: *%s to harden it", sn.Val.Value, sn.Val.Value)
	case sn.Val.Kind != yaml.MappingNode:
		return sn, "is not a mapping; not edited"
	case sn.Val.Anchor != "" && referenced[sn.Val.Anchor]:
		return sn, fmt.Sprintf("is anchored (&%s) and reused elsewhere; editing it would change the services that merge it — not edited", sn.Val.Anchor)
	}
	return sn, ""
}

// referencedAnchors lists anchors some alias uses.
func referencedAnchors(d *Document) map[string]bool {
	out := map[string]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		if n.Kind == yaml.AliasNode {
			if n.Alias != nil {
				out[n.Alias.Anchor] = true
			}
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	for _, doc := range d.Docs {
		walk(doc)
	}
	return out
}

var apparmorName = regexp.MustCompile(`(?m)^\s*profile\s+([A-Za-z0-9_.-]+)[\s{]`)

func planService(d *Document, s Service, o Options, kb *capabilities.Base, swarm bool, want func(string) bool,
	warn func(string, report.Severity, []string, string, ...any)) []op {
	m := s.M
	var ops []op
	privileged := boolOf(m["privileged"]) == isTrue
	if privileged {
		warn(RulePrivileged, report.Critical, []string{"privileged"}, "privileged: true kept as written; capability and no-new-privileges hardening do not apply to a privileged container — remove it by hand if the service can run without")
	}
	for _, ns := range []string{"network_mode", "pid", "ipc", "userns_mode"} {
		if str(m[ns]) == "host" {
			warn(RuleHostNamespace, report.High, []string{ns}, "%s: host kept as written; ctsec does not remove what the file asks for", ns)
		}
	}
	user := str(m["user"])
	// A ${VAR} user may be root at deploy time: plan as for root.
	nonRoot := user != "" && !strings.Contains(user, "$") && user != "root" && user != "0" &&
		!strings.HasPrefix(user, "0:") && !strings.HasPrefix(user, "root:")
	entry := kb.Lookup(str(m["image"]))

	// Capabilities.
	capAdd := upperCaps(strs(m["cap_add"]))
	if want(RuleCapDropAll) && !privileged && !containsFold(strs(m["cap_drop"]), "ALL") {
		if containsFold(capAdd, "ALL") {
			warn(RuleCapDropAll, report.High, []string{"cap_add"}, "cap_add: ALL kept as written; dropping capabilities would be undone by it")
		} else {
			caps := entry.Caps
			why := entry.Reason
			if nonRoot {
				caps = entry.UserCaps
				why = "runs as user " + user + ": capabilities are not in effect for a non-root process; " + why
			}
			var missing []string
			for _, c := range caps {
				if !containsFold(capAdd, c) {
					missing = append(missing, c)
				}
			}
			img := str(m["image"])
			if img == "" {
				img = "(built image)"
			}
			reason := "ctsec: " + img + ": " + why
			dropComment := ""
			if len(missing) == 0 {
				dropComment = reason
			}
			ops = append(ops, op{rule: RuleCapDropAll, path: []string{"cap_drop"}, items: []string{"ALL"}, comment: dropComment})
			if len(missing) > 0 {
				ops = append(ops, op{rule: RuleCapDropAll, path: []string{"cap_add"}, items: missing, comment: reason})
			}
		}
	}

	// security_opt: ignored by swarm.
	opts := securityOpts(m)
	if !swarm {
		set, explicitFalse := noNewPrivs(m)
		if want(RuleNoNewPrivs) && !set && !explicitFalse && !privileged {
			ops = append(ops, op{rule: RuleNoNewPrivs, path: []string{"security_opt"}, items: []string{"no-new-privileges:true"}})
		}
		if explicitFalse {
			warn(RuleNoNewPrivs, report.Medium, []string{"security_opt"}, "no-new-privileges:false kept as written")
		}
		if o.ProfilesDir != "" {
			if _, ok := opts["seccomp"]; !ok && want(RuleSeccomp) {
				if ref := findProfile(d, o.ProfilesDir, o.Pending, SeccompProfileNames(s.Name)...); strings.Contains(ref, "$") {
					warn(RuleSeccomp, report.Low, nil, "seccomp profile path %q holds a $; add it by hand", ref)
				} else if ref != "" {
					ops = append(ops, op{rule: RuleSeccomp, path: []string{"security_opt"}, items: []string{"seccomp=" + ref}})
				}
			}
			if _, ok := opts["apparmor"]; !ok && want(RuleAppArmor) {
				if name := findAppArmor(o.ProfilesDir, s.Name); name != "" {
					ops = append(ops, op{rule: RuleAppArmor, path: []string{"security_opt"}, items: []string{"apparmor=" + name}})
				}
			}
		}
		for _, k := range []string{"seccomp", "apparmor"} {
			if strings.EqualFold(opts[k], "unconfined") {
				warn(RuleUnconfined, report.High, []string{"security_opt"}, "%s=unconfined kept as written", k)
			}
		}
	}

	// Limits: deploy.resources.limits for swarm, service keys otherwise.
	var limits []op
	if want(RulePidsLimit) && !hasPidsLimit(m) {
		if has(m, "pids_limit") {
			warn(RulePidsLimit, report.Medium, []string{"pids_limit"}, "pids_limit %s (unlimited) kept as written", str(m["pids_limit"]))
		} else if swarm {
			if v, old := schemaBeforePids(d); old {
				warn(RulePidsLimit, report.Medium, []string{"deploy"}, "no pids limit added: the file declares version %q and docker stack deploy accepts deploy.resources.limits.pids only from version 3.9; raise the version (Docker 20.10+) and harden again", v)
			} else {
				limits = append(limits, op{rule: RulePidsLimit, path: []string{"deploy", "resources", "limits", "pids"}, value: entry.Pids, text: fmt.Sprint(entry.Pids)})
			}
		} else {
			ops = append(ops, op{rule: RulePidsLimit, path: []string{"pids_limit"}, value: entry.Pids, text: fmt.Sprint(entry.Pids)})
		}
	}
	if want(RuleMemoryLimit) && !hasMemoryLimit(m) {
		if swarm {
			limits = append(limits, op{rule: RuleMemoryLimit, path: []string{"deploy", "resources", "limits", "memory"}, value: entry.Memory, text: yamlScalar(entry.Memory)})
		} else {
			ops = append(ops, op{rule: RuleMemoryLimit, path: []string{"mem_limit"}, value: entry.Memory, text: yamlScalar(entry.Memory)})
		}
	}

	// Strict: read-only root with tmpfs where the image writes.
	if o.Policy == Strict && want(RuleWritableRootfs) && !has(m, "read_only") {
		ops = append(ops, op{rule: RuleWritableRootfs, path: []string{"read_only"}, value: true, text: "true"})
		if _, isList := m["tmpfs"].([]any); m["tmpfs"] != nil && !isList {
			warn(RuleWritableRootfs, report.Low, []string{"tmpfs"}, "tmpfs is not a list; add /tmp and /run by hand")
		} else {
			mounted := map[string]bool{}
			for _, t := range strs(m["tmpfs"]) {
				mounted[strings.SplitN(t, ":", 2)[0]] = true
			}
			vols, _ := m["volumes"].([]any)
			for _, v := range vols {
				if vm, ok := v.(map[string]any); ok {
					mounted[str(vm["target"])] = true
				}
			}
			var add []string
			for _, t := range append([]string{"/tmp", "/run"}, entry.Writable...) {
				if !mounted[t] && !containsFold(add, t) {
					add = append(add, t)
				}
			}
			if len(add) > 0 {
				ops = append(ops, op{rule: RuleWritableRootfs, path: []string{"tmpfs"}, items: add, comment: "ctsec: writable scratch space for a read-only root filesystem"})
			}
		}
	}
	if len(limits) > 0 {
		if deploy, ok := m["deploy"]; ok && deploy != nil {
			sn := d.ownPath(s.Name, "deploy")
			if !sn {
				warn(RuleNotHardened, report.Medium, []string{"deploy"}, "deploy comes through a merge key; add deploy.resources.limits by hand")
				limits = nil
			}
		}
	}
	return append(ops, limits...)
}

// ownPath says whether a service's key is written in the service itself
// (not inherited through <<).
// schemaBeforePids reports the version a file declares when it is a 3.x
// before 3.9: docker stack deploy validates a file against the schema of its
// declared version (docker/cli cli/compose/schema), and only from
// config_schema_v3.9.json on may deploy.resources.limits hold pids, so
// adding it to an older file makes the deploy fail. No version, or "3",
// means the newest schema.
func schemaBeforePids(d *Document) (string, bool) {
	for _, doc := range d.Docs {
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value != "version" {
				continue
			}
			v := strings.TrimSpace(root.Content[i+1].Value)
			major, minor, ok := strings.Cut(v, ".")
			if !ok || major != "3" {
				return v, false
			}
			n, err := strconv.Atoi(minor)
			return v, err == nil && n < 9
		}
	}
	return "", false
}

func (d *Document) ownPath(service, key string) bool {
	for _, sn := range d.serviceNodes() {
		if sn.Name == service {
			k, _ := ownKey(sn.Val, key)
			return k != nil
		}
	}
	return false
}

// findProfile returns how the file should reference a seccomp profile found
// under dir: relative to the compose file's directory when inside it.
func findProfile(d *Document, dir string, pending map[string]bool, names ...string) string {
	for _, n := range names {
		p := filepath.Join(dir, n)
		abs, _ := filepath.Abs(p)
		if st, err := os.Stat(p); (err == nil && st.Mode().IsRegular()) || pending[abs] {
			// A file that is not on disk here (a Portainer stack) gets the
			// absolute path, which must then exist on the Docker host.
			if _, err := os.Stat(d.Name); err != nil {
				return abs
			}
			base, _ := filepath.Abs(filepath.Dir(d.Name))
			if rel, err := filepath.Rel(base, abs); err == nil && !strings.HasPrefix(rel, "..") {
				return "./" + filepath.ToSlash(rel)
			}
			return abs
		}
	}
	return ""
}

// SeccompProfileNames are the file names, relative to --profiles DIR, that
// hold a service's seccomp profile, in order of preference: what
// `ctsec profile gen` writes first.
func SeccompProfileNames(service string) []string {
	return []string{service + ".seccomp.json", service + ".json", filepath.Join("seccomp", service+".json")}
}

// findAppArmor reads the profile name from <dir>/<service>.apparmor or
// <dir>/apparmor/<service>; only a name of safe characters is accepted.
func findAppArmor(dir, service string) string {
	for _, n := range []string{service + ".apparmor", filepath.Join("apparmor", service)} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil || len(b) > 1<<20 {
			continue
		}
		if m := apparmorName.FindSubmatch(b); m != nil {
			return string(m[1])
		}
	}
	return ""
}

// applyModel applies an op to the expected model of a service (which holds
// merged values already, so an inherited list grows from what it inherits).
func applyModel(es map[string]any, o op) {
	if o.items != nil {
		cur, _ := es[o.path[0]].([]any)
		l := append([]any(nil), cur...)
		for _, it := range o.items {
			l = append(l, it)
		}
		es[o.path[0]] = l
		return
	}
	m := es
	for _, k := range o.path[:len(o.path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[o.path[len(o.path)-1]] = o.value
}

// patchService turns a service's ops into insertions.
func patchService(p *patcher, sn serviceNode, s Service, ops []op) error {
	start := len(p.ins)
	defer func() { p.lastCount = len(p.ins) - start }()
	var newKeys []entry
	lists := map[string]*op{}
	var order []string
	for i := range ops {
		o := &ops[i]
		if o.items != nil {
			if prev, ok := lists[o.path[0]]; ok {
				prev.items = append(prev.items, o.items...)
				if prev.comment == "" {
					prev.comment = o.comment
				}
				continue
			}
			cp := *o
			cp.items = append([]string(nil), o.items...)
			lists[o.path[0]] = &cp
			order = append(order, o.path[0])
		}
	}
	// A reason cannot be shown inside a flow list; it moves to the next
	// block key ctsec writes.
	lost := ""
	for _, key := range order {
		o := lists[key]
		k, v, inherited := lookupKey(sn.Val, key)
		rendered := make([]string, len(o.items))
		for i, it := range o.items {
			rendered[i] = yamlScalar(it)
		}
		switch {
		case k == nil:
			newKeys = append(newKeys, entry{key: key, list: rendered, comment: o.comment})
		case inherited:
			// Own key overrides the merged one: repeat what is inherited.
			var all []string
			for _, x := range strs(s.M[key]) {
				all = append(all, yamlScalar(x))
			}
			newKeys = append(newKeys, entry{key: key, list: append(all, rendered...), comment: o.comment})
		default:
			if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle != 0 && o.comment != "" {
				lost = o.comment
			}
			if err := p.appendItems(sn.Doc, k, v, 2, rendered, o.comment); err != nil {
				return err
			}
		}
	}
	if lost != "" && len(newKeys) > 0 && newKeys[0].comment == "" {
		newKeys[0].comment = lost
	}
	// Scalars and nested limits.
	var limits []entry
	for _, o := range ops {
		if o.items != nil {
			continue
		}
		if len(o.path) == 1 {
			newKeys = append(newKeys, entry{key: o.path[0], scalar: o.text, comment: o.comment})
			continue
		}
		limits = append(limits, entry{key: o.path[len(o.path)-1], scalar: o.text})
	}
	if len(limits) > 0 {
		// Walk down deploy.resources.limits as far as it is written.
		path := []string{"deploy", "resources", "limits"}
		node, owner, depth := sn.Val, sn.Key.Column, 1
		i := 0
		for ; i < len(path); i++ {
			k, v := ownKey(node, path[i])
			if k == nil {
				break
			}
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" && v.Value == "" {
				return &EditError{Line: k.Line, Msg: path[i] + " is empty; write deploy.resources.limits by hand"}
			}
			if v.Kind != yaml.MappingNode {
				return &EditError{Line: k.Line, Msg: path[i] + " is not a mapping"}
			}
			node, owner, depth = v, k.Column, depth+1
		}
		nested := limits
		for j := len(path) - 1; j >= i; j-- {
			nested = []entry{{key: path[j], nested: nested}}
		}
		if node == sn.Val {
			newKeys = append(newKeys, nested...)
		} else if err := p.addEntries(sn.Doc, node, owner, depth, nested); err != nil {
			return err
		}
	}
	return p.addEntries(sn.Doc, sn.Val, sn.Key.Column, 1, newKeys)
}

// verify loads the output with compose-go and compares it with the model the
// plan expects: anything else changed means the edit was wrong, and nothing
// is written.
func verify(d *Document, p *patcher, out []byte, expected map[string]any) error {
	// Only the model is needed here: compose-go is the judge of what the
	// output means, and it is the expensive half of the run.
	var pieces [][]byte
	if r, ok := serviceRanges(d.Src, d.lineStart, d.Docs); ok {
		pieces = r.shifted(p.ins).cut(out, runtime.GOMAXPROCS(0))
	}
	model, err := loadPieces(d.Name, out, pieces)
	if err != nil {
		return fmt.Errorf("hardened output does not load (refusing to write; this is a ctsec bug): %w", err)
	}
	if !sameValue(expected, model) {
		want, got := normalize(expected), normalize(model)
		ve := &verifyError{detail: firstDiff(want, got, ""),
			err: fmt.Errorf("hardened %s: model comparison failed at %s (refusing to write; this is a ctsec bug)", d.Name, firstDiff(want, got, ""))}
		// Only differences inside services can be undone by not editing them.
		onlyServices := true
		for k := range mergeKeys(expected, model) {
			if k != "services" && !sameValue(expected[k], model[k]) {
				onlyServices = false
			}
		}
		if onlyServices {
			es, _ := expected["services"].(map[string]any)
			ms, _ := model["services"].(map[string]any)
			for k := range mergeKeys(es, ms) {
				if !sameValue(es[k], ms[k]) {
					ve.services = append(ve.services, k)
				}
			}
			sort.Strings(ve.services)
		}
		return ve
	}
	return nil
}

func mergeKeys(a, b map[string]any) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// sameValue compares two decoded models, treating numbers of any Go type as
// equal when their values are (the plan writes int64, YAML decodes int).
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	if fa, ok := number(a); ok {
		fb, ok := number(b)
		return ok && fa == fb
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	case int32:
		return float64(n), true
	case float32:
		return float64(n), true
	}
	return 0, false
}

func normalize(m map[string]any) any {
	b, err := json.Marshal(m)
	if err != nil {
		return m
	}
	var v any
	json.Unmarshal(b, &v)
	return v
}

func firstDiff(a, b any, path string) string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			if !reflect.DeepEqual(am[k], bm[k]) {
				return firstDiff(am[k], bm[k], strings.TrimPrefix(path+"."+k, "."))
			}
		}
	}
	return fmt.Sprintf("%s (want %v, got %v)", path, a, b)
}

func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return deepCopy(x)
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = copyValue(e)
		}
		return l
	}
	return v
}
