package compose

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// Verification proves that the output means the input plus the plan, and
// nothing else, without loading the whole output with compose-go a second
// time (that load was half of harden's time):
//
//  1. the output is parsed with go.yaml.in/yaml/v4, the parser compose-go
//     reads with, and its node tree must be the input's with exactly the
//     planned additions: the same keys, values, tags, anchors and aliases
//     everywhere else, and the added keys and items where the plan put
//     them, with the values it planned;
//  2. the keys harden wrote are read from the output's tree (merge keys and
//     aliases resolved by the parser) and loaded with compose-go — one load
//     for the whole file, each distinct set of values once — and must give
//     the plan's model of those keys.
//
// compose-go's model of a service is made key by key (its canonical
// transforms and unicity rules are per key: transform/canonical.go,
// override/uncity.go), so an unchanged subtree keeps its model, and (1) and
// (2) together are the model comparison a full reload would make. Files
// with compose-go's own !reset/!override tags inside an edited service are
// verified by a full reload instead. Tests and the fuzz target check the
// full reload agrees every time.

// verifyError says which services' output differs from the plan.
type verifyError struct {
	services []string
	detail   string
	err      error
}

func (e *verifyError) Error() string { return e.err.Error() }

func verify(d *Document, p *patcher, out []byte, done []servicePlan) error {
	docs, err := parseAll(out)
	if err != nil {
		return fmt.Errorf("hardened %s does not parse (refusing to write; this is a ctsec bug): %w", d.Name, err)
	}
	c := &treeCheck{adds: map[*yaml.Node][]addition{}, pair: map[*yaml.Node]*yaml.Node{}}
	for _, a := range p.adds {
		c.adds[a.node] = append(c.adds[a.node], a)
	}
	if len(docs) != len(d.Docs) {
		return fmt.Errorf("hardened %s: %d YAML documents instead of %d (refusing to write; this is a ctsec bug)", d.Name, len(docs), len(d.Docs))
	}
	for i := range docs {
		c.root(d.Docs[i], docs[i])
	}
	if c.outside != "" {
		return fmt.Errorf("hardened %s: %s (refusing to write; this is a ctsec bug)", d.Name, c.outside)
	}
	if len(c.bad) > 0 {
		return c.failure(d.Name)
	}
	return c.models(d, out, done)
}

func parseAll(src []byte) ([]*yaml.Node, error) {
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &n)
	}
}

// treeCheck compares an input tree with the output's.
type treeCheck struct {
	adds    map[*yaml.Node][]addition
	pair    map[*yaml.Node]*yaml.Node // input node → output node
	service string                    // the service being compared, "" outside
	bad     map[string]string         // service → first difference
	outside string                    // a difference outside every service
}

func (c *treeCheck) root(a, b *yaml.Node) {
	c.pair[a] = b
	if a.Kind != b.Kind || len(a.Content) != len(b.Content) {
		c.differ(at(nil, "document"), "the document changed shape")
		return
	}
	for i := range a.Content {
		ra, rb := a.Content[i], b.Content[i]
		if ra.Kind != yaml.MappingNode || rb.Kind != yaml.MappingNode {
			c.node(ra, rb, nil)
			continue
		}
		c.pair[ra] = rb
		if len(ra.Content) != len(rb.Content) {
			c.differ(nil, "top-level keys changed")
			return
		}
		for j := 0; j+1 < len(ra.Content); j += 2 {
			c.node(ra.Content[j], rb.Content[j], nil)
			if ra.Content[j].Value == "services" && ra.Content[j+1].Kind == yaml.MappingNode && rb.Content[j+1].Kind == yaml.MappingNode {
				c.services(ra.Content[j+1], rb.Content[j+1])
				continue
			}
			c.node(ra.Content[j+1], rb.Content[j+1], at(nil, ra.Content[j].Value))
		}
	}
}

