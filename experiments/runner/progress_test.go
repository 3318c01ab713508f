package runner

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

func TestBarLineFits(t *testing.T) {
	for _, tc := range []struct {
		head  string
		frac  float64
		tail  string
		width int
	}{
		{"  heads1", 0.5, " 10/20", 79},
		{"  " + strings.Repeat("x", 100), 0.25, " 1000/2000", 79},
		{"total", 1, " 100% points 64/64 1h2m3s left 4m5s", 40},
		{"total", 2, " 100%", 20}, // a fraction above 1 fills the bar
		{"  a", -1, "", 15},
	} {
		l := barLine(tc.head, tc.frac, tc.tail, tc.width)
		if n := runeLen(l); n > tc.width {
			t.Errorf("barLine(%q, %v, %q, %d) = %q: %d columns", tc.head, tc.frac, tc.tail, tc.width, l, n)
		}
		if !strings.Contains(l, "[") || !strings.Contains(l, "]") {
			t.Errorf("barLine(%q, ..., %d) = %q: no bar", tc.head, tc.width, l)
		}
	}
}

// fakeTerminal is a display on a terminal of a given width writing to a
// buffer.
func fakeTerminal(width int) (*display, *bytes.Buffer) {
	var buf bytes.Buffer
	log := logrus.New()
	log.SetOutput(io.Discard)
	d := &display{w: &buf, terminal: true, width: func() int { return width }, log: log, start: time.Now()}
	return d, &buf
}

func TestDisplayBlock(t *testing.T) {
	d, _ := fakeTerminal(80)
	for i := range 12 {
		d.update(Progress{Label: fmt.Sprintf("point%d-with-a-rather-long-label-%s", i, strings.Repeat("z", 40)), Step: 3, Steps: 10, Points: 12, Total: 120, Done: float64(3 * (i + 1))})
	}
	d.update(Progress{Label: "point0-with-a-rather-long-label-" + strings.Repeat("z", 40), Finished: true, Step: 0, Steps: 10, Points: 12, PointsDone: 1})
	lines := d.block(80)
	if len(lines) != maxPointLines+1 {
		t.Errorf("%d lines, want %d (capped point lines and the total):\n%s", len(lines), maxPointLines+1, strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if runeLen(l) >= 80 {
			t.Errorf("line of %d columns on an 80-column terminal: %q", runeLen(l), l)
		}
	}
	if !strings.Contains(lines[len(lines)-2], "and 4 more running") {
		t.Errorf("second to last line %q, want the count of points not shown", lines[len(lines)-2])
	}
	if strings.Contains(strings.Join(lines, "\n"), "point0-") {
		t.Error("a finished point still has a line")
	}
	if !strings.HasPrefix(lines[len(lines)-1], "total [") {
		t.Errorf("last line %q, want the total", lines[len(lines)-1])
	}
}

// TestDisplayRedrawsInPlace: every redraw moves the cursor up over the
// lines drawn before, and a log line is written above the block.
func TestDisplayRedrawsInPlace(t *testing.T) {
	d, buf := fakeTerminal(80)
	d.update(Progress{Label: "a", Step: 1, Steps: 4, Points: 2, Total: 8, Done: 1})
	if got := strings.Count(buf.String(), "\n"); got != 2 {
		t.Fatalf("first draw wrote %d lines, want 2: %q", got, buf)
	}
	buf.Reset()
	d.update(Progress{Label: "b", Step: 1, Steps: 4, Points: 2, Total: 8, Done: 2})
	if s := buf.String(); !strings.HasPrefix(s, "\033[2A\r\033[J") || strings.Count(s, "\n") != 3 {
		t.Fatalf("second draw %q, want the 2 lines drawn replaced by 3", s)
	}
	buf.Reset()
	fmt.Fprintln(d, "a log line")
	s := buf.String()
	if !strings.HasPrefix(s, "\033[3A\r\033[J"+"a log line\n") {
		t.Errorf("log line not written in place of the block: %q", s)
	}
	if !strings.Contains(s, "\033[K\n") || strings.Count(s, "\n") != 4 {
		t.Errorf("block not redrawn below the log line: %q", s)
	}
	buf.Reset()
	d.finish()
	s = buf.String()
	if !strings.HasPrefix(s, "\033[3A\r\033[J") || !strings.Contains(s, "done") || strings.Count(s, "\n") != 1 {
		t.Errorf("finish: %q, want the block replaced by one total line marked done", s)
	}
}

// TestDisplayLogsWithoutTerminal: off a terminal the display logs
// "progress" lines whose keys each mean one thing (time_left, not eta).
func TestDisplayLogsWithoutTerminal(t *testing.T) {
	var buf bytes.Buffer
	log := logrus.New()
	log.SetOutput(&buf)
	log.SetFormatter(&logrus.JSONFormatter{})
	d := newDisplay(&buf, log)
	d.logEvery = 0
	d.update(Progress{Label: "a", Step: 1, Steps: 4, Points: 2, Total: 8, Done: 2, Elapsed: 3 * time.Second, Left: 9 * time.Second})
	s := buf.String()
	for _, want := range []string{`"msg":"progress"`, `"time_left":"9s"`, `"done":"25%"`, `"points_done":"0/2"`, `"elapsed":"3s"`} {
		if !strings.Contains(s, want) {
			t.Errorf("log %q lacks %s", s, want)
		}
	}
	if strings.Contains(s, `"eta"`) || strings.Contains(s, "\033[") {
		t.Errorf("log %q has an eta key or a terminal escape", s)
	}
}

func TestTableFits(t *testing.T) {
	var in strings.Builder
	in.WriteString("a note\n")
	head := []string{"heads", "seeds"}
	for i := range 12 {
		head = append(head, fmt.Sprintf("column %d", i))
	}
	fmt.Fprintln(&in, strings.Join(head, "\t")+"\t")
	for r := range 3 {
		cells := []string{fmt.Sprint(1 << r), "3"}
		for i := range 12 {
			cells = append(cells, fmt.Sprintf("%.4g ±0.1", float64(i)*1.2345))
		}
		fmt.Fprintln(&in, strings.Join(cells, "\t")+"\t")
	}
	for _, tc := range []struct {
		width, blocks int
	}{
		{0, 1}, {100, 2}, {80, 3}, {40, 6},
	} {
		var out bytes.Buffer
		tw := NewTable(WithTableWidth(&out, tc.width), 2)
		io.WriteString(tw, in.String())
		if err := tw.Flush(); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if lines[0] != "a note" {
			t.Errorf("width %d: first line %q, want the text line as is", tc.width, lines[0])
		}
		blocks, cells := 0, 0
		for _, l := range lines[1:] {
			if tc.width > 0 && runeLen(l) > tc.width {
				t.Errorf("width %d: line of %d columns: %q", tc.width, runeLen(l), l)
			}
			if strings.HasPrefix(strings.TrimLeft(l, " "), "heads  seeds") {
				blocks++
				cells += len(strings.Split(l, "column")) - 1
			}
		}
		if blocks != tc.blocks || cells != 12 {
			t.Errorf("width %d: %d blocks with %d columns in all, want %d blocks with 12 (each repeating the keys):\n%s", tc.width, blocks, cells, tc.blocks, out.String())
		}
	}
	if w := TableWidth(io.Discard); w != DefaultTableWidth {
		t.Errorf("TableWidth of a plain writer %d, want %d", w, DefaultTableWidth)
	}
}
