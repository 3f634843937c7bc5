package compose

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/profiles/capabilities"
	"go.yaml.in/yaml/v4"
)

// Planning is pure: the file's model and node tree and the facts gathered
// about its services go in, the edits per service and the warnings come
// out. Nothing here reads a file or asks an engine.

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

// edit is one planned change to one service, at model level and as text.
type edit struct {
	rule    string
	path    []string // key, or deploy.resources.limits.<x>
	items   []string // for list appends: raw values
	value   any      // for scalars: the typed value compose-go will read back
	text    string   // scalar as YAML text
	comment string
}

// servicePlan is what harden will do to one service.
type servicePlan struct {
	svc   Service
	node  serviceNode
	edits []edit
}

// plan is what harden will do to a file.
type plan struct {
	services []servicePlan
	warnings []report.Finding
	swarm    bool
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

// planner holds what every service's plan reads.
type planner struct {
	d     *Document
	o     Options
	f     *Facts
	kb    *capabilities.Base
	swarm bool
	only  map[string]bool
	out   *plan
}

func (pl *planner) want(rule string) bool { return len(pl.only) == 0 || pl.only[rule] }

// makePlan decides every service's edits. skip names services whose edit
// did not verify on an earlier attempt, with why.
func makePlan(d *Document, o Options, f *Facts, kb *capabilities.Base, skip map[string]string) *plan {
	pl := &planner{d: d, o: o, f: f, kb: kb, only: map[string]bool{}, out: &plan{}}
	for _, r := range o.Only {
		pl.only[r] = true
	}
	swarm, why := IsSwarm(d)
	if o.Swarm != nil {
		swarm, why = *o.Swarm, "--swarm"
	}
	pl.swarm, pl.out.swarm = swarm, swarm
	if swarm {
		line, col := d.Locate(splitPath(why)...)
		pl.out.warnings = append(pl.out.warnings, report.Finding{Rule: RuleSwarm, Severity: report.Medium, File: d.Name, Line: line, Column: col,
			Message: "treated as a swarm stack (" + why + "): docker stack deploy ignores security_opt and privileged, so no-new-privileges, seccomp and AppArmor profiles cannot be applied this way; limits go under deploy.resources.limits",
			Fix:     "set no-new-privileges in the daemon (dockerd --no-new-privileges / daemon.json) and confine the nodes' engines; use --swarm=false if this file is deployed with docker compose"})
	}
	nodes := map[string][]serviceNode{}
	for _, sn := range d.serviceNodes() {
		nodes[sn.Name] = append(nodes[sn.Name], sn)
	}
	referenced := referencedAnchors(d)
	for _, s := range d.Services() {
		w := pl.warner(s)
		sn, why := editable(nodes[s.Name], referenced, skip[s.Name])
		if why != "" {
			w(RuleNotHardened, report.Medium, nil, "%s", why)
			continue
		}
		if edits := pl.service(s, w); len(edits) > 0 {
			pl.out.services = append(pl.out.services, servicePlan{svc: s, node: sn, edits: edits})
		}
	}
	return pl.out
}

type warnFunc func(rule string, sev report.Severity, path []string, format string, args ...any)

func (pl *planner) warner(s Service) warnFunc {
	return func(rule string, sev report.Severity, path []string, format string, args ...any) {
		full := append([]string{"services", s.Name}, path...)
		line, col := pl.d.Locate(full...)
		pl.out.warnings = append(pl.out.warnings, report.Finding{Rule: rule, Severity: sev, File: pl.d.Name, Line: line, Column: col,
			Target: "service " + s.Name, Path: strings.Join(full, "."),
			Message: "service " + s.Name + ": " + fmt.Sprintf(format, args...)})
	}
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

// service plans one service's edits.
func (pl *planner) service(s Service, warn warnFunc) []edit {
	d, m := pl.d, s.M
	var edits []edit
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
	entry := pl.kb.Lookup(str(m["image"]))
	sf := pl.f.service(s.Name)

	// Capabilities.
	capAdd := upperCaps(strs(m["cap_add"]))
	if pl.want(RuleCapDropAll) && !privileged && !containsFold(strs(m["cap_drop"]), "ALL") {
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
			edits = append(edits, edit{rule: RuleCapDropAll, path: []string{"cap_drop"}, items: []string{"ALL"}, comment: dropComment})
			if len(missing) > 0 {
				edits = append(edits, edit{rule: RuleCapDropAll, path: []string{"cap_add"}, items: missing, comment: reason})
			}
		}
	}

	// security_opt: ignored by swarm.
	opts := securityOpts(m)
	if !pl.swarm {
		set, explicitFalse := noNewPrivs(m)
		if pl.want(RuleNoNewPrivs) && !set && !explicitFalse && !privileged {
			edits = append(edits, edit{rule: RuleNoNewPrivs, path: []string{"security_opt"}, items: []string{"no-new-privileges:true"}})
		}
		if explicitFalse {
			warn(RuleNoNewPrivs, report.Medium, []string{"security_opt"}, "no-new-privileges:false kept as written")
		}
		if _, ok := opts["seccomp"]; !ok && pl.want(RuleSeccomp) {
			if ref := sf.Seccomp; strings.Contains(ref, "$") {
				warn(RuleSeccomp, report.Low, nil, "seccomp profile path %q holds a $; add it by hand", ref)
			} else if ref != "" {
				edits = append(edits, edit{rule: RuleSeccomp, path: []string{"security_opt"}, items: []string{"seccomp=" + ref}})
			}
		}
		if _, ok := opts["apparmor"]; !ok && pl.want(RuleAppArmor) && sf.AppArmor != "" {
			edits = append(edits, edit{rule: RuleAppArmor, path: []string{"security_opt"}, items: []string{"apparmor=" + sf.AppArmor}})
		}
		for _, k := range []string{"seccomp", "apparmor"} {
			if strings.EqualFold(opts[k], "unconfined") {
				warn(RuleUnconfined, report.High, []string{"security_opt"}, "%s=unconfined kept as written", k)
			}
		}
	}

	// Limits: under deploy.resources.limits for swarm, and for a service
	// that keeps its resources there already (docker stack deploy ignores
	// mem_limit and pids_limit, and a 3.x schema refuses them); service
	// keys otherwise.
	underDeploy := pl.swarm || has(m, "deploy", "resources")
	var limits []edit
	if pl.want(RulePidsLimit) && !hasPidsLimit(m) {
		if has(m, "pids_limit") {
			warn(RulePidsLimit, report.Medium, []string{"pids_limit"}, "pids_limit %s (unlimited) kept as written", str(m["pids_limit"]))
		} else if underDeploy {
			if v, old := schemaBeforePids(d); old {
				warn(RulePidsLimit, report.Medium, []string{"deploy"}, "no pids limit added: the file declares version %q and docker stack deploy accepts deploy.resources.limits.pids only from version 3.9; raise the version (Docker 20.10+) and harden again", v)
			} else {
				limits = append(limits, edit{rule: RulePidsLimit, path: []string{"deploy", "resources", "limits", "pids"}, value: entry.Pids, text: fmt.Sprint(entry.Pids)})
			}
		} else {
			edits = append(edits, edit{rule: RulePidsLimit, path: []string{"pids_limit"}, value: entry.Pids, text: fmt.Sprint(entry.Pids)})
		}
	}
	if pl.want(RuleMemoryLimit) && !hasMemoryLimit(m) {
		if underDeploy {
			limits = append(limits, edit{rule: RuleMemoryLimit, path: []string{"deploy", "resources", "limits", "memory"}, value: entry.Memory, text: yamlScalar(entry.Memory)})
		} else {
			edits = append(edits, edit{rule: RuleMemoryLimit, path: []string{"mem_limit"}, value: entry.Memory, text: yamlScalar(entry.Memory)})
		}
	}

	// Strict: read-only root with tmpfs where the image writes.
	if pl.o.Policy == Strict && pl.want(RuleWritableRootfs) && !has(m, "read_only") {
		edits = append(edits, edit{rule: RuleWritableRootfs, path: []string{"read_only"}, value: true, text: "true"})
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
				edits = append(edits, edit{rule: RuleWritableRootfs, path: []string{"tmpfs"}, items: add, comment: "ctsec: writable scratch space for a read-only root filesystem"})
			}
		}
	}
	if len(limits) > 0 {
		if deploy, ok := m["deploy"]; ok && deploy != nil {
			if !d.ownPath(s.Name, "deploy") {
				warn(RuleNotHardened, report.Medium, []string{"deploy"}, "deploy comes through a merge key; add deploy.resources.limits by hand")
				limits = nil
			}
		}
	}
	return append(edits, limits...)
}

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

// ownPath says whether a service's key is written in the service itself
// (not inherited through <<).
func (d *Document) ownPath(service, key string) bool {
	if sn, ok := d.serviceNode(service); ok {
		k, _ := ownKey(sn.Val, key)
		return k != nil
	}
	return false
}

// expectedService is a service's model once its edits are made: what
// compose-go must read back from the output.
func expectedService(m map[string]any, edits []edit) map[string]any {
	out := make(map[string]any, len(m)+len(edits))
	for k, v := range m {
		out[k] = v
	}
	for _, e := range edits {
		if e.items != nil {
			cur, _ := out[e.path[0]].([]any)
			l := append([]any(nil), cur...)
			for _, it := range e.items {
				l = append(l, it)
			}
			out[e.path[0]] = l
			continue
		}
		// Copy the maps along the path: the input model stays as it was.
		parent := out
		for _, k := range e.path[:len(e.path)-1] {
			next, _ := parent[k].(map[string]any)
			cp := make(map[string]any, len(next)+1)
			for kk, vv := range next {
				cp[kk] = vv
			}
			parent[k] = cp
			parent = cp
		}
		parent[e.path[len(e.path)-1]] = e.value
	}
	return out
}
