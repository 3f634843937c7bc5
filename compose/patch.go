package compose

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v4"
)

// The patcher only ever inserts text. Every byte of the input is in the
// output, in order; the insertions are the whole change, which is what makes
// the diff reviewable and the rest of the file provably untouched.

// insertion is text spliced in at a byte offset of the original.
type insertion struct {
	off   int
	depth int // nesting depth of the target node: deeper goes first at one offset
	seq   int // creation order, to keep ties stable
	text  string
}

// entry is a key to add to a mapping: a scalar, a list, or nested entries.
type entry struct {
	key     string
	scalar  string   // already YAML-safe text (see yamlScalar)
	value   any      // what scalar reads back as
	list    []string // YAML-safe items
	raw     []string // the items' values
	nested  []entry
	comment string // shown above the key in block style
}

// addition is one node of the input's tree that the insertions make grow:
// verify expects to find exactly this in the output's tree.
type addition struct {
	node    *yaml.Node // a mapping, a sequence, or the empty value of "key:"
	entries []entry    // keys appended to a mapping
	items   []string   // values of the items appended to a sequence (or replacing the empty value)
}

// patcher collects insertions against one document.
type patcher struct {
	d         *Document
	nl        string
	seqIndent map[int]int // per YAML document: extra indent of block sequence items
	ins       []insertion
	adds      []addition
	sorted    []int // all node start lines, sorted, for finding where a node ends
}

// mark is a point of the patcher's work to go back to.
type mark struct{ ins, adds int }

func (p *patcher) mark() mark { return mark{len(p.ins), len(p.adds)} }

// undo takes back everything done since m: a service whose edit cannot be
// made safely is left as it was, with nothing half-inserted.
func (p *patcher) undo(m mark) {
	p.ins, p.adds = p.ins[:m.ins], p.adds[:m.adds]
}

// changed reports whether anything will be inserted.
func (p *patcher) changed() bool { return len(p.ins) > 0 }

// EditError is a change ctsec refused to make because it could not be made
// safely at that place; the rest of the hardening goes on.
type EditError struct {
	Line int
	Msg  string
}

