package compose

import (
	"runtime"
	"sync"

	"go.yaml.in/yaml/v3"
)

// GCPercent is the GOGC the ctsec compose commands run with (see
// cmd/ctsec tuneGC); the benchmark reports figures at it and at Go's default.
const GCPercent = 400

// MemoryLimit is the soft memory limit the compose commands set beside
// GCPercent: far above what a stack of a few thousand services needs.
const MemoryLimit = 1 << 30

// minServicesToSplit is the stack size from which loading in parallel pays.
const minServicesToSplit = 64

// loadModelParallel loads the compose-go model of a large single-document
// file as several pieces in parallel: each piece is the file with only some
// of its services (every other top-level key kept), which compose-go handles
// independently. Files that cannot be split safely — several documents,
// flow-style services, anchors inside services — load whole. Any error
// reloads the whole file, so messages and positions are compose-go's own.
// TestParallelLoadEqualsWhole checks the union is the whole-file model.
func loadModelParallel(name string, src []byte, lineStart []int, docs []*yaml.Node) (map[string]any, error) {
	r, ok := serviceRanges(src, lineStart, docs)
	if !ok {
		return loadModel(name, src)
	}
	return loadPieces(name, src, r.cut(src, runtime.GOMAXPROCS(0)))
}

func loadPieces(name string, src []byte, pieces [][]byte) (map[string]any, error) {
	if len(pieces) < 2 {
		return loadModel(name, src)
	}
	models := make([]map[string]any, len(pieces))
	errs := make([]error, len(pieces))
	var wg sync.WaitGroup
	for i, p := range pieces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			models[i], errs[i] = loadModel(name, p)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return loadModel(name, src)
		}
	}
	all, _ := models[0]["services"].(map[string]any)
	if all == nil {
		return loadModel(name, src)
	}
	for _, m := range models[1:] {
		svcs, _ := m["services"].(map[string]any)
		for k, v := range svcs {
			all[k] = v
		}
	}
	return models[0], nil
}

// ranges are byte offsets of a file's services: everything before starts[0]
// is the prefix, services[i] is src[starts[i]:starts[i+1]], and
// src[starts[len-1]:] after the last service is the suffix.
type ranges struct {
	starts []int // one per service, then the end of the last service
}

// serviceRanges finds where each service is, or says the file cannot be
// split without changing what it means.
func serviceRanges(src []byte, lineStart []int, docs []*yaml.Node) (ranges, bool) {
	if len(docs) != 1 || len(docs[0].Content) == 0 {
		return ranges{}, false
	}
	root := docs[0].Content[0]
	if root.Kind != yaml.MappingNode || root.Style&yaml.FlowStyle != 0 {
		return ranges{}, false
	}
	var svcs *yaml.Node
	next := 0 // line of the root key after services, 0 for none
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "services" && svcs == nil {
			svcs = root.Content[i+1]
			if i+2 < len(root.Content) {
				next = root.Content[i+2].Line
			}
		}
	}
	if svcs == nil || svcs.Kind != yaml.MappingNode || svcs.Style&yaml.FlowStyle != 0 || len(svcs.Content)/2 < minServicesToSplit {
		return ranges{}, false
	}
	if hasAnchor(svcs) {
		return ranges{}, false
	}
	lineOff := func(line int) int { // byte offset of a 1-based line, len(src) past the end
		if line-1 < len(lineStart) {
			return lineStart[line-1]
		}
		return len(src)
	}
	count := len(svcs.Content) / 2
	r := ranges{starts: make([]int, count+1)}
	for i := 0; i < count; i++ {
		r.starts[i] = lineOff(svcs.Content[2*i].Line)
	}
	r.starts[count] = len(src)
	if next > 0 {
		r.starts[count] = lineOff(next)
	}
	if r.starts[count] < len(src) && src[r.starts[count]-1] != '\n' {
		return ranges{}, false
	}
	return r, true
}

// shifted maps the ranges of an input onto the output of a patcher: text
// inserted at a service's start offset is the end of the service before it.
func (r ranges) shifted(ins []insertion) ranges {
	sorted := append([]insertion(nil), ins...)
	sortInsertions(sorted)
	out := ranges{starts: make([]int, len(r.starts))}
	shift, k := 0, 0
	for i, off := range r.starts {
		for k < len(sorted) && sorted[k].off <= off {
			shift += len(sorted[k].text)
			k++
		}
		out.starts[i] = off + shift
	}
	return out
}

// cut makes n pieces, each the prefix, a run of services and the suffix.
func (r ranges) cut(src []byte, n int) [][]byte {
	count := len(r.starts) - 1
	if n < 2 || count < 2 {
		return nil
	}
	prefix, suffix := src[:r.starts[0]], src[r.starts[count]:]
	per := (count + n - 1) / n
	var out [][]byte
	for lo := 0; lo < count; lo += per {
		hi := min(lo+per, count)
		piece := make([]byte, 0, len(prefix)+r.starts[hi]-r.starts[lo]+len(suffix))
		piece = append(piece, prefix...)
		piece = append(piece, src[r.starts[lo]:r.starts[hi]]...)
		out = append(out, append(piece, suffix...))
	}
	return out
}

func hasAnchor(n *yaml.Node) bool {
	if n.Anchor != "" {
		return true
	}
	for _, c := range n.Content {
		if hasAnchor(c) {
			return true
		}
	}
	return false
}
