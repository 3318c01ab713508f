package runner

import (
	"bytes"
	"io"
	"strings"
)

// DefaultTableWidth is the width tables fit when the writer does not say
// otherwise (see TableWidth).
const DefaultTableWidth = 100

// Table is a text table that fits a width. Rows are written as with
// text/tabwriter: cells separated by tabs, a row per line (a trailing tab
// is ignored); a line without a tab is text, printed as is between the
// tables. Flush prints every cell right-aligned in columns two spaces
// apart; a cell "NaN" (a value that does not exist) prints as "-". Columns that do not fit the width go to a further block below
// the first, which repeats the key columns (the first keys columns, e.g.
// the swept values naming the row), so every block reads on its own.
type Table struct {
	w     io.Writer
	keys  int
	width int
	buf   bytes.Buffer
}

// TableWidther is a writer that says how wide a table written to it may
// be; 0 means any width. WriteTable passes one to Experiment.Table.
type TableWidther interface {
	io.Writer
	TableWidth() int
}

// WithTableWidth returns w, telling a Table written to it to fit width
// columns (0: any width, the wide form).
func WithTableWidth(w io.Writer, width int) io.Writer { return widthWriter{w, width} }

type widthWriter struct {
	io.Writer
	width int
}

func (w widthWriter) TableWidth() int { return w.width }

// TableWidth is the width of a table written to w: w's TableWidth if it
// is a TableWidther, else DefaultTableWidth.
func TableWidth(w io.Writer) int {
	if tw, ok := w.(TableWidther); ok {
		return tw.TableWidth()
	}
	return DefaultTableWidth
}

// NewTable returns a table printing to w, with keys key columns, that
// fits TableWidth(w).
func NewTable(w io.Writer, keys int) *Table {
	return &Table{w: w, keys: keys, width: TableWidth(w)}
}

// Write buffers rows until Flush.
func (t *Table) Write(p []byte) (int, error) { return t.buf.Write(p) }

// Flush prints the rows written so far.
func (t *Table) Flush() error {
	text := strings.TrimSuffix(t.buf.String(), "\n")
	t.buf.Reset()
	if text == "" {
		return nil
	}
	var out strings.Builder
	var rows [][]string
	for _, l := range strings.Split(text, "\n") {
		if !strings.Contains(l, "\t") {
			t.render(&out, rows)
			rows = nil
			out.WriteString(l + "\n")
			continue
		}
		rows = append(rows, strings.Split(strings.TrimSuffix(l, "\t"), "\t"))
	}
	t.render(&out, rows)
	_, err := io.WriteString(t.w, out.String())
	return err
}

// render prints rows as one or more blocks of columns.
func (t *Table) render(out *strings.Builder, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], runeLen(c), 1)
		}
	}
	keys := min(t.keys, len(widths))
	for i, block := range t.blocks(widths, keys) {
		if i > 0 {
			out.WriteString("\n")
		}
		for _, r := range rows {
			var line strings.Builder
			for j, c := range block {
				cell := ""
				if c < len(r) {
					cell = r[c]
				}
				if cell == "NaN" {
					cell = "-"
				}
				if j > 0 {
					line.WriteString("  ")
				}
				line.WriteString(strings.Repeat(" ", widths[c]-runeLen(cell)))
				line.WriteString(cell)
			}
			out.WriteString(line.String() + "\n")
		}
	}
}

// blocks splits the columns into blocks that fit the width, each the key
// columns and as many of the others, in order, as fit (at least one).
func (t *Table) blocks(widths []int, keys int) [][]int {
	var out [][]int
	var cur []int
	size := 0
	start := func() {
		cur, size = nil, 0
		for c := range keys {
			add(&cur, &size, c, widths)
		}
	}
	start()
	for c := keys; c < len(widths); c++ {
		if t.width > 0 && len(cur) > keys && size+2+widths[c] > t.width {
			out = append(out, cur)
			start()
		}
		add(&cur, &size, c, widths)
	}
	return append(out, cur)
}

func add(cols *[]int, size *int, c int, widths []int) {
	if len(*cols) > 0 {
		*size += 2
	}
	*cols = append(*cols, c)
	*size += widths[c]
}

// WriteNote prints text to w as a paragraph wrapped at word boundaries
// to TableWidth(w) columns (not at all when that is 0), its first line
// prefixed by first and the others by indent. A word longer than a line
// stays whole.
func WriteNote(w io.Writer, first, indent, text string) error {
	width := TableWidth(w)
	var b strings.Builder
	line := first
	empty := strings.TrimSpace(first) == ""
	for _, word := range strings.Fields(text) {
		if !empty && width > 0 && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	b.WriteString(line + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}
