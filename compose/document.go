package compose

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v4"
)

var (
	reLineColon = regexp.MustCompile(`line (\d+)(?:, column (\d+))?:`)
	reOffset    = regexp.MustCompile(`^offset (\d+):`)
)

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
	Model map[string]any // compose-go canonical model, interpolation off, top-level x- keys left out

	lineStart []int                  // byte offset of each line's first byte (0-based lines)
	services  []Service              // Services(), computed once
	nodes     []serviceNode          // serviceNodes(), computed once
	byName    map[string]serviceNode // Locate's index of services
	env       Env                    // what ${VAR} resolves to (SetEnv)
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
//
// The file is parsed once: the node tree gives positions, and its decoded
// documents go to compose-go for the model (load.go). What compose-go would
// spend superlinear time on is measured on the tree first and refused at
// once with the position (limits.go).
func Parse(name string, src []byte) (*Document, error) {
	if len(src) > MaxFileSize {
		return nil, &ParseError{File: name, Msg: fmt.Sprintf("file is larger than %d MiB", MaxFileSize>>20)}
	}
	d := &Document{Name: name, Src: src}
	d.indexLines()
	if err := d.checkText(); err != nil {
		return nil, err
	}
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
	sh, err := d.inspect()
	if err != nil {
		return nil, err
	}
	m, err := d.loadDocuments(sh)
	if err != nil {
		return nil, d.modelError(err)
	}
	if _, ok := m["services"]; !ok {
		return nil, &ParseError{File: name, Msg: "not a compose file: no services"}
	}
	withoutExtensionKeys(m) // the rest of those the load skipped: merged in, or parsed by compose-go
	d.Model = m
	return d, nil
}

// checkText refuses what is not YAML text before a parser sees it, naming
// the line and column: bytes that are not UTF-8, and NUL, which YAML
// forbids and which a terminal or an editor would hide.
func (d *Document) checkText() error {
	for i := 0; i < len(d.Src); {
		r, size := utf8.DecodeRune(d.Src[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			line, col := d.position(i)
			return &ParseError{File: d.Name, Line: line, Column: col, Msg: fmt.Sprintf("not UTF-8 text (byte 0x%02x)", d.Src[i])}
		case r == 0:
			line, col := d.position(i)
			return &ParseError{File: d.Name, Line: line, Column: col, Msg: "NUL byte: not a text file"}
		case r == '\r' && (i+1 == len(d.Src) || d.Src[i+1] != '\n'):
			// YAML counts a lone CR as a line break and ctsec's line index
			// does not: an edit landed on the wrong line (fuzz).
			line, col := d.position(i)
			return &ParseError{File: d.Name, Line: line, Column: col,
				Msg: fmt.Sprintf("%U is a line break to YAML but not to ctsec and most editors: use LF or CRLF line endings", r)}
		}
		i += size
	}
	return nil
}

// position converts a byte offset into a 1-based line and column (in
// characters, as YAML parsers count them).
func (d *Document) position(off int) (line, col int) {
	line = sort.Search(len(d.lineStart), func(i int) bool { return d.lineStart[i] > off })
	start := d.lineStart[line-1]
	return line, utf8.RuneCount(d.Src[start:off]) + 1
}

func (d *Document) indexLines() {
	d.lineStart = make([]int, 1, bytes.Count(d.Src, []byte{'\n'})+1)
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

// yamlError turns a YAML parser error into file:line:col: ….
//
// go.yaml.in/yaml/v4 (the parser compose-go uses too) counts the lines of
// its parser errors from 0 and those of its scanner errors from 1, and
// names reader errors by byte offset; all of them become 1-based positions.
func (d *Document) yamlError(err error) error {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := reOffset.FindStringSubmatch(msg); m != nil {
		off, _ := strconv.Atoi(m[1])
		line, col := d.position(min(off, len(d.Src)))
		return &ParseError{File: d.Name, Line: line, Column: col, Msg: "invalid YAML: " + strings.TrimSpace(msg[len(m[0]):])}
	}
	shift := 0
	if reflect.TypeOf(err).Name() == "ParserError" {
		shift = 1
	}
	line, col := 0, 0
	all := reLineColon.FindAllStringSubmatchIndex(msg, -1)
	// "while parsing a flow sequence at line 2, column 12: line 3, column 5:
	// did not find …": the last mark is where the parser noticed; earlier
	// ones are context, kept in the message with their lines corrected.
	var b strings.Builder
	prev := 0
	for i, m := range all {
		n, _ := strconv.Atoi(msg[m[2]:m[3]])
		n += shift
		c := 0
		if m[4] >= 0 {
			c, _ = strconv.Atoi(msg[m[4]:m[5]])
		}
		if i == len(all)-1 {
			line, col = n, c
			b.WriteString(msg[prev:m[0]])
			prev = m[1]
			continue
		}
		b.WriteString(msg[prev:m[2]])
		b.WriteString(strconv.Itoa(n))
		prev = m[3]
	}
	b.WriteString(msg[prev:])
	text := strings.Join(strings.Fields(b.String()), " ")
	return &ParseError{File: d.Name, Line: line, Column: col, Msg: "invalid YAML: " + text}
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