func (e *EditError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

func newPatcher(d *Document) *patcher {
	p := &patcher{d: d, nl: d.newline(), seqIndent: map[int]int{}}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		if n.Line > 0 {
			p.sorted = append(p.sorted, n.Line)
		}
		if n.Kind == yaml.AliasNode {
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	for i, doc := range d.Docs {
		walk(doc)
		p.seqIndent[i] = detectSeqIndent(d, doc)
	}
	sort.Ints(p.sorted)
	return p
}

// detectSeqIndent finds how this file indents block sequences under a key:
// "key:\n  - x" (2) or "key:\n- x" (0). It follows the first one it meets.
func detectSeqIndent(d *Document, doc *yaml.Node) int {
	found := -1
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if found >= 0 || n == nil || n.Kind == yaml.AliasNode {
			return
		}
		if n.Kind == yaml.MappingNode && n.Style&yaml.FlowStyle == 0 {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Content[0].Line > k.Line {
					if dash := dashColumn(d, v.Content[0]); dash > 0 {
						found = dash - k.Column
						return
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(doc)
	if found < 0 {
		return 2
	}
	return found
}

// dashColumn is the 1-based column of the "-" introducing a block sequence
// item, or 0 when the item does not sit on its dash's line.
func dashColumn(d *Document, item *yaml.Node) int {
	line := d.line(item.Line)
	runes := []rune(line)
	for c := item.Column - 2; c >= 0 && c < len(runes); c-- {
		switch runes[c] {
		case ' ':
			continue
		case '-':
			return c + 1
		default:
			return 0
		}
	}
	return 0
}

func indentOf(line string) int { return len(line) - len(strings.TrimLeft(line, " ")) }

func isCommentOrBlank(line string) bool {
	t := strings.TrimSpace(line)
	return t == "" || strings.HasPrefix(t, "#")
}

func isDocMarker(line string) bool {
	return strings.HasPrefix(line, "---") || strings.HasPrefix(line, "...")
}

// maxLine is the last line any node of n's subtree starts on.
func maxLine(n *yaml.Node) int {
	m := n.Line
	if n.Kind == yaml.AliasNode {
		return m
	}
	for _, c := range n.Content {
		if l := maxLine(c); l > m {
			m = l
		}
	}
	return m
}

// lastLeaf is the node starting last in n's subtree, with the column of what
// owns it (its key, or its sequence dash).
func lastLeaf(n *yaml.Node, ownerCol int) (*yaml.Node, int) {
	for n.Kind != yaml.AliasNode && len(n.Content) > 0 && n.Style&yaml.FlowStyle == 0 {
		last := n.Content[len(n.Content)-1]
		switch n.Kind {
		case yaml.MappingNode:
			ownerCol = n.Content[len(n.Content)-2].Column
		case yaml.SequenceNode:
			ownerCol = last.Column - 1
		}
		n = last
	}
	return n, ownerCol
}

// endOffset is where text appended after block node n goes: the start of the
// line after n's last content line. Comment and blank lines after n stay after
// the insertion, so a commented-out block for the next service stays with it.
func (p *patcher) endOffset(n *yaml.Node, ownerCol int) (int, error) {
	d := p.d
	last := maxLine(n)
	// The next node outside n starts on the first known line after n's last.
	bound := d.lineCount() + 1
	if i := sort.SearchInts(p.sorted, last+1); i < len(p.sorted) {
		bound = p.sorted[i]
	}
	for l := last + 1; l < bound; l++ {
		if isDocMarker(d.line(l)) {
			bound = l
			break
		}
	}
	leaf, leafOwner := lastLeaf(n, ownerCol)
	block := leaf.Kind == yaml.ScalarNode && (leaf.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0)
	if block {
		hdr := strings.TrimSpace(d.line(leaf.Line)[min(len(d.line(leaf.Line)), byteCol(d.line(leaf.Line), leaf.Column)):])
		if strings.Contains(strings.SplitN(hdr, " ", 2)[0], "+") {
			return 0, &EditError{Line: leaf.Line, Msg: "cannot append after a keep-chomped block scalar (|+ or >+): its trailing blank lines are part of the value"}
		}
	}
	end := last
	for l := bound - 1; l > last; l-- {
		line := d.line(l)
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "#") && !(block && indentOf(line) >= leafOwner) {
			continue
		}
		end = l
		break
	}
	if end >= len(d.lineStart) {
		if block && len(d.Src) > 0 && d.Src[len(d.Src)-1] != '\n' {
			return 0, &EditError{Line: leaf.Line, Msg: "cannot append after a block scalar that ends the file without a final newline: the newline ctsec must add would become part of the value"}
		}
		return len(d.Src), nil
	}
	return d.lineStart[end], nil
}

// byteCol converts a 1-based character column into a byte index of line.
func byteCol(line string, col int) int {
	i := 0
	for c := 1; c < col && i < len(line); c++ {
		_, size := utf8.DecodeRuneInString(line[i:])
		i += size
	}
	return i
}

// addEntries adds keys to the mapping m, which is the value of a key (or a
// sequence item) at column ownerCol.
func (p *patcher) addEntries(doc int, m *yaml.Node, ownerCol, depth int, entries []entry) error {
	if len(entries) == 0 {
		return nil
	}
	if m.Kind == yaml.AliasNode {
		return &EditError{Line: m.Line, Msg: "value is an alias (*" + m.Value + "); edit the anchored node instead"}
	}
	if m.Kind != yaml.MappingNode {
		return &EditError{Line: m.Line, Msg: "not a mapping"}
	}
	if m.Style&yaml.FlowStyle != 0 {
		if err := p.flowInsert(m, depth, renderFlowEntries(entries)); err != nil {
			return err
		}
		p.adds = append(p.adds, addition{node: m, entries: entries})
		return nil
	}
	off, err := p.endOffset(m, ownerCol)
	if err != nil {
		return err
	}
	indent := m.Content[0].Column - 1
	// Nested keys follow the file's own indentation step.
	step := m.Content[0].Column - ownerCol
	if step < 1 || step > 8 {
		step = 2
	}
	var b strings.Builder
	p.renderBlock(&b, doc, indent, step, entries)
	p.insertLines(off, depth, b.String())
	p.adds = append(p.adds, addition{node: m, entries: entries})
	return nil
}

// insertLines inserts whole lines at off, adding the line break the file's
// last line may lack.
func (p *patcher) insertLines(off, depth int, text string) {
	if off == len(p.d.Src) && off > 0 && p.d.Src[off-1] != '\n' {
		text = p.nl + strings.TrimSuffix(text, p.nl)
	}
	p.ins = append(p.ins, insertion{off: off, depth: depth, seq: len(p.ins), text: text})
}

func (p *patcher) renderBlock(b *strings.Builder, doc, indent, step int, entries []entry) {
	pad := strings.Repeat(" ", indent)
	for _, e := range entries {
		if e.comment != "" {
			b.WriteString(pad + "# " + oneLineComment(e.comment) + p.nl)
		}
		switch {
		case e.nested != nil:
			b.WriteString(pad + e.key + ":" + p.nl)
			p.renderBlock(b, doc, indent+step, step, e.nested)
		case e.list != nil:
			b.WriteString(pad + e.key + ":" + p.nl)
			p.renderItems(b, indent+p.seqIndent[doc], e.list)
		default:
			b.WriteString(pad + e.key + ": " + e.scalar + p.nl)
		}
	}
}

func (p *patcher) renderItems(b *strings.Builder, indent int, items []string) {
	pad := strings.Repeat(" ", indent)
	for _, it := range items {
		b.WriteString(pad + "- " + it + p.nl)
	}
}

func renderFlowEntries(entries []entry) string {
	parts := make([]string, 0, len(entries))
	for _, e := range entries {
		switch {
		case e.nested != nil:
			parts = append(parts, e.key+": {"+renderFlowEntries(e.nested)+"}")
		case e.list != nil:
			parts = append(parts, e.key+": ["+strings.Join(e.list, ", ")+"]")
		default:
			parts = append(parts, e.key+": "+e.scalar)
		}
	}
	return strings.Join(parts, ", ")
}

// appendItems adds the values raw to the sequence value v of key k.
func (p *patcher) appendItems(doc int, k, v *yaml.Node, depth int, raw []string, comment string) error {
	if len(raw) == 0 {
		return nil
	}
	items := make([]string, len(raw))
	for i, it := range raw {
		items[i] = yamlScalar(it)
	}
	switch {
	case v.Kind == yaml.AliasNode:
		return &EditError{Line: v.Line, Msg: k.Value + " is an alias (*" + v.Value + "); not edited"}
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null" && v.Value == "" && v.Line == k.Line:
		// "key:" with nothing after it: the items go on the following lines.
		off, err := p.endOffset(k, k.Column)
		if err != nil {
			return err
		}
		var b strings.Builder
		pad := strings.Repeat(" ", k.Column-1+p.seqIndent[doc])
		if comment != "" {
			b.WriteString(pad + "# " + oneLineComment(comment) + p.nl)
		}
		p.renderItems(&b, k.Column-1+p.seqIndent[doc], items)
		p.insertLines(off, depth, b.String())
		p.adds = append(p.adds, addition{node: v, items: raw})
		return nil
	case v.Kind != yaml.SequenceNode:
		return &EditError{Line: v.Line, Msg: k.Value + " is not a list; not edited"}
	case v.Style&yaml.FlowStyle != 0:
		if err := p.flowInsert(v, depth, strings.Join(items, ", ")); err != nil {
			return err
		}
		p.adds = append(p.adds, addition{node: v, items: raw})
		return nil
	}
	dash := dashColumn(p.d, v.Content[0])
	if dash == 0 {
		return &EditError{Line: v.Line, Msg: k.Value + ": unusual list layout; not edited"}
	}
	off, err := p.endOffset(v, dash)
	if err != nil {
		return err
	}
	var b strings.Builder
	if comment != "" {
		b.WriteString(strings.Repeat(" ", dash-1) + "# " + oneLineComment(comment) + p.nl)
	}
	p.renderItems(&b, dash-1, items)
	p.insertLines(off, depth+1, b.String())
	p.adds = append(p.adds, addition{node: v, items: raw})
	return nil
}

// flowInsert adds text as the last element of a flow collection starting at
// node n: before its closing bracket, after a comma when needed.
func (p *patcher) flowInsert(n *yaml.Node, depth int, text string) error {
	start := p.d.offset(n.Line, n.Column)
	closeAt, lastNonSpace, err := flowEnd(p.d.Src, start)
	if err != nil {
		return &EditError{Line: n.Line, Msg: err.Error()}
	}
	sep := ", "
	switch lastNonSpace {
	case '[', '{':
		sep = ""
	case ',':
		sep = " "
	}
	p.ins = append(p.ins, insertion{off: closeAt, depth: depth + 100, seq: len(p.ins), text: sep + text})
	return nil
}

// flowEnd scans a flow collection starting at src[start] ('[' or '{') and
// returns the offset of its closing bracket and the last significant byte
// before it. Quotes, nesting and comments are honoured.
func flowEnd(src []byte, start int) (int, byte, error) {
	if start >= len(src) || (src[start] != '[' && src[start] != '{') {
		return 0, 0, fmt.Errorf("flow collection not found where the parser put it")
	}
	depth := 0
	var last byte
	for i := start; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for ; j < len(src); j++ {
				if c == '"' && src[j] == '\\' {
					j++
					continue
				}
				if src[j] == c {
					if c == '\'' && j+1 < len(src) && src[j+1] == '\'' {
						j++
						continue
					}
					break
				}
			}
			i = j
			last = c
		case c == '#' && i > 0 && (src[i-1] == ' ' || src[i-1] == '\t' || src[i-1] == '\n'):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '[' || c == '{':
			depth++
			last = c
		case c == ']' || c == '}':
			depth--
			if depth == 0 {
				return i, last, nil
			}
			last = c
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		default:
			last = c
		}
	}
	return 0, 0, fmt.Errorf("unterminated flow collection")
}

// apply splices the insertions into the original bytes.
func (p *patcher) apply() []byte {
	ins := append([]insertion(nil), p.ins...)
	sortInsertions(ins)
	size := len(p.d.Src)
	for _, in := range ins {
		size += len(in.text)
	}
	out := make([]byte, 0, size)
	prev := 0
	for _, in := range ins {
		out = append(out, p.d.Src[prev:in.off]...)
		out = append(out, in.text...)
		prev = in.off
	}
	return append(out, p.d.Src[prev:]...)
}

// yamlScalar renders a string as a YAML scalar that compose reads back as
// the same string: plain when unambiguous, double-quoted otherwise; "$" is
// doubled so compose does not interpolate it.
func yamlScalar(s string) string {
	s = strings.ReplaceAll(s, "$", "$$")
	plain := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_./:=@-+", r)) {
			plain = false
			break
		}
	}
	if plain {
		switch strings.ToLower(s) {
		case "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~":
			plain = false
		}
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			plain = false
		}
		if strings.HasPrefix(s, "-") || strings.HasSuffix(s, ":") || strings.Contains(s, ": ") {
			plain = false
		}
	}
	if plain {
		return s
	}
	return strconv.Quote(s)
}

