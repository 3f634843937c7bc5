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
	var doc *yaml.Node
	var walk func(n *yaml.Node, depth int) error
	walk = func(n *yaml.Node, depth int) error {
		if depth > maxDepth {
			return &ParseError{File: d.Name, Line: n.Line, Column: n.Column,
				Msg: fmt.Sprintf("nested more than %d levels deep; not a compose file ctsec will read", maxDepth)}
		}
		if n.Tag == "!reset" || n.Tag == "!override" {
			sh.composeTags = true
		}
		switch n.Kind {
		case yaml.AliasNode:
			aliases[n.Alias]++
			return nil
		case yaml.SequenceNode:
			if len(n.Content) > maxEntries {
				past := n.Content[maxEntries]
				return &ParseError{File: d.Name, Line: past.Line, Column: past.Column,
					Msg: fmt.Sprintf("a list of %d items (starting at line %d): more than the %d ctsec reads in one list", len(n.Content), n.Line, maxEntries)}
			}
		case yaml.MappingNode:
			if len(n.Content)/2 > maxEntries && !(depth == 2 && n == d.servicesNode(doc)) {
				past := n.Content[2*maxEntries]
				return &ParseError{File: d.Name, Line: past.Line, Column: past.Column,
					Msg: fmt.Sprintf("a mapping of %d keys (starting at line %d): more than the %d ctsec reads in one mapping", len(n.Content)/2, n.Line, maxEntries)}
			}
			k := int64(len(n.Content) / 2)
			sh.note(k*k/2, n)
			seen := make(map[string]int, len(n.Content)/2)
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i]
				if key.Kind != yaml.ScalarNode {
					continue
				}
				if line, dup := seen[key.Value]; dup {
					return &ParseError{File: d.Name, Line: key.Line, Column: key.Column,
						Msg: fmt.Sprintf("invalid YAML: mapping key %q already defined at line %d", key.Value, line)}
				}
				seen[key.Value] = key.Line
			}
		}
		for _, c := range n.Content {
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, doc = range d.Docs {
		if err := walk(doc, 0); err != nil {
			return sh, err
		}
	}
	for anchor, k := range aliases {
		sh.note(k*k/2, anchor)
	}
	if err := d.checkAliases(); err != nil {
		return sh, err
	}
	if sh.composeTags && sh.pairs > maxPairs {
		return sh, &ParseError{File: d.Name, Line: sh.worst.Line, Column: sh.worst.Column,
			Msg: fmt.Sprintf("too many keys in one mapping or aliases of one anchor for compose-go to parse (%d pairs to compare; ctsec reads files up to %d)", sh.pairs, maxPairs)}
	}
	return sh, nil
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

// checkAliases refuses recursive aliases and alias expansions too large to
// load, before compose-go spends minutes on them.
func (d *Document) checkAliases() error {
	sizes := map[*yaml.Node]int{}
	onPath := map[*yaml.Node]bool{}
	var crossed *yaml.Node // where the count first passed the limit
	var size func(n *yaml.Node) (int, *yaml.Node)
	size = func(n *yaml.Node) (int, *yaml.Node) {
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil {
				return 1, nil
			}
			if onPath[n.Alias] {
				return 0, n
			}
			return size(n.Alias)
		}
		if s, ok := sizes[n]; ok {
			return s, nil
		}
		onPath[n] = true
		defer delete(onPath, n)
		total := 1
		for _, c := range n.Content {
			s, bad := size(c)
			if bad != nil {
				return 0, bad
			}
			total += s
			if total > maxExpandedNodes {
				if crossed == nil {
					crossed = c
				}
				total = maxExpandedNodes + 1
			}
		}
		sizes[n] = total
		return total, nil
	}
	for _, doc := range d.Docs {
		s, bad := size(doc)
		if bad != nil {
			return &ParseError{File: d.Name, Line: bad.Line, Column: bad.Column, Msg: "recursive alias *" + bad.Value + " refers to a node that contains it"}
		}
		if s > maxExpandedNodes {
			pe := &ParseError{File: d.Name, Msg: fmt.Sprintf("more than %d YAML nodes once aliases are expanded (a YAML bomb, or far more than a compose file holds) by here", maxExpandedNodes)}
			if crossed != nil {
				pe.Line, pe.Column = crossed.Line, crossed.Column
			}
			return pe
		}
	}
	return nil
}
