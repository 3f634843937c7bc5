package compose

import (
	"fmt"
	"path"
	"slices"
	"sort"
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
	// inherited are edits made to the anchored service this one merges
	// (through), which reach it through its merge key.
	inherited []edit
	through   string
}

// all is every edit the service's model gets, its own and the merged ones.
func (sp servicePlan) all() []edit { return append(append([]edit(nil), sp.edits...), sp.inherited...) }

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
	merged := mergedBy(d)
	referenced := referencedAnchors(d)
	// Services whose anchor only services' merge keys use are planned like
	// the others, then edited where that serves every service merging them.
	var anchored []int
	for _, s := range d.Services() {
		w := pl.warner(s)
		ref := referenced
		if len(nodes[s.Name]) == 1 && merged[nodes[s.Name][0].Val] != nil {
			ref = nil
		}
		sn, why := editable(nodes[s.Name], ref, skip[s.Name])
		if why != "" {
			w(RuleNotHardened, report.Medium, nil, "%s", why)
			continue
		}
		if edits := pl.service(s, w); len(edits) > 0 {
			if merged[sn.Val] != nil {
				anchored = append(anchored, len(pl.out.services))
			}
			pl.out.services = append(pl.out.services, servicePlan{svc: s, node: sn, edits: edits})
		}
	}
	for _, i := range anchored {
		pl.throughMerge(&pl.out.services[i], merged[pl.out.services[i].node.Val])
	}
	kept := pl.out.services[:0]
	for _, sp := range pl.out.services {
		if len(sp.edits) > 0 || len(sp.inherited) > 0 {
			kept = append(kept, sp)
		}
	}
	pl.out.services = kept
	return pl.out
}

// mergedBy maps an anchored service mapping to the services that merge it
// with <<, when merge keys of services are its only uses; anchors used any
// other way are left out.
func mergedBy(d *Document) map[*yaml.Node][]string {
	byNode := map[*yaml.Node][]string{}
	other := map[*yaml.Node]bool{}
	services := map[*yaml.Node]bool{}
	for _, sn := range d.serviceNodes() {
		services[sn.Val] = true
	}
	var walk func(n *yaml.Node, service string, mergeValue bool)
	walk = func(n *yaml.Node, service string, mergeValue bool) {
		if n.Kind == yaml.AliasNode {
			if mergeValue && service != "" && services[n.Alias] {
				byNode[n.Alias] = append(byNode[n.Alias], service)
			} else {
				other[n.Alias] = true
			}
			return
		}
		for i, c := range n.Content {
			mv := false
			if n.Kind == yaml.MappingNode && i%2 == 1 && isMergeKey(n.Content[i-1]) && services[n] {
				mv = true
			}
			if n.Kind == yaml.SequenceNode && mergeValue {
				mv = true // <<: [*a, *b]
			}
			walk(c, service, mv)
		}
	}
	for _, sn := range d.serviceNodes() {
		walk(sn.Val, sn.Name, false)
	}
	for _, doc := range d.Docs {
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value != "services" {
				walk(root.Content[i+1], "", false)
			}
		}
	}
	for n := range other {
		delete(byNode, n)
	}
	return byNode
}

// throughMerge decides whether an anchored service that others merge can
// be edited. Its edits reach a merging service through the merge key
// unless that service has the key itself — written in the file, or written
// by its own plan (ctsec writes a merged list out in full on the service).
// So it can be edited when, for each key it gets, every merging service
// either has its own, or plans exactly the same edits for that key: those
// then leave the merging service's plan and come through the merge, and
// verification checks them there. Otherwise the anchored service is left
// as it was, with a finding.
func (pl *planner) throughMerge(a *servicePlan, mergers []string) {
	plans := map[string]*servicePlan{}
	for i := range pl.out.services {
		plans[pl.out.services[i].svc.Name] = &pl.out.services[i]
	}
	nodes := map[string]serviceNode{}
	for _, sn := range pl.d.serviceNodes() {
		nodes[sn.Name] = sn
	}
	byKey := map[string][]edit{}
	var keys []string
	for _, e := range a.edits {
		if _, ok := byKey[e.path[0]]; !ok {
			keys = append(keys, e.path[0])
		}
		byKey[e.path[0]] = append(byKey[e.path[0]], e)
	}
	inherit := map[string][]string{} // merging service → keys that come through the merge
	for _, k := range keys {
		for _, m := range mergers {
			if own, _ := ownKey(nodes[m].Val, k); own != nil {
				continue
			}
			var mine []edit
			if mp := plans[m]; mp != nil {
				for _, e := range mp.edits {
					if e.path[0] == k {
						mine = append(mine, e)
					}
				}
			}
			switch {
			case len(mine) == 0:
				pl.warner(a.svc)(RuleNotHardened, report.Medium, nil,
					"is anchored (&%s) and merged by %s, which is not to get %s; editing it would change that service too — not edited (give %s its own %s, or harden them apart)",
					a.node.Val.Anchor, m, k, m, k)
				a.edits = nil
				return
			case sameEdits(mine, byKey[k]):
				inherit[m] = append(inherit[m], k)
			}
		}
	}
	for m, ks := range inherit {
		mp := plans[m]
		kept := mp.edits[:0]
		for _, e := range mp.edits {
			if slices.Contains(ks, e.path[0]) {
				mp.inherited = append(mp.inherited, e)
			} else {
				kept = append(kept, e)
			}
		}
		mp.edits, mp.through = kept, a.svc.Name
	}
}