// oneLineComment keeps text from the file (an image name) on one comment
// line: strings.Fields splits on every Unicode space, which includes the
// line breaks YAML 1.1 parsers honour (U+0085, U+2028, U+2029).
func oneLineComment(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// sortInsertions orders insertions by offset; at one offset the deeper node's
// text goes first, so a nested block closes before its parent continues.
func sortInsertions(ins []insertion) {
	sort.SliceStable(ins, func(i, j int) bool {
		if ins[i].off != ins[j].off {
			return ins[i].off < ins[j].off
		}
		if ins[i].depth != ins[j].depth {
			return ins[i].depth > ins[j].depth
		}
		return ins[i].seq < ins[j].seq
	})
}

// service turns a service's planned edits into insertions. On an EditError
// the caller undoes what was inserted for the service (see mark).
func (p *patcher) service(sp servicePlan) error {
	sn, s, edits := sp.node, sp.svc, sp.edits
	var newKeys []entry
	lists := map[string]*edit{}
	var order []string
	for i := range edits {
		e := &edits[i]
		if e.items == nil {
			continue
		}
		if prev, ok := lists[e.path[0]]; ok {
			prev.items = append(prev.items, e.items...)
			if prev.comment == "" {
				prev.comment = e.comment
			}
			continue
		}
		cp := *e
		cp.items = append([]string(nil), e.items...)
		lists[e.path[0]] = &cp
		order = append(order, e.path[0])
	}
	// A reason cannot be shown inside a flow list; it moves to the next
	// block key ctsec writes.
	lost := ""
	for _, key := range order {
		e := lists[key]
		k, v, inherited := lookupKey(sn.Val, key)
		switch {
		case k == nil:
			newKeys = append(newKeys, listEntry(key, e.items, e.comment))
		case inherited:
			// Own key overrides the merged one: repeat what is inherited.
			newKeys = append(newKeys, listEntry(key, append(strs(s.M[key]), e.items...), e.comment))
		default:
			if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle != 0 && e.comment != "" {
				lost = e.comment
			}
			if err := p.appendItems(sn.Doc, k, v, 2, e.items, e.comment); err != nil {
				return err
			}
		}
	}
	if lost != "" && len(newKeys) > 0 && newKeys[0].comment == "" {
		newKeys[0].comment = lost
	}
	// Scalars and nested limits.
	var limits []entry
	for _, e := range edits {
		if e.items != nil {
			continue
		}
		if len(e.path) == 1 {
			newKeys = append(newKeys, entry{key: e.path[0], scalar: e.text, value: e.value, comment: e.comment})
			continue
		}
		limits = append(limits, entry{key: e.path[len(e.path)-1], scalar: e.text, value: e.value, comment: e.comment})
	}
	if len(limits) > 0 {
		// Walk down deploy.resources.limits as far as it is written.
		path := []string{"deploy", "resources", "limits"}
		node, owner, depth := sn.Val, sn.Key.Column, 1
		i := 0
		for ; i < len(path); i++ {
			k, v := ownKey(node, path[i])
			if k == nil {
				break
			}
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" && v.Value == "" {
				return &EditError{Line: k.Line, Msg: path[i] + " is empty; write deploy.resources.limits by hand"}
			}
			if v.Kind != yaml.MappingNode {
				return &EditError{Line: k.Line, Msg: path[i] + " is not a mapping"}
			}
			node, owner, depth = v, k.Column, depth+1
		}
		nested := limits
		for j := len(path) - 1; j >= i; j-- {
			nested = []entry{{key: path[j], nested: nested}}
		}
		if node == sn.Val {
			newKeys = append(newKeys, nested...)
		} else if err := p.addEntries(sn.Doc, node, owner, depth, nested); err != nil {
			return err
		}
	}
	return p.addEntries(sn.Doc, sn.Val, sn.Key.Column, 1, newKeys)
}

func listEntry(key string, raw []string, comment string) entry {
	rendered := make([]string, len(raw))
	for i, it := range raw {
		rendered[i] = yamlScalar(it)
	}
	return entry{key: key, list: rendered, raw: raw, comment: comment}
}
