package compose

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// Loading the model: compose-go is the judge of what a file means, and the
// costly half of every run. ctsec parses the file once (document.go) and
// gives compose-go the decoded documents instead of the text, so the file
// is parsed once for positions and meaning alike — the same parser,
// go.yaml.in/yaml/v4, decodes it either way. A large stack is decoded and
// loaded as pieces in parallel, each piece every top-level key with a share
// of the services; compose-go handles services independently, and the union
// of the pieces is the whole file's model (TestPiecesEqualWhole).

// GCPercent is the GOGC the ctsec compose commands run with (see
// cmd/ctsec tuneGC); the benchmark reports figures at it.
const GCPercent = 400

// MemoryLimit is the soft memory limit the compose commands set beside
// GCPercent: above what a 5,000-service stack keeps live, so the collector
// works harder only near the size bound instead of letting the heap grow to
// five times its live size.
const MemoryLimit = 256 << 20

// piecesTarget is how many services a piece of a large stack holds.
const piecesTarget = 500

func parallelism() int { return runtime.GOMAXPROCS(0) }

// loadDocuments is the compose-go model of the parsed documents.
func (d *Document) loadDocuments(sh shape) (map[string]any, error) {
	if sh.composeTags {
		// compose-go applies !reset and !override while it parses.
		return loadModel(d.Name, d.Src)
	}
	pieces := d.pieces()
	models := make([]map[string]any, len(pieces))
	errs := make([]error, len(pieces))
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallelism())
	for i, p := range pieces {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			models[i], errs[i] = loadNodes(d.Name, p)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		var de *decodeError
		switch {
		case errors.As(err, &de) && sh.pairs <= maxPairs:
			// What the decoder refuses and compose-go's parser mends (an
			// alias to a list of mappings under <<): let compose-go parse.
			return loadModel(d.Name, d.Src)
		case errors.As(err, &de):
			return nil, &ParseError{File: d.Name, Line: sh.worst.Line, Column: sh.worst.Column,
				Msg: fmt.Sprintf("%v; and too many keys in one mapping or aliases of one anchor for compose-go to parse instead", de.err)}
		case err != nil:
			return nil, err
		}
	}
	all, _ := models[0]["services"].(map[string]any)
	for _, m := range models[1:] {
		svcs, _ := m["services"].(map[string]any)
		for k, v := range svcs {
			all[k] = v
		}
	}
	return models[0], nil
}

// pieces are the documents to load, as document nodes: the file's own, or
// for a large single-document stack several copies of its root mapping
// each holding a share of the services. Aliases point into the original
// tree, so a piece may use an anchor another piece holds.
//
// Extensions (x-…) at the top level and in services are left out: compose
// gives them no meaning and its schema accepts anything there, so the model
// lacks nothing ctsec reads, and a file of 100,000 extension keys (anchors
// for the services, say) does not cost compose-go seconds.
func (d *Document) pieces() [][]*yaml.Node {
	docs := make([]*yaml.Node, len(d.Docs))
	for i, doc := range d.Docs {
		docs[i] = withoutExtensions(doc)
	}
	whole := [][]*yaml.Node{docs}
	if len(docs) != 1 || len(docs[0].Content) == 0 {
		return whole
	}
	root := docs[0].Content[0]
	at := -1
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "services" && root.Content[i+1].Kind == yaml.MappingNode {
			at = i + 1
		}
	}
	if at < 0 {
		return whole
	}
	svcs := root.Content[at]
	count := len(svcs.Content) / 2
	n := max(parallelism(), (count+piecesTarget-1)/piecesTarget)
	if count < 2*n {
		return whole
	}
	per := (count + n - 1) / n
	var out [][]*yaml.Node
	for lo := 0; lo < count; lo += per {
		hi := min(lo+per, count)
		part := *svcs
		part.Anchor = ""
		part.Content = svcs.Content[2*lo : 2*hi]
		r := *root
		r.Content = append([]*yaml.Node(nil), root.Content...)
		r.Content[at] = &part
		doc := *docs[0]
		doc.Content = []*yaml.Node{&r}
		out = append(out, []*yaml.Node{&doc})
	}
	return out
}