func sameEdits(a, b []edit) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(x edit) bool { return !slices.ContainsFunc(b, func(y edit) bool { return sameEdit(x, y) }) })
}

func sameEdit(a, b edit) bool {
	return a.rule == b.rule && slices.Equal(a.path, b.path) && slices.Equal(a.items, b.items) && a.text == b.text && sameValue(a.value, b.value)
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

// view is what the plan knows of one service: the file's values resolved
// through the environment, and the facts that still apply to it.
type view struct {
	s         Service
	image     string // resolved image reference, "" when unknown
	user      string // effective user, "" for root
	userFrom  string // "the file" or "image X"
	userKnown bool   // false: a ${VAR} user that does not resolve
	nonRoot   bool
	entry     capabilities.Entry
	img       *ImageFacts  // nil when the image was not inspected, or is another
	learnt    *LearntFacts // nil without a trial
	heap      *Heap
}

// source names where a decision comes from, for the # ctsec: comments:
// learnt > image facts > knowledge base > the safe default.
func (v *view) kbSource() string {
	if v.entry.Fallback {
		return "default (image not in the knowledge base)"
	}
	name := v.entry.Images[0]
	if v.image != "" {
		name = capabilities.ImageName(v.image)
	}
	return "knowledge base (" + name + ")"
}

func (pl *planner) view(s Service, warn warnFunc) *view {
	m := s.M
	v := &view{s: s, userKnown: true}
	if img, ok := pl.d.resolve(str(m["image"])); ok {
		v.image = img
	}
	v.entry = pl.kb.Lookup(v.image)
	sf := pl.f.service(s.Name)
	if sf.Image != nil {
		if v.image != "" && sf.Image.Ref != v.image {
			warn(RuleNotHardened, report.Info, []string{"image"}, "facts are about image %s, the file runs %s: not used (ctsec compose learn again)", sf.Image.Ref, v.image)
		} else {
			v.img = sf.Image
		}
	}
	if sf.Learnt != nil && (sf.Image == nil || v.img != nil) {
		v.learnt = sf.Learnt
	}
	switch u, ok := pl.d.resolve(str(m["user"])); {
	case !ok:
		v.userKnown = false
	case u != "":
		v.user, v.userFrom = u, "the file"
	case v.img != nil && v.img.User != "":
		v.user, v.userFrom = v.img.User, "image "+v.img.Ref
	}
	v.nonRoot = v.userKnown && v.user != "" && v.user != "root" && v.user != "0" &&
		!strings.HasPrefix(v.user, "0:") && !strings.HasPrefix(v.user, "root:")
	// The service's own environment and command count as much as the
	// image's: ES_JAVA_OPTS=-Xmx1g is usually set in the file.
	var env []string
	switch e := m["environment"].(type) {
	case map[string]any:
		for k, val := range e {
			if r, ok := pl.d.resolve(str(val)); ok {
				env = append(env, k+"="+r)
			}
		}
	case []any:
		for _, x := range e {
			if r, ok := pl.d.resolve(str(x)); ok {
				env = append(env, r)
			}
		}
	}
	sort.Strings(env)
	var args []string
	for _, a := range append(strs(m["entrypoint"]), strs(m["command"])...) {
		if r, ok := pl.d.resolve(a); ok {
			args = append(args, r)
		}
	}
	if str(m["command"]) != "" && strs(m["command"]) == nil {
		args = append(args, str(m["command"]))
	}
	v.heap = HeapSetting(env, args)
	if v.img != nil && v.img.Heap != nil && (v.heap == nil || v.img.Heap.Bytes > v.heap.Bytes) {
		v.heap = &Heap{Bytes: v.img.Heap.Bytes, Evidence: "image " + v.img.Ref + " " + v.img.Heap.Evidence}
	}
	return v
}

// service plans one service's edits.
func (pl *planner) service(s Service, warn warnFunc) []edit {
	d, m := pl.d, s.M
	v := pl.view(s, warn)
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
	if !privileged && pl.want(RuleCapDropAll) && !pl.skipped(s.Name, RuleCapDropAll) {
		edits = append(edits, pl.caps(v, warn)...)
	}
	if !pl.swarm {
		edits = append(edits, pl.securityOpts(v, privileged, warn)...)
	}
	edits = append(edits, pl.limits(v, warn)...)
	if pl.o.Policy == Strict && pl.want(RuleWritableRootfs) && !pl.skipped(s.Name, RuleWritableRootfs) && !has(m, "read_only") {
		edits = append(edits, pl.readOnly(v, warn)...)
	}
	var limits []edit
	rest := edits[:0]
	for _, e := range edits {
		if len(e.path) > 1 {
			limits = append(limits, e)
		} else {
			rest = append(rest, e)
		}
	}
	if len(limits) > 0 {
		if deploy, ok := m["deploy"]; ok && deploy != nil && !d.ownPath(s.Name, "deploy") {
			warn(RuleNotHardened, report.Medium, []string{"deploy"}, "deploy comes through a merge key; add deploy.resources.limits by hand")
			limits = nil
		}
	}
	return append(rest, limits...)
}

func (pl *planner) skipped(service, rule string) bool {
	return slices.Contains(pl.o.Skip[service], rule)
}

// caps plans cap_drop: [ALL] and the cap_add the service needs: what a trial
// found it needs, else what the image's user and file capabilities say,
// else the knowledge base.
func (pl *planner) caps(v *view, warn warnFunc) []edit {
	m := v.s.M
	if containsFold(strs(m["cap_drop"]), "ALL") {
		return nil
	}
	capAdd := upperCaps(strs(m["cap_add"]))
	if containsFold(capAdd, "ALL") {
		warn(RuleCapDropAll, report.High, []string{"cap_add"}, "cap_add: ALL kept as written; dropping capabilities would be undone by it")
		return nil
	}
	var caps []string
	var why string
	switch {
	case v.learnt != nil:
		caps = v.learnt.Caps
		if len(caps) == 0 {
			why = "learnt: the trial stayed healthy without any capability"
		} else {
			why = "learnt: the trial needed " + strings.Join(caps, ", ")
		}
	case v.nonRoot:
		if !v.entry.Fallback {
			caps = v.entry.UserCaps
		}
		why = "runs as user " + v.user + " (" + v.userFrom + "): capabilities are not in effect for a non-root process"
		if len(caps) > 0 {
			why += "; " + v.kbSource() + ": " + v.entry.Reason
		}
	case v.entry.Fallback:
		caps = v.entry.Caps
		why = "default: " + v.entry.Reason
	default:
		caps = v.entry.Caps
		why = v.kbSource() + ": " + v.entry.Reason
	}
	caps = append([]string(nil), caps...)
	if v.img != nil && v.learnt == nil {
		// A file capability outside the bounding set makes exec fail
		// (with the effective bit) or the program run without it.
		for _, fc := range v.img.FileCaps {
			var added []string
			for _, c := range fc.Caps {
				if capabilities.DockerDefault(c) && !containsFold(caps, c) {
					caps = append(caps, c)
					added = append(added, c)
				}
			}
			if len(added) > 0 {
				why += "; image " + v.img.Ref + ": " + fc.Path + " carries file capabilities " + strings.Join(added, ", ")
			}
		}
	}
	var missing []string
	for _, c := range caps {
		if !containsFold(capAdd, c) {
			missing = append(missing, c)
		}
	}
	// The comment names the image as the file does: a resolved ${VAR}
	// stays out of the file.
	img := str(m["image"])
	if img == "" {
		img = "(built image)"
	}
	reason := "ctsec: " + img + ": " + why
	dropComment := ""
	if len(missing) == 0 {
		dropComment = reason
	}
	edits := []edit{{rule: RuleCapDropAll, path: []string{"cap_drop"}, items: []string{"ALL"}, comment: dropComment}}
	if len(missing) > 0 {
		edits = append(edits, edit{rule: RuleCapDropAll, path: []string{"cap_add"}, items: missing, comment: reason})
	}
	return edits
}

// securityOpts plans no-new-privileges and the profiles found for the
// service. no-new-privileges is left out where a trial saw it break the
// service, or where the image's file capabilities would stop working.
func (pl *planner) securityOpts(v *view, privileged bool, warn warnFunc) []edit {
	m := v.s.M
	sf := pl.f.service(v.s.Name)
	var edits []edit
	opts := securityOpts(m)
	set, explicitFalse := noNewPrivs(m)
	if pl.want(RuleNoNewPrivs) && !set && !explicitFalse && !privileged && !pl.skipped(v.s.Name, RuleNoNewPrivs) {
		var fileCaps []string
		if v.img != nil {
			for _, fc := range v.img.FileCaps {
				fileCaps = append(fileCaps, fc.Path)
			}
		}
		switch {
		case v.learnt != nil && v.learnt.NoNewPrivileges == "breaks":
			warn(RuleNoNewPrivs, report.Medium, []string{"security_opt"}, "no-new-privileges not added: the trial broke with it (%s)", v.learnt.NoNewPrivilegesEvidence)
		case v.learnt == nil && len(fileCaps) > 0:
			warn(RuleNoNewPrivs, report.Medium, []string{"security_opt"}, "no-new-privileges not added: %s carries file capabilities, which no-new-privileges disables at exec; ctsec compose learn tries it", strings.Join(fileCaps, ", "))
		default:
			comment := ""
			switch {
			case v.learnt != nil:
				comment = "ctsec: learnt: the trial stayed healthy with no-new-privileges"
			case v.img != nil && len(v.img.Setuid) > 0:
				comment = "ctsec: image " + v.img.Ref + ": setuid executables (" + strings.Join(firstN(v.img.Setuid, 3), ", ") + ") run unprivileged from now on"
			}
			edits = append(edits, edit{rule: RuleNoNewPrivs, path: []string{"security_opt"}, items: []string{"no-new-privileges:true"}, comment: comment})
		}
	}
	if explicitFalse {
		warn(RuleNoNewPrivs, report.Medium, []string{"security_opt"}, "no-new-privileges:false kept as written")
	}
	if _, ok := opts["seccomp"]; !ok && pl.want(RuleSeccomp) {
		if ref := sf.Seccomp; pl.skipped(v.s.Name, RuleSeccomp) {
		} else if strings.Contains(ref, "$") {
			warn(RuleSeccomp, report.Low, nil, "seccomp profile path %q holds a $; add it by hand", ref)
		} else if ref != "" {
			edits = append(edits, edit{rule: RuleSeccomp, path: []string{"security_opt"}, items: []string{"seccomp=" + ref}})
		}
	}
	if _, ok := opts["apparmor"]; !ok && pl.want(RuleAppArmor) && sf.AppArmor != "" && !pl.skipped(v.s.Name, RuleAppArmor) {
		edits = append(edits, edit{rule: RuleAppArmor, path: []string{"security_opt"}, items: []string{"apparmor=" + sf.AppArmor}})
	}
	for _, k := range []string{"seccomp", "apparmor"} {
		if strings.EqualFold(opts[k], "unconfined") {
			warn(RuleUnconfined, report.High, []string{"security_opt"}, "%s=unconfined kept as written", k)
		}
	}
	return edits
}

func firstN(l []string, n int) []string {
	if len(l) > n {
		return append(append([]string(nil), l[:n]...), "…")
	}
	return l
}

// limits plans the memory and pids limits: from a trial's peaks with
// headroom, else the knowledge base; never below a heap the image or the
// file sets. They go under deploy.resources.limits for swarm, and for a
// service that keeps its resources there already (docker stack deploy
// ignores mem_limit and pids_limit, and a 3.x schema refuses them); as
// service keys otherwise.
func (pl *planner) limits(v *view, warn warnFunc) []edit {
	m := v.s.M
	underDeploy := pl.swarm || has(m, "deploy", "resources")
	var edits []edit
	if pl.want(RulePidsLimit) && !hasPidsLimit(m) && !pl.skipped(v.s.Name, RulePidsLimit) {
		pids, why := v.entry.Pids, v.kbSource()
		if v.learnt != nil && v.learnt.PidsPeak > 0 {
			// A trial is short and idle; under load a service forks and
			// threads more (postgres: a process per connection). The
			// knowledge base's ceiling stays the floor.
			learnt := max(4*v.learnt.PidsPeak, v.learnt.PidsPeak+128)
			why = fmt.Sprintf("learnt: at most %d processes and threads in the trial (%s), times four", v.learnt.PidsPeak, v.learnt.PidsEvidence)
			if !v.entry.Fallback && v.entry.Pids > learnt {
				why += fmt.Sprintf("; the knowledge base's %d is higher", v.entry.Pids)
			} else {
				pids = learnt
			}
		}
		e := edit{rule: RulePidsLimit, path: []string{"pids_limit"}, value: pids, text: fmt.Sprint(pids), comment: "ctsec: pids: " + why}
		switch {
		case has(m, "pids_limit"):
			warn(RulePidsLimit, report.Medium, []string{"pids_limit"}, "pids_limit %s (unlimited) kept as written", str(m["pids_limit"]))
		case underDeploy:
			if ver, old := schemaBeforePids(pl.d); old {
				warn(RulePidsLimit, report.Medium, []string{"deploy"}, "no pids limit added: the file declares version %q and docker stack deploy accepts deploy.resources.limits.pids only from version 3.9; raise the version (Docker 20.10+) and harden again", ver)
			} else {
				e.path = []string{"deploy", "resources", "limits", "pids"}
				edits = append(edits, e)
			}
		default:
			edits = append(edits, e)
		}
	}
	if pl.want(RuleMemoryLimit) && !hasMemoryLimit(m) && !pl.skipped(v.s.Name, RuleMemoryLimit) {
		mem, why := v.entry.Memory, v.kbSource()
		limit, _ := ParseBytes(mem)
		if v.learnt != nil && v.learnt.MemoryPeak > 0 {
			// Doubled, and at least 256 MiB above: an idle trial does not
			// fill caches and buffers that load does.
			learnt := max(2*v.learnt.MemoryPeak, v.learnt.MemoryPeak+256<<20)
			why = fmt.Sprintf("learnt: peak %s in the trial (%s), doubled", FormatBytes(v.learnt.MemoryPeak), v.learnt.MemoryEvidence)
			if !v.entry.Fallback && limit > learnt {
				why += "; the knowledge base's " + mem + " is higher"
			} else {
				limit, mem = learnt, FormatBytes(learnt)
			}
		}
		if h := v.heap; h != nil && limit < h.Bytes+max(h.Bytes/2, 256<<20) {
			limit = h.Bytes + max(h.Bytes/2, 256<<20)
			mem = FormatBytes(limit)
			why += "; raised above the heap of " + FormatBytes(h.Bytes) + " (" + h.Evidence + ")"
		}
		e := edit{rule: RuleMemoryLimit, path: []string{"mem_limit"}, value: mem, text: yamlScalar(mem), comment: "ctsec: memory: " + why}
		if underDeploy {
			e.path = []string{"deploy", "resources", "limits", "memory"}
		}
		// One comment when both limits come from the same place.
		if len(edits) == 1 && strings.TrimPrefix(edits[0].comment, "ctsec: pids: ") == why {
			edits[0].comment = "ctsec: limits: " + why
			e.comment = ""
		}
		edits = append(edits, e)
	}
	return edits
}

// readOnly plans a read-only root filesystem, with tmpfs where the service
// writes — only where that is known: from a trial's writes, or the
// knowledge base's entry for the image. Without write facts, or where the
// service changes files the image ships, a finding says what to do instead.
func (pl *planner) readOnly(v *view, warn warnFunc) []edit {
	m := v.s.M
	if _, isList := m["tmpfs"].([]any); m["tmpfs"] != nil && !isList {
		warn(RuleWritableRootfs, report.Low, []string{"tmpfs"}, "read_only not added: tmpfs is not a list; add it and the paths the service writes by hand")
		return nil
	}
	mounted := map[string]bool{}
	for _, t := range strs(m["tmpfs"]) {
		mounted[strings.SplitN(t, ":", 2)[0]] = true
	}
	vols, _ := m["volumes"].([]any)
	for _, vol := range vols {
		if vm, ok := vol.(map[string]any); ok {
			mounted[str(vm["target"])] = true
		}
	}
	if v.img != nil {
		for _, p := range v.img.Volumes {
			mounted[p] = true // Docker makes a volume for each: writable
		}
	}
	covered := func(p string) bool {
		for q := p; ; q = path.Dir(q) {
			if mounted[q] {
				return true
			}
			if q == "/" || q == "." {
				return false
			}
		}
	}
	var want []string
	var why string
	switch {
	case v.learnt != nil:
		var changed []string
		for _, w := range v.learnt.Writes {
			switch {
			case covered(w.Path):
			case w.Kind == "A" && !covered(path.Dir(w.Path)) && !addedParent(v.learnt.Writes, w.Path):
				want = append(want, w.Path)
				if !w.Dir && !isDirWrite(v.learnt.Writes, w.Path) {
					// An added file: its directory goes on tmpfs.
					want[len(want)-1] = path.Dir(w.Path)
				}
			case w.Kind == "C" && !isDirWrite(v.learnt.Writes, w.Path):
				// Changed in place: a file's content, or a directory's
				// owner or mode (chown at start) — what a read-only
				// root refuses and a tmpfs cannot keep.
				changed = append(changed, w.Path)
			case w.Kind == "D":
				changed = append(changed, w.Path)
			}
		}
		if len(changed) > 0 {
			warn(RuleWritableRootfs, report.Low, nil, "read_only not added: the trial changed or deleted files the image ships (%s), which a tmpfs would hide; give those paths a volume, then harden again", strings.Join(firstN(changed, 3), ", "))
			return nil
		}
		why = "learnt: the trial wrote there"
		if len(want) == 0 {
			why = "learnt: the trial wrote nothing outside its volumes"
		}
	case !v.entry.Fallback && v.entry.NoReadOnly != "":
		warn(RuleWritableRootfs, report.Low, nil, "read_only not added: %s: %s; ctsec compose learn shows what it writes", v.kbSource(), v.entry.NoReadOnly)
		return nil
	case !v.entry.Fallback:
		want = append([]string{"/tmp", "/run"}, v.entry.Writable...)
		why = v.kbSource()
	default:
		warn(RuleWritableRootfs, report.Low, nil, "read_only not added: where %s writes is not known; run ctsec compose learn to find out in a trial, then harden again", orUnknown(v.image))
		return nil
	}
	var add []string
	for _, t := range want {
		if covered(t) || slices.Contains(add, t) {
			continue
		}
		if v.img != nil && shipsUnder(v.img.Shipped, t) {
			warn(RuleWritableRootfs, report.Low, nil, "read_only not added: the service writes to %s, where image %s ships files a tmpfs would hide; give it a volume, then harden again", t, v.img.Ref)
			return nil
		}
		add = append(add, t)
	}
	if len(add) == 0 {
		return []edit{{rule: RuleWritableRootfs, path: []string{"read_only"}, value: true, text: "true", comment: "ctsec: read-only root: " + why}}
	}
	return []edit{
		{rule: RuleWritableRootfs, path: []string{"read_only"}, value: true, text: "true"},
		{rule: RuleWritableRootfs, path: []string{"tmpfs"}, items: add, comment: "ctsec: read-only root, writable where the service writes: " + why},
	}
}

func orUnknown(image string) string {
	if image == "" {
		return "the service"
	}
	return image
}

// isDirWrite reports whether a written path has written paths below it.
func isDirWrite(ws []Write, p string) bool {
	for _, w := range ws {
		if strings.HasPrefix(w.Path, p+"/") {
			return true
		}
	}
	return false
}

// addedParent reports whether a parent of p was itself added (its tmpfs
// covers p).
func addedParent(ws []Write, p string) bool {
	for _, w := range ws {
		if w.Kind == "A" && w.Path != p && strings.HasPrefix(p, w.Path+"/") {
			return true
		}
	}
	return false
}

func shipsUnder(shipped []string, dir string) bool {
	for _, f := range shipped {
		if strings.HasPrefix(f, dir+"/") {
			return true
		}
	}
	return false
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

// CandidateCaps are the capabilities harden would add to a service after
// cap_drop: [ALL] without a trial (from the image's facts and the
// knowledge base, kb nil for the embedded one): where learn starts.
func CandidateCaps(d *Document, service string, f *Facts, kb *capabilities.Base) ([]string, error) {
	if kb == nil {
		var err error
		if kb, err = capabilities.Default(); err != nil {
			return nil, err
		}
	}
	pl := &planner{d: d, f: f, kb: kb, only: map[string]bool{}, out: &plan{}}
	for _, s := range d.Services() {
		if s.Name != service {
			continue
		}
		quiet := func(string, report.Severity, []string, string, ...any) {}
		v := pl.view(s, quiet)
		v.learnt = nil
		var caps []string
		for _, e := range pl.caps(v, quiet) {
			if e.path[0] == "cap_add" {
				caps = append(caps, e.items...)
			}
		}
		return caps, nil
	}
	return nil, fmt.Errorf("no service %s in %s", service, d.Name)
}
