package compose

import (
	"runtime"
	"sync"

	"go.yaml.in/yaml/v3"
)

// GCPercent is the GOGC the ctsec compose commands run with (see
// cmd/ctsec tuneGC); the benchmark reports figures at it and at Go's default.
const GCPercent = 400

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
	pieces := splitServices(src, lineStart, docs, runtime.GOMAXPROCS(0))
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

// splitServices cuts the file into n pieces by service line ranges, or
// returns nil when that would not mean the same thing.
func splitServices(src []byte, lineStart []int, docs []*yaml.Node, n int) [][]byte {
	if n < 2 || len(docs) != 1 || len(docs[0].Content) == 0 {
		return nil
	}
	root := docs[0].Content[0]
	if root.Kind != yaml.MappingNode || root.Style&yaml.FlowStyle != 0 {
		return nil
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
		return nil
	}
	if hasAnchor(svcs) {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		// A root key written after services (volumes:, networks:) must be
		// below it, and services must start on their own lines.
		if k := root.Content[i]; k.Value != "services" && k.Line > svcs.Content[0].Line && (next == 0 || k.Line < next) {
			return nil
		}
	}
	lineOff := func(line int) int { // byte offset of a 1-based line, len(src) past the end
		if line-1 < len(lineStart) {
			return lineStart[line-1]
		}
		return len(src)
	}
	count := len(svcs.Content) / 2
	prefix := src[:lineOff(svcs.Content[0].Line)]
	end := len(src)
	if next > 0 {
		end = lineOff(next)
	}
	suffix := src[end:]
	starts := make([]int, count+1)
	for i := 0; i < count; i++ {
		starts[i] = lineOff(svcs.Content[2*i].Line)
	}
	starts[count] = end
	per := (count + n - 1) / n
	var out [][]byte
	for lo := 0; lo < count; lo += per {
		hi := min(lo+per, count)
		piece := make([]byte, 0, len(prefix)+starts[hi]-starts[lo]+len(suffix)+1)
		piece = append(piece, prefix...)
		piece = append(piece, src[starts[lo]:starts[hi]]...)
		if len(piece) > 0 && piece[len(piece)-1] != '\n' && len(suffix) > 0 {
			return nil
		}
		piece = append(piece, suffix...)
		out = append(out, piece)
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
