package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits on untrusted profile input. Docker's default profile is 13 KB and an
// allow-list of every syscall of every architecture stays well under 1 MB, so
// anything near MaxProfileSize is a mistake or an attack, not a profile.
// Within it every command stays linear and under 2 s of CPU on this
// project's machine (BenchmarkWorstCase).
const (
	MaxProfileSize = 1 << 20
	maxDepth       = 32
)

// Pos is a place in an input file, 1-based, in bytes for the column.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// node is one JSON value with where it starts. The strict loader walks these
// instead of unmarshalling, so every problem can name its line and column.
type node struct {
	kind  byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	off   int
	str   string
	num   json.Number
	b     bool
	keys  []string
	koffs []int
	vals  []*node
	elems []*node
}

func (n *node) kindName() string {
	switch n.kind {
	case 'o':
		return "an object"
	case 'a':
		return "an array"
	case 's':
		return "a string"
	case 'n':
		return "a number"
	case 'b':
		return "a boolean"
	default:
		return "null"
	}
}

// SyntaxError is input that is not a JSON document ctsec will read: broken
// JSON, too large, too deep, empty. It always carries the position.
type SyntaxError struct {
	File string
	Pos  Pos
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Pos.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Column, e.Msg)
}

// lineIndex maps byte offsets to line:column.
type lineIndex struct{ starts []int }

func newLineIndex(data []byte) lineIndex {
	starts := []int{0}
	for i, c := range data {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return lineIndex{starts}
}

func (li lineIndex) pos(off int) Pos {
	lo, hi := 0, len(li.starts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if li.starts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return Pos{Line: lo + 1, Column: off - li.starts[lo] + 1}
}

// treeParser streams tokens from encoding/json and records each token's start
// offset (the decoder reports the offset after a token; the start is found by
// skipping the separators and blanks before it).
type treeParser struct {
	data []byte
	dec  *json.Decoder
	li   lineIndex
	file string
}

func parseTree(file string, data []byte) (*node, lineIndex, error) {
	li := newLineIndex(data)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, li, &SyntaxError{File: file, Msg: "profile is empty"}
	}
	p := &treeParser{data: data, dec: json.NewDecoder(bytes.NewReader(data)), li: li, file: file}
	p.dec.UseNumber()
	root, err := p.value(0)
	if err != nil {
		return nil, li, err
	}
	end := int(p.dec.InputOffset())
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, li, p.errAt(p.skipBlank(end), "unexpected data after the profile's closing brace")
	}
	return root, li, nil
}

func (p *treeParser) skipBlank(off int) int {
	for off < len(p.data) && strings.IndexByte(" \t\r\n,:", p.data[off]) >= 0 {
		off++
	}
	return off
}

func (p *treeParser) errAt(off int, format string, args ...any) error {
	return &SyntaxError{File: p.file, Pos: p.li.pos(off), Msg: fmt.Sprintf(format, args...)}
}

// token returns the next token and its start offset, turning decoder errors
// into positioned SyntaxErrors.
func (p *treeParser) token() (json.Token, int, error) {
	before := int(p.dec.InputOffset())
	tok, err := p.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			off := int(se.Offset) - 1
			if off < 0 {
				off = 0
			}
			return nil, 0, p.errAt(off, "invalid JSON: %s", se.Error())
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return nil, 0, p.errAt(len(p.data), "invalid JSON: unexpected end of input (truncated file?)")
		default:
			return nil, 0, p.errAt(p.skipBlank(before), "invalid JSON: %v", err)
		}
	}
	return tok, p.skipBlank(before), nil
}

func (p *treeParser) value(depth int) (*node, error) {
	tok, off, err := p.token()
	if err != nil {
		return nil, err
	}
	return p.fromToken(tok, off, depth)
}

func (p *treeParser) fromToken(tok json.Token, off, depth int) (*node, error) {
	n := &node{off: off}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return nil, p.errAt(off, "JSON nested deeper than %d levels; a seccomp profile needs 5", maxDepth)
		}
		switch t {
		case '{':
			n.kind = 'o'
			for p.dec.More() {
				ktok, koff, err := p.token()
				if err != nil {
					return nil, err
				}
				key, ok := ktok.(string)
				if !ok {
					return nil, p.errAt(koff, "invalid JSON: object key is not a string")
				}
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.koffs = append(n.koffs, koff)
				n.vals = append(n.vals, v)
			}
		case '[':
			n.kind = 'a'
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
		default:
			return nil, p.errAt(off, "invalid JSON: unexpected %q", string(t))
		}
		if _, _, err := p.token(); err != nil { // closing delimiter
			return nil, err
		}
	case string:
		n.kind, n.str = 's', t
	case json.Number:
		n.kind, n.num = 'n', t
	case bool:
		n.kind, n.b = 'b', t
	case nil:
		n.kind = 'z'
	default:
		return nil, p.errAt(off, "invalid JSON token %v", tok)
	}
	return n, nil
}

// uintValue reads a JSON number as an unsigned integer of at most bits bits.
func (n *node) uintValue(bits int) (uint64, error) {
	s := n.num.String()
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		if strings.ContainsAny(s, ".eE") {
			return 0, fmt.Errorf("%s is not a whole number", s)
		}
		if strings.HasPrefix(s, "-") {
			return 0, fmt.Errorf("%s is negative", s)
		}
		return 0, fmt.Errorf("%s does not fit in %d bits", s, bits)
	}
	return v, nil
}