func (c *treeCheck) services(a, b *yaml.Node) {
	c.pair[a] = b
	if a.Anchor != b.Anchor || a.Tag != b.Tag || len(a.Content) != len(b.Content) {
		c.differ(at(nil, "services"), "the services mapping changed")
		return
	}
	services := at(nil, "services")
	for j := 0; j+1 < len(a.Content); j += 2 {
		c.node(a.Content[j], b.Content[j], services)
		c.service = a.Content[j].Value
		c.node(a.Content[j+1], b.Content[j+1], at(services, c.service))
		c.service = ""
	}
}

// where is a node's path, spelt out only for a message.
type where struct {
	up    *where
	key   string
	index int // with key "": an item's index
}

func at(up *where, key string) *where    { return &where{up: up, key: key} }
func itemAt(up *where, index int) *where { return &where{up: up, index: index} }
func (w *where) String() string {
	if w == nil {
		return ""
	}
	elem := w.key
	if elem == "" {
		elem = strconv.Itoa(w.index)
	}
	if w.up == nil {
		return elem
	}
	return w.up.String() + "." + elem
}

func (c *treeCheck) differ(path *where, what string) {
	msg := what
	if path != nil {
		msg = path.String() + ": " + what
	}
	if c.service == "" {
		if c.outside == "" {
			c.outside = msg
		}
		return
	}
	if c.bad == nil {
		c.bad = map[string]string{}
	}
	if _, ok := c.bad[c.service]; !ok {
		c.bad[c.service] = msg
	}
}

// node compares input node a with output node b, where the plan's
// additions to a must follow a's own content.
func (c *treeCheck) node(a, b *yaml.Node, path *where) {
	c.pair[a] = b
	adds := c.adds[a]
	if a.Kind == yaml.ScalarNode && len(adds) > 0 {
		// "key:" with nothing after it, given items.
		var items []string
		for _, ad := range adds {
			items = append(items, ad.items...)
		}
		c.items(b, nil, items, path)
		return
	}
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Anchor != b.Anchor || a.Value != b.Value {
		c.differ(path, fmt.Sprintf("%s %q became %s %q", kindName(a), a.Value, kindName(b), b.Value))
		return
	}
	if a.Kind == yaml.AliasNode {
		if a.Alias != nil && c.pair[a.Alias] != b.Alias {
			c.differ(path, "alias *"+a.Value+" refers to another node")
		}
		return
	}
	n := len(a.Content)
	if len(b.Content) < n {
		c.differ(path, "content removed")
		return
	}
	for i := 0; i < n; i++ {
		sub := path
		if a.Kind == yaml.MappingNode {
			if i%2 == 1 {
				sub = at(path, a.Content[i-1].Value)
			}
		} else if a.Kind == yaml.SequenceNode {
			sub = itemAt(path, i)
		}
		c.node(a.Content[i], b.Content[i], sub)
	}
	rest := b.Content[n:]
	switch a.Kind {
	case yaml.MappingNode:
		var entries []entry
		for _, ad := range adds {
			entries = append(entries, ad.entries...)
		}
		c.entries(rest, entries, path)
	case yaml.SequenceNode:
		var items []string
		for _, ad := range adds {
			items = append(items, ad.items...)
		}
		if len(rest) != len(items) {
			c.differ(path, fmt.Sprintf("%d items added, %d planned", len(rest), len(items)))
			return
		}
		for i, it := range items {
			c.item(rest[i], it, path)
		}
	default:
		if len(rest) > 0 || len(adds) > 0 {
			c.differ(path, "unexpected content")
		}
	}
}

// entries compares the key/value nodes added to a mapping with the plan.
func (c *treeCheck) entries(nodes []*yaml.Node, want []entry, path *where) {
	if len(nodes) != 2*len(want) {
		c.differ(path, fmt.Sprintf("%d keys added, %d planned", len(nodes)/2, len(want)))
		return
	}
	for i, e := range want {
		k, v := nodes[2*i], nodes[2*i+1]
		sub := at(path, e.key)
		if k.Kind != yaml.ScalarNode || k.Tag != "!!str" || k.Value != e.key {
			c.differ(path, fmt.Sprintf("key %q added, %q planned", k.Value, e.key))
			continue
		}
		switch {
		case e.nested != nil:
			if v.Kind != yaml.MappingNode {
				c.differ(sub, "not a mapping")
				continue
			}
			c.entries(v.Content, e.nested, sub)
		case e.raw != nil:
			c.items(v, nil, e.raw, sub)
		default:
			var got any
			if v.Kind != yaml.ScalarNode || v.Decode(&got) != nil || !sameValue(got, e.value) {
				c.differ(sub, fmt.Sprintf("reads as %v, %v planned", got, e.value))
			}
		}
	}
}

