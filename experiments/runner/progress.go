package runner

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Progress is the state of a running sweep, as reported to
// Options.Progress after every unit of every point.
type Progress struct {
	Done, Total float64       // work units (units times point cost), this session
	Elapsed     time.Duration // since the sweep started
	Left        time.Duration // estimated time left; 0 while unknown
	PointsDone  int
	Points      int
	Label       string // the point that just stepped (or finished)
	Step, Steps int    // its unit k and its number of units
	Finished    bool   // the point Label just finished
}

// Fraction is Done/Total, or 0 when Total is 0.
func (p Progress) Fraction() float64 {
	if p.Total <= 0 {
		return 0
	}
	return p.Done / p.Total
}

// display shows the progress of a run. On a terminal it keeps a block of
// lines at the bottom of the screen, one per running point and a total
// line with the time left, each cut to the terminal's width, and redraws
// the block in place (cursor up, erase, rewrite); log lines are written
// above it. Elsewhere (a file, a pipe, a job log) it logs one "progress"
// line every logEvery instead.
type display struct {
	w         io.Writer
	terminal  bool
	width     func() int // columns of the terminal
	log       *logrus.Logger
	logEvery  time.Duration
	drawEvery time.Duration

	mu      sync.Mutex
	start   time.Time
	last    time.Time
	lines   int // lines of the block now on the screen
	prog    Progress
	running []pointState // in order of first report
	done    bool
}

type pointState struct {
	label       string
	step, steps int
}

const (
	progressLogInterval = 10 * time.Second
	progressDrawEvery   = 200 * time.Millisecond
	// maxPointLines caps the point lines of the block; the rest are
	// counted on one line.
	maxPointLines = 8
)

// newDisplay returns the display of a run writing to w (the program's
// stderr), which it draws on if it is a terminal.
func newDisplay(w io.Writer, log *logrus.Logger) *display {
	d := &display{w: w, log: log, logEvery: progressLogInterval, drawEvery: progressDrawEvery, start: time.Now(), last: time.Now()}
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		d.terminal = true
		d.width = func() int { return terminalWidth(f) }
	}
	return d
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// terminalWidth is the number of columns of the terminal f, else of
// $COLUMNS, else 80.
func terminalWidth(f *os.File) int {
	if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
		return int(ws.Col)
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 80
}

// update is the run's Options.Progress.
func (d *display) update(p Progress) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prog = p
	d.track(p)
	every := d.logEvery
	if d.terminal {
		every = d.drawEvery
	}
	if time.Since(d.last) < every {
		return
	}
	d.last = time.Now()
	if !d.terminal {
		d.log.WithFields(logrus.Fields{
			"done":        fmt.Sprintf("%.0f%%", 100*p.Fraction()),
			"points_done": fmt.Sprintf("%d/%d", p.PointsDone, p.Points),
			"elapsed":     p.Elapsed.Round(time.Second).String(),
			"time_left":   timeLeft(p),
		}).Info("progress")
		return
	}
	d.draw()
}

// track keeps the running points: a point appears at its first unit and
// leaves when it finishes.
func (d *display) track(p Progress) {
	if p.Label == "" {
		return
	}
	for i := range d.running {
		if d.running[i].label != p.Label {
			continue
		}
		if p.Finished {
			d.running = append(d.running[:i], d.running[i+1:]...)
		} else {
			d.running[i].step, d.running[i].steps = p.Step, p.Steps
		}
		return
	}
	if !p.Finished {
		d.running = append(d.running, pointState{label: p.Label, step: p.Step, steps: p.Steps})
	}
}

func timeLeft(p Progress) string {
	switch {
	case p.Left <= 0:
		return "?"
	case p.Left < time.Second:
		return "<1s"
	}
	return p.Left.Round(time.Second).String()
}

// block is the lines of the display, each at most width-1 columns (the
// last column is left free: some terminals wrap on it).
func (d *display) block(width int) []string {
	w := max(width-1, 20)
	var out []string
	shown := d.running
	if len(shown) > maxPointLines {
		shown = shown[:maxPointLines-1]
	}
	for _, s := range shown {
		frac := 0.0
		if s.steps > 0 {
			frac = float64(s.step) / float64(s.steps)
		}
		tail := fmt.Sprintf(" %d/%d", s.step, s.steps)
		out = append(out, barLine("  "+s.label, frac, tail, w))
	}
	if n := len(d.running) - len(shown); n > 0 {
		out = append(out, cut(fmt.Sprintf("  ... and %d more running", n), w))
	}
	p := d.prog
	var tail string
	if d.done {
		tail = fmt.Sprintf(" %3.0f%% points %d/%d %s done", 100*p.Fraction(), p.PointsDone, p.Points, p.Elapsed.Round(time.Second))
	} else {
		tail = fmt.Sprintf(" %3.0f%% points %d/%d %s left %s", 100*p.Fraction(), p.PointsDone, p.Points, p.Elapsed.Round(time.Second), timeLeft(p))
	}
	out = append(out, barLine("total", p.Fraction(), tail, w))
	return out
}

// barLine is "head [====    ]tail" in at most w columns: the bar takes
// what head and tail leave, between 10 and 30 columns, and head is cut
// if even the smallest bar does not fit.
func barLine(head string, frac float64, tail string, w int) string {
	const minBar, maxBar = 10, 30
	bar := w - len(tail) - 3 - runeLen(head) // " [" and "]"
	if bar < minBar {
		head = cut(head, max(w-len(tail)-3-minBar, 0))
		bar = minBar
	}
	bar = min(bar, maxBar)
	frac = min(max(frac, 0), 1)
	n := int(float64(bar) * frac)
	return cut(head+" ["+strings.Repeat("=", n)+strings.Repeat(" ", bar-n)+"]"+tail, w)
}

func runeLen(s string) int { return len([]rune(s)) }

// cut shortens s to w columns, marking a cut with "~".
func cut(s string, w int) string {
	r := []rune(s)
	if len(r) <= w {
		return s
	}
	if w <= 1 {
		return string(r[:w])
	}
	return string(r[:w-1]) + "~"
}

// draw replaces the block on the screen with the current one.
func (d *display) draw() {
	var b strings.Builder
	d.erase(&b)
	lines := d.block(d.width())
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\033[K\n")
	}
	d.lines = len(lines)
	io.WriteString(d.w, b.String())
}

// erase moves the cursor to the first line of the block and clears the
// screen below it.
func (d *display) erase(b *strings.Builder) {
	if d.lines > 0 {
		fmt.Fprintf(b, "\033[%dA", d.lines)
	}
	b.WriteString("\r\033[J")
	d.lines = 0
}

// Write writes a log line above the block.
func (d *display) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.terminal || d.lines == 0 {
		return d.w.Write(p)
	}
	var b strings.Builder
	d.erase(&b)
	b.Write(p)
	io.WriteString(d.w, b.String())
	d.draw()
	return len(p), nil
}

// finish draws the final block, a total line marked "done" (on a
// terminal), and leaves it on the screen.
func (d *display) finish() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.terminal || (d.lines == 0 && d.prog.Points == 0) {
		return
	}
	d.done = true
	d.running = nil
	d.prog.Elapsed = time.Since(d.start)
	d.draw()
}
