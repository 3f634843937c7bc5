package compose

import (
	"fmt"

	"go.yaml.in/yaml/v4"
)

// compose-go reads a file in time that grows faster than the file in a few
// places, and a small file can make it spend minutes there (measured on
// compose-go v2.16.2):
//
//   - every mapping's keys are compared pairwise for duplicates
//     (go.yaml.in/yaml/v4 Constructor.mapping): 100,000 top-level keys
//     take minutes;
//   - every alias of an anchor is compared with every earlier alias of it
//     (loader.ResetProcessor.checkForCycle): 20,000 aliases of one anchor
//     take 40 s;
//   - every node's path is built and split per transformer, so a node
//     2,500 mappings deep costs thousands of times an ordinary one;
//   - aliases are expanded when decoding, so a "billion laughs" grows
//     without bound.
//
// ctsec parses the file once itself and hands compose-go the decoded
// documents (model.go), which skips the first two: inspect finds duplicate
// keys with a map instead, and refuses recursive aliases. What remains is
// bounded here before compose-go sees the file, in one walk of the node
// tree that costs a few milliseconds. A file with compose-go's !reset or
// !override tags is given to compose-go as text (its loader applies them
// while parsing); for those the pairwise comparisons are counted and
// bounded too.

// maxDepth bounds the nesting of mappings and sequences. Real compose files
// nest about 8 deep (services.x.deploy.resources.limits.memory).
const maxDepth = 64

// maxExpandedNodes bounds the size of the tree once aliases are expanded.
// compose-go spends about 10 µs on a node (splitting its path for every
// transformer), so this bounds its time to about 2 s; a 5,000-service stack
// of the usual shapes has 110,000 nodes.
const maxExpandedNodes = 150_000

// maxEntries bounds the keys of a mapping (other than services, bounded by
// MaxServices) and the items of a sequence: real files hold tens
// (environment, labels, ports), and one holding 100,000 costs compose-go
// seconds.
const maxEntries = 10_000

// maxPairs bounds the pairwise comparisons compose-go makes when it parses
// a file itself: key pairs of every mapping and alias pairs of every
// anchor. At 20–30 ns a comparison on this project's build machine, 40
// million are about a second.
const maxPairs = 40_000_000

// shape is what inspect learns in one walk of the node tree.
type shape struct {
	composeTags bool  // !reset or !override somewhere
	pairs       int64 // what compose-go's own parse would compare pairwise
	worst       *yaml.Node
	worstPairs  int64
}