// items checks that b is a sequence holding exactly have's items (already
// compared) and then want's.
func (c *treeCheck) items(b *yaml.Node, have []*yaml.Node, want []string, path *where) {
	if b.Kind != yaml.SequenceNode || len(b.Content) != len(have)+len(want) {
		c.differ(path, fmt.Sprintf("not a list of the %d planned items", len(want)))
		return
	}
	for i, it := range want {
		c.item(b.Content[len(have)+i], it, path)
	}
}

// item checks one added sequence item: a string reading as the value
// (yamlScalar doubles $ so compose does not interpolate it).
func (c *treeCheck) item(n *yaml.Node, raw string, path *where) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" || n.Value != strings.ReplaceAll(raw, "$", "$$") {
		c.differ(path, fmt.Sprintf("item %q added, %q planned", n.Value, raw))
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	return "scalar " + n.Tag
}

func (c *treeCheck) failure(name string) error {
	ve := &verifyError{}
	for s := range c.bad {
		ve.services = append(ve.services, s)
	}
	sort.Strings(ve.services)
	ve.detail = "services." + ve.services[0] + ": " + c.bad[ve.services[0]]
	ve.err = fmt.Errorf("hardened %s: the output's YAML differs from the plan at %s (refusing to write; this is a ctsec bug)", name, ve.detail)
	return ve
}

// models loads the keys harden wrote with compose-go and compares them
// with the plan's model of them. Services written alike are decoded and
// compared once.
func (c *treeCheck) models(d *Document, out []byte, done []servicePlan) error {
	type check struct {
		sp   servicePlan
		keys []string
		id   string
	}
	checks := make([]check, 0, len(done))
	ids := map[string]string{} // fingerprint of the written keys → synthetic service
	synthetic := map[string]any{}
	var fp strings.Builder
	for _, sp := range done {
		node := c.pair[sp.node.Val]
		if node == nil {
			return verifyFull(d, out, done)
		}
		var keys []string
		var values []*yaml.Node
		fp.Reset()
		for _, e := range sp.all() {
			if slices.Contains(keys, e.path[0]) {
				continue
			}
			// What harden writes is the service's own key (an inherited
			// list is written out in full), or, for an edit made to the
			// anchored service it merges, the key as the merge resolves it.
			k, v, _ := lookupKey(node, e.path[0])
			if k == nil || hasComposeTags(v) {
				return verifyFull(d, out, done)
			}
			keys = append(keys, e.path[0])
			values = append(values, v)
			fp.WriteString(e.path[0])
			fingerprint(&fp, v)
		}
		id, ok := ids[fp.String()]
		if !ok {
			touched := make(map[string]any, len(keys))
			for i, k := range keys {
				var v any
				if err := values[i].Decode(&v); err != nil {
					return &verifyError{services: []string{sp.svc.Name}, detail: err.Error(),
						err: fmt.Errorf("hardened %s: services.%s.%s does not decode: %w (refusing to write; this is a ctsec bug)", d.Name, sp.svc.Name, k, err)}
				}
				touched[k] = v
			}
			id = "s" + strconv.Itoa(len(ids))
			ids[fp.String()] = id
			synthetic[id] = touched
		}
		checks = append(checks, check{sp: sp, keys: keys, id: id})
	}
	model, err := loadConfig(d.Name, []types.ConfigFile{{Filename: d.Name, Config: map[string]any{"services": synthetic}}})
	if err != nil {
		return fmt.Errorf("the keys harden wrote do not load (refusing to write; this is a ctsec bug): %w", err)
	}
	svcs, _ := model["services"].(map[string]any)
	ve := &verifyError{}
	for _, ch := range checks {
		got, _ := svcs[ch.id].(map[string]any)
		want := expectedService(ch.sp.svc.M, ch.sp.all())
		for _, k := range ch.keys {
			if !sameValue(want[k], got[k]) {
				if ve.detail == "" {
					ve.detail = firstDiff(normalize(want[k]), normalize(got[k]), "services."+ch.sp.svc.Name+"."+k)
				}
				ve.services = append(ve.services, ch.sp.svc.Name)
				break
			}
		}
	}
	if len(ve.services) > 0 {
		ve.err = fmt.Errorf("hardened %s: model comparison failed at %s (refusing to write; this is a ctsec bug)", d.Name, ve.detail)
		return ve
	}
	return nil
}

