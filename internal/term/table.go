package term

import (
	"io"
	"strings"
)

// Table prints rows in aligned columns that fit a width. The last column
// (a message, a detail) takes what is left and wraps; when that would leave
// it narrower than MinWrap, each row is stacked instead: the other columns
// on one line, the last column's text under them, indented. Every cell goes
// through Line, so a table never prints a control character.
type Table struct {
	w      io.Writer
	width  int
	header []string
	rows   [][]string
	spans  map[int]bool // rows that are one line across the table
	styles map[int]func(cell string) string
	// MinWrap is the narrowest the last column may be before rows are
	// stacked (default 30).
	MinWrap int
	// Indent prefixes every line (default none).
	Indent string
}

const (
	gap         = 2
	stackIndent = "    "
)

// NewTable starts a table written to w, at most width columns wide.
func NewTable(w io.Writer, width int) *Table {
	return &Table{w: w, width: width, MinWrap: 30}
}

// Header sets the column names, printed as the first row.
func (t *Table) Header(cells ...string) { t.header = cells }

// Row adds a row; a row whose first cells are empty continues the row above
// (a "fix:" line under a message).
func (t *Table) Row(cells ...string) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = Line(c)
	}
	t.rows = append(t.rows, row)
}

// Line adds a line of text across every column (a section heading),
// wrapped to the width; it does not widen the columns.
func (t *Table) Line(text string) {
	if t.spans == nil {
		t.spans = map[int]bool{}
	}
	t.spans[len(t.rows)] = true
	t.rows = append(t.rows, []string{Line(text)})
}

// Style colours column col: fn returns the ANSI style for a cell's text, or
// "" for none. Styles are added after padding, so alignment holds.
func (t *Table) Style(col int, fn func(cell string) string) {
	if t.styles == nil {
		t.styles = map[int]func(string) string{}
	}
	t.styles[col] = fn
}

// Flush writes the table.
func (t *Table) Flush() error {
	rows := t.rows
	spans := t.spans
	if t.header != nil {
		rows = append([][]string{t.header}, rows...)
		spans = map[int]bool{}
		for i := range t.spans {
			spans[i+1] = true
		}
	}
	n := 0
	for i, r := range rows {
		if !spans[i] {
			n = max(n, len(r))
		}
	}
	widths := make([]int, max(n, 1))
	for i, r := range rows {
		if spans[i] {
			continue
		}
		for j, c := range r {
			widths[j] = max(widths[j], Len(c))
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fixed := Len(t.Indent)
	for i := 0; i < n-1; i++ {
		fixed += widths[i] + gap
	}
	avail := t.width - fixed
	stack := n > 1 && widths[n-1] > avail && avail < t.MinWrap
	var b strings.Builder
	for ri, r := range rows {
		styled := ri > 0 || t.header == nil
		if spans[ri] {
			for _, l := range Wrap(r[0], t.width-Len(t.Indent)) {
				b.WriteString(strings.TrimRight(t.Indent+l, " ") + "\n")
			}
			continue
		}
		if stack {
			t.stacked(&b, r, widths, styled)
		} else {
			t.aligned(&b, r, widths, max(avail, 1), styled)
		}
	}
	_, err := io.WriteString(t.w, b.String())
	return err
}

func (t *Table) cell(i int, text string, width int, styled bool) string {
	pad := text + strings.Repeat(" ", max(width-Len(text), 0))
	if fn := t.styles[i]; styled && fn != nil && text != "" {
		if s := fn(text); s != "" {
			return s + text + Reset + pad[len(text):]
		}
	}
	return pad
}

func (t *Table) aligned(b *strings.Builder, r []string, widths []int, avail int, styled bool) {
	n := len(widths)
	last := ""
	if len(r) == n {
		last = r[n-1]
	}
	lines := []string{""}
	if last != "" {
		lines = Wrap(last, avail)
	}
	for li, text := range lines {
		var line strings.Builder
		line.WriteString(t.Indent)
		for i := 0; i < n-1; i++ {
			c := ""
			if li == 0 && i < len(r) {
				c = r[i]
			}
			line.WriteString(t.cell(i, c, widths[i], styled))
			line.WriteString(strings.Repeat(" ", gap))
		}
		line.WriteString(text)
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
}

func (t *Table) stacked(b *strings.Builder, r []string, widths []int, styled bool) {
	n := len(widths)
	var head []string
	empty := true
	for i := 0; i < n-1 && i < len(r); i++ {
		if r[i] != "" {
			empty = false
		}
		head = append(head, r[i])
	}
	if !empty {
		// The head keeps its alignment while it fits; a long path in it is
		// wrapped rather than let through.
		var line strings.Builder
		for i, c := range head {
			if i > 0 {
				line.WriteString(strings.Repeat(" ", gap))
			}
			w := widths[i]
			if i == len(head)-1 {
				w = Len(c)
			}
			line.WriteString(t.cell(i, c, w, styled))
		}
		plain := strings.Join(head, "  ")
		if Len(t.Indent)+Len(plain) > t.width {
			for _, l := range Wrap(plain, t.width-Len(t.Indent)) {
				b.WriteString(t.Indent + l + "\n")
			}
		} else {
			b.WriteString(strings.TrimRight(t.Indent+line.String(), " ") + "\n")
		}
	}
	if len(r) == n && r[n-1] != "" {
		for _, l := range Wrap(r[n-1], t.width-Len(t.Indent)-len(stackIndent)) {
			b.WriteString(t.Indent + stackIndent + l + "\n")
		}
	}
}