// withoutExtensions is a document without its extension keys (x-…) at the
// top level and directly in services, where compose gives them no meaning.
// Elsewhere an x- key can be data (an environment variable, a label).
func withoutExtensions(doc *yaml.Node) *yaml.Node {
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return doc
	}
	root := doc.Content[0]
	changed := false
	kept := make([]*yaml.Node, 0, len(root.Content))
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case isExtension(k):
			changed = true
			continue
		case k.Value == "services" && v.Kind == yaml.MappingNode:
			if nv := servicesWithoutExtensions(v); nv != v {
				v, changed = nv, true
			}
		}
		kept = append(kept, k, v)
	}
	if !changed {
		return doc
	}
	r := *root
	r.Content = kept
	cp := *doc
	cp.Content = []*yaml.Node{&r}
	return &cp
}

func servicesWithoutExtensions(svcs *yaml.Node) *yaml.Node {
	var out []*yaml.Node
	for i := 0; i+1 < len(svcs.Content); i += 2 {
		v := svcs.Content[i+1]
		if nv := dropExtensions(v); nv != v {
			if out == nil {
				out = append([]*yaml.Node(nil), svcs.Content...)
			}
			out[i+1] = nv
		}
	}
	if out == nil {
		return svcs
	}
	cp := *svcs
	cp.Content = out
	return &cp
}

// dropExtensions is a mapping without its own x- keys; an anchored mapping
// is kept as it is, as aliases elsewhere mean all of it.
func dropExtensions(m *yaml.Node) *yaml.Node {
	if m.Kind != yaml.MappingNode || m.Anchor != "" {
		return m
	}
	var kept []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if isExtension(m.Content[i]) {
			if kept == nil {
				kept = append(make([]*yaml.Node, 0, len(m.Content)), m.Content[:i]...)
			}
			continue
		}
		if kept != nil {
			kept = append(kept, m.Content[i], m.Content[i+1])
		}
	}
	if kept == nil {
		return m
	}
	cp := *m
	cp.Content = kept
	return &cp
}

func isExtension(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && strings.HasPrefix(k.Value, "x-")
}

// loadNodes decodes documents and has compose-go load them. Duplicate keys
// were refused by inspect, so the decoder's pairwise check of every
// mapping's keys is turned off.
func loadNodes(name string, docs []*yaml.Node) (map[string]any, error) {
	files := make([]types.ConfigFile, 0, len(docs))
	for _, doc := range docs {
		if len(doc.Content) == 0 {
			continue
		}
		var raw map[string]any
		if err := doc.Load(&raw, yaml.WithUniqueKeys(false)); err != nil {
			return nil, &decodeError{err}
		}
		files = append(files, types.ConfigFile{Filename: name, Config: raw})
	}
	return loadConfig(name, files)
}

// decodeError is the YAML decoder refusing a document compose-go's own
// parser may still accept.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return "decoding YAML: " + e.err.Error() }

// loadModel has compose-go parse and load text.
func loadModel(name string, src []byte) (map[string]any, error) {
	return loadConfig(name, []types.ConfigFile{{Filename: name, Content: src}})
}

func loadConfig(name string, files []types.ConfigFile) (map[string]any, error) {
	dir := filepath.Dir(name)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return loader.LoadModelWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: files,
		Environment: types.Mapping{},
	}, loadOptions)
}

// loadOptions are how ctsec asks compose-go for what the file says, not
// what an environment makes of it: ${VAR} stays text, paths stay as
// written, nothing outside the file is read.
func loadOptions(o *loader.Options) {
	o.SkipInterpolation = true
	o.SkipNormalization = true
	o.ResolvePaths = false
	o.SkipInclude = true
	o.SkipExtends = true
	o.SkipConsistencyCheck = true
	o.SkipResolveEnvironment = true
	o.SkipResolveLabels = true
	o.SkipDefaultValues = true
	// compose-go's own bomb guard stops at 100,000 node visits, about
	// 3,000 ordinary services, and reports it as a YAML error. ctsec
	// bounds alias expansion already (checkAliases), so allow what that
	// let through, and the hardened output's added keys.
	o.MaxNodeVisits = 2 * maxExpandedNodes
	o.SetProjectName("ctsec", true)
}