// fingerprint writes what a node means (kinds, tags, values, aliases'
// targets by name) so that nodes reading the same share one decode.
func fingerprint(b *strings.Builder, n *yaml.Node) {
	b.WriteByte(byte('0' + n.Kind))
	b.WriteString(n.Tag)
	b.WriteByte(0)
	b.WriteString(n.Value)
	b.WriteByte(0)
	if n.Kind == yaml.AliasNode {
		if n.Alias != nil {
			fingerprint(b, n.Alias)
		}
		return
	}
	b.WriteString(strconv.Itoa(len(n.Content)))
	b.WriteByte('[')
	for _, c := range n.Content {
		fingerprint(b, c)
	}
	b.WriteByte(']')
}

// hasComposeTags reports compose-go's !reset and !override, which its
// loader applies on the node tree before decoding.
// withoutExtensionKeys deletes the x- keys at the top level and in services
// from a model, as Parse leaves them out (load.go).
func withoutExtensionKeys(model map[string]any) {
	for k := range model {
		if strings.HasPrefix(k, "x-") {
			delete(model, k)
		}
	}
	svcs, _ := model["services"].(map[string]any)
	for _, s := range svcs {
		if m, ok := s.(map[string]any); ok {
			for k := range m {
				if strings.HasPrefix(k, "x-") {
					delete(m, k)
				}
			}
		}
	}
}

func hasComposeTags(n *yaml.Node) bool {
	if n.Tag == "!reset" || n.Tag == "!override" {
		return true
	}
	if n.Kind == yaml.AliasNode {
		return n.Alias != nil && hasComposeTags(n.Alias)
	}
	for _, ch := range n.Content {
		if hasComposeTags(ch) {
			return true
		}
	}
	return false
}

// verifyFull loads the whole output with compose-go and compares its model
// with the input's plus the plan: the reference verification, used where
// the tree comparison does not apply, and by the tests to prove that it
// agrees.
func verifyFull(d *Document, out []byte, done []servicePlan) error {
	expected := make(map[string]any, len(d.Model))
	for k, v := range d.Model {
		expected[k] = v
	}
	in, _ := d.Model["services"].(map[string]any)
	es := make(map[string]any, len(in))
	for k, v := range in {
		es[k] = v
	}
	for _, sp := range done {
		es[sp.svc.Name] = expectedService(sp.svc.M, sp.all())
	}
	expected["services"] = es
	model, err := loadModel(d.Name, out)
	if err != nil {
		return fmt.Errorf("hardened output does not load (refusing to write; this is a ctsec bug): %w", err)
	}
	withoutExtensionKeys(model)
	if sameValue(expected, model) {
		return nil
	}
	want, got := normalize(expected), normalize(model)
	ve := &verifyError{detail: firstDiff(want, got, ""),
		err: fmt.Errorf("hardened %s: model comparison failed at %s (refusing to write; this is a ctsec bug)", d.Name, firstDiff(want, got, ""))}
	// Only differences inside services can be undone by not editing them.
	for k := range mergeKeys(expected, model) {
		if k != "services" && !sameValue(expected[k], model[k]) {
			return ve
		}
	}
	ms, _ := model["services"].(map[string]any)
	for k := range mergeKeys(es, ms) {
		if !sameValue(es[k], ms[k]) {
			ve.services = append(ve.services, k)
		}
	}
	sort.Strings(ve.services)
	return ve
}