// inspect refuses what compose-go must not be given: nesting past
// maxDepth, duplicate keys, recursive aliases and expansions past
// maxExpandedNodes, and (for files compose-go parses itself) too many
// pairwise comparisons.
func (d *Document) inspect() (shape, error) {
	var sh shape
	aliases := map[*yaml.Node]int64{}
	// Expanded sizes of anchored nodes (what an alias of one costs), and
	// the anchored nodes being walked (an alias of one is recursive).
	sizes := map[*yaml.Node]int{}
	onPath := map[*yaml.Node]bool{}
	var crossed *yaml.Node // where the expanded size first passed the limit
	var doc *yaml.Node
	var walk func(n *yaml.Node, depth int) (int, error)
	walk = func(n *yaml.Node, depth int) (int, error) {
		if depth > maxDepth {
			return 0, &ParseError{File: d.Name, Line: n.Line, Column: n.Column,
				Msg: fmt.Sprintf("nested more than %d levels deep; not a compose file ctsec will read", maxDepth)}
		}
		if n.Tag == "!reset" || n.Tag == "!override" {
			sh.composeTags = true
		}
		switch n.Kind {
		case yaml.AliasNode:
			if n.Alias == nil {
				return 1, nil
			}
			aliases[n.Alias]++
			size, done := sizes[n.Alias]
			if onPath[n.Alias] || !done {
				return 0, &ParseError{File: d.Name, Line: n.Line, Column: n.Column, Msg: "recursive alias *" + n.Value + " refers to a node that contains it"}
			}
			return size, nil
		case yaml.SequenceNode:
			if len(n.Content) > maxEntries {
				past := n.Content[maxEntries]
				return 0, &ParseError{File: d.Name, Line: past.Line, Column: past.Column,
					Msg: fmt.Sprintf("a list of %d items (starting at line %d): more than the %d ctsec reads in one list", len(n.Content), n.Line, maxEntries)}
			}
		case yaml.MappingNode:
			if len(n.Content)/2 > maxEntries && !(depth == 2 && n == d.servicesNode(doc)) {
				past := n.Content[2*maxEntries]
				return 0, &ParseError{File: d.Name, Line: past.Line, Column: past.Column,
					Msg: fmt.Sprintf("a mapping of %d keys (starting at line %d): more than the %d ctsec reads in one mapping", len(n.Content)/2, n.Line, maxEntries)}
			}
			k := int64(len(n.Content) / 2)
			sh.note(k*k/2, n)
			if err := d.duplicateKeys(n); err != nil {
				return 0, err
			}
		}
		if n.Anchor != "" {
			onPath[n] = true
		}
		total := 1
		for _, c := range n.Content {
			s, err := walk(c, depth+1)
			if err != nil {
				return 0, err
			}
			total += s
			if total > maxExpandedNodes {
				if crossed == nil {
					crossed = c
				}
				total = maxExpandedNodes + 1
			}
		}
		if n.Anchor != "" {
			delete(onPath, n)
			sizes[n] = total
		}
		return total, nil
	}
	for _, doc = range d.Docs {
		size, err := walk(doc, 0)
		if err != nil {
			return sh, err
		}
		if size > maxExpandedNodes {
			pe := &ParseError{File: d.Name, Msg: fmt.Sprintf("more than %d YAML nodes once aliases are expanded (a YAML bomb, or far more than a compose file holds) by here", maxExpandedNodes)}
			if crossed != nil {
				pe.Line, pe.Column = crossed.Line, crossed.Column
			}
			return sh, pe
		}
	}
	for anchor, k := range aliases {
		sh.note(k*k/2, anchor)
	}
	if sh.composeTags && sh.pairs > maxPairs {
		return sh, &ParseError{File: d.Name, Line: sh.worst.Line, Column: sh.worst.Column,
			Msg: fmt.Sprintf("too many keys in one mapping or aliases of one anchor for compose-go to parse (%d pairs to compare; ctsec reads files up to %d)", sh.pairs, maxPairs)}
	}
	return sh, nil
}

// duplicateKeys refuses a key a mapping holds twice, as compose-go would
// (pairwise in small mappings: no map to allocate).
func (d *Document) duplicateKeys(n *yaml.Node) error {
	dup := func(key *yaml.Node, line int) error {
		return &ParseError{File: d.Name, Line: key.Line, Column: key.Column,
			Msg: fmt.Sprintf("invalid YAML: mapping key %q already defined at line %d", key.Value, line)}
	}
	if len(n.Content) <= 32 {
		for i := 2; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			if key.Kind != yaml.ScalarNode {
				continue
			}
			for j := 0; j < i; j += 2 {
				if prev := n.Content[j]; prev.Kind == yaml.ScalarNode && prev.Value == key.Value {
					return dup(key, prev.Line)
				}
			}
		}
		return nil
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		if key.Kind != yaml.ScalarNode {
			continue
		}
		if line, ok := seen[key.Value]; ok {
			return dup(key, line)
		}
		seen[key.Value] = key.Line
	}
	return nil
}

// servicesNode is the services mapping of a document, nil without one.
func (d *Document) servicesNode(doc *yaml.Node) *yaml.Node {
	if len(doc.Content) == 0 {
		return nil
	}
	_, v := ownKey(doc.Content[0], "services")
	return v
}

func (sh *shape) note(p int64, n *yaml.Node) {
	sh.pairs += p
	if p > sh.worstPairs || sh.worst == nil {
		sh.worst, sh.worstPairs = n, p
	}
}
