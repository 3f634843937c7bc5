package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

var reLineColon = regexp.MustCompile(`line (\d+):`)

// MaxFileSize bounds what ctsec reads as a compose file. Real stacks are
// kilobytes; a 1,000-service stack is well under 1 MiB.
const MaxFileSize = 8 << 20

// MaxServices bounds the services of one file. compose-go's load grows
// faster than linearly (≈0.4 s for 1,000 services, ≈2 min for 39,000), so a
// file far past any real stack is refused at once instead of hanging.
const MaxServices = 5000

// Document is one compose file: its bytes, its YAML node trees (one per
// YAML document) with positions, and the compose-go model of what it means.
type Document struct {
	Name  string
	Src   []byte
	Docs  []*yaml.Node   // DocumentNode per YAML document
	Model map[string]any // compose-go canonical model, interpolation off

	lineStart []int                  // byte offset of each line's first byte (0-based lines)
	services  []Service              // Services(), computed once
	byName    map[string]serviceNode // Locate's index of services
}

// ParseError is bad input: it names the file and, when known, the position.
type ParseError struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *ParseError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ReadLimited reads at most MaxFileSize bytes and refuses anything larger
// without holding it in memory.
func ReadLimited(name string, r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(b) > MaxFileSize {
		return nil, &ParseError{File: name, Msg: fmt.Sprintf("file is larger than %d MiB; not a compose file ctsec will read", MaxFileSize>>20)}
	}
	return b, nil
}

// Parse reads a compose file's bytes. name is used in messages and to set the
// working directory compose-go resolves nothing against (paths stay as written).
func Parse(name string, src []byte) (*Document, error) {
	if len(src) > MaxFileSize {
		return nil, &ParseError{File: name, Msg: fmt.Sprintf("file is larger than %d MiB", MaxFileSize>>20)}
	}
	if !utf8.Valid(src) {
		return nil, &ParseError{File: name, Msg: "not UTF-8 text"}
	}
	d := &Document{Name: name, Src: src}
	d.indexLines()
	if err := d.parseNodes(); err != nil {
		return nil, err
	}
	if len(d.Docs) == 0 {
		return nil, &ParseError{File: name, Msg: "empty file"}
	}
	for _, doc := range d.Docs {
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode {
			return nil, &ParseError{File: name, Line: root.Line, Column: root.Column, Msg: "not a compose file: the top level must be a mapping"}
		}
		for i := 0; i+1 < len(root.Content); i += 2 {
			if k, v := root.Content[i], root.Content[i+1]; k.Value == "services" && len(v.Content)/2 > MaxServices {
				return nil, &ParseError{File: name, Line: k.Line, Column: k.Column,
					Msg: fmt.Sprintf("%d services: more than the %d ctsec reads in one file", len(v.Content)/2, MaxServices)}
			}
		}
	}
	if err := d.checkAliases(); err != nil {
		return nil, err
	}
	m, err := loadModelParallel(name, src, d.lineStart, d.Docs)
	if err != nil {
		return nil, d.modelError(err)
	}
	if _, ok := m["services"]; !ok {
		return nil, &ParseError{File: name, Msg: "not a compose file: no services"}
	}
	d.Model = m
	return d, nil
}

func (d *Document) indexLines() {
	d.lineStart = append(d.lineStart[:0], 0)
	for i, c := range d.Src {
		if c == '\n' {
			d.lineStart = append(d.lineStart, i+1)
		}
	}
}

// parseNodes decodes every YAML document into a node tree. Aliases are not
// expanded in a node tree, so a "billion laughs" costs nothing here;
// compose-go refuses it ("excessive aliasing").
func (d *Document) parseNodes() error {
	dec := yaml.NewDecoder(bytes.NewReader(d.Src))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return d.yamlError(err)
		}
		d.Docs = append(d.Docs, &n)
	}
}

// yamlError turns "yaml: line 3: …" into file:3: ….
func (d *Document) yamlError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.Join(strings.Fields(msg), " ")
	line := 0
	// "construct errors: line 1: line 4: mapping key …": the last "line N:"
	// is where the problem is.
	if all := reLineColon.FindAllStringSubmatchIndex(msg, -1); len(all) > 0 {
		m := all[len(all)-1]
		line, _ = strconv.Atoi(msg[m[2]:m[3]])
		msg = strings.TrimSpace(msg[m[1]:])
	}
	return &ParseError{File: d.Name, Line: line, Msg: "invalid YAML: " + msg}
}

func loadModel(name string, src []byte) (map[string]any, error) {
	dir := filepath.Dir(name)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return loader.LoadModelWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: name, Content: src}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		// What the file says, not what an environment makes of it: ${VAR}
		// stays text, paths stay as written, nothing outside the file is read.
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
		// has bounded alias expansion already (checkAliases), so allow what
		// that let through, and the hardened output's added keys.
		o.MaxNodeVisits = 2 * maxExpandedNodes
		o.SetProjectName("ctsec", true)
	})
}

// offset converts a 1-based line and column (in characters, as yaml.v3
// reports them) into a byte offset into Src.
func (d *Document) offset(line, col int) int {
	if line < 1 {
		return 0
	}
	if line > len(d.lineStart) {
		return len(d.Src)
	}
	off := d.lineStart[line-1]
	for c := 1; c < col && off < len(d.Src); c++ {
		_, size := utf8.DecodeRune(d.Src[off:])
		off += size
	}
	return off
}

// line returns the text of a 1-based line without its line ending.
func (d *Document) line(n int) string {
	if n < 1 || n > len(d.lineStart) {
		return ""
	}
	start := d.lineStart[n-1]
	end := len(d.Src)
	if n < len(d.lineStart) {
		end = d.lineStart[n] - 1
	}
	return strings.TrimSuffix(string(d.Src[start:end]), "\r")
}

// lineCount is the number of lines (a final line without newline counts).
func (d *Document) lineCount() int {
	if len(d.Src) > 0 && d.Src[len(d.Src)-1] == '\n' {
		return len(d.lineStart) - 1
	}
	return len(d.lineStart)
}

// newline is the line ending the file uses (CRLF if its first line has one).
func (d *Document) newline() string {
	if i := bytes.IndexByte(d.Src, '\n'); i > 0 && d.Src[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// LoadFile reads and parses a compose file from disk (bounded, see MaxFileSize).
func LoadFile(path string) (*Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading compose file: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > MaxFileSize {
		return nil, &ParseError{File: path, Msg: fmt.Sprintf("file is %d MiB, larger than the %d MiB ctsec reads", st.Size()>>20, MaxFileSize>>20)}
	}
	b, err := ReadLimited(path, f)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// maxExpandedNodes bounds the size of the tree once aliases are expanded:
// compose-go expands merges and aliases, and a small file can describe an
// enormous (or, with a recursive alias, endless) tree.
const maxExpandedNodes = 1_000_000

// checkAliases refuses recursive aliases and alias expansions too large to
// load, before compose-go spends minutes on them.
func (d *Document) checkAliases() error {
	sizes := map[*yaml.Node]int{}
	onPath := map[*yaml.Node]bool{}
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
			return &ParseError{File: d.Name, Msg: fmt.Sprintf("more than %d YAML nodes once aliases are expanded (a YAML bomb, or far more services than a compose file holds)", maxExpandedNodes)}
		}
	}
	return nil
}
