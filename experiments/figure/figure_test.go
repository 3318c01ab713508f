package figure

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"

	"github.com/mhattn/mha/experiments/runner"
)

func stats(means ...float64) []runner.Stats {
	out := make([]runner.Stats, len(means))
	for i, m := range means {
		out[i] = runner.Stats{N: 1, Mean: m, Lo: m, Hi: m, Min: m, Max: m}
	}
	return out
}

// TestHiddenNoted: points a log axis cannot show are counted and noted in
// the legend, in the PNG and the SVG alike; values that do not exist
// (NaN) are not counted as hidden.
func TestHiddenNoted(t *testing.T) {
	for _, tc := range []struct {
		means []float64
		note  string
	}{
		{[]float64{0.5, 2, 3}, "1 point <= 0 not shown (log axis)"},
		{[]float64{-1, 0.5, 2, math.NaN()}, "2 points <= 0 not shown (log axis)"},
		{[]float64{-1, 0, 2, 3}, "3 points <= 0 not shown (log axis)"},
	} {
		p := New("gap", "n", "gap")
		ValueAxis(&p.X, []float64{16, 64, 256, 512})
		LogAxis(&p.Y)
		xs := []float64{16, 64, 256, 512}[:len(tc.means)]
		if err := AddStats(p, xs, stats(tc.means...), Color(0), Glyph(0), nil, "gap", true, true); err != nil {
			t.Fatal(err)
		}
		// A line with a point <= 0 on the log axis counts too.
		if err := AddLine(p, plotter.XYs{{X: 16, Y: 1}, {X: 64, Y: -0.5}}, Color(1), Dashed, ""); err != nil {
			t.Fatal(err)
		}
		var svg, png bytes.Buffer
		plots, err := Plots(Builder{Name: "gap", Build: func(*runner.Result) (*plot.Plot, error) { return p, nil }})(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(plots) != 1 || plots[0].SVG == nil {
			t.Fatalf("Plots gave %d plots (SVG %v), want one with an SVG", len(plots), plots[0].SVG != nil)
		}
		if err := plots[0].Render(&png); err != nil {
			t.Fatal(err)
		}
		if err := plots[0].SVG(&svg); err != nil {
			t.Fatal(err)
		}
		var again bytes.Buffer
		if err := plots[0].SVG(&again); err != nil || !bytes.Equal(again.Bytes(), svg.Bytes()) {
			t.Errorf("a second SVG differs (%v): plots must be the same bytes every time", err)
		}
		if !bytes.HasPrefix(png.Bytes(), []byte("\x89PNG")) || !strings.Contains(svg.String(), "<svg") {
			t.Fatalf("not a PNG (%q...) or not an SVG", png.Bytes()[:4])
		}
		has := strings.Contains(svg.String(), "not shown")
		if tc.note == "" && has {
			t.Errorf("%v: a note though no point was hidden", tc.means)
		}
		if tc.note != "" && !strings.Contains(svg.String(), strings.ReplaceAll(tc.note, "<", "&lt;")) {
			t.Errorf("%v: the SVG lacks the note %q", tc.means, tc.note)
		}
		if Hidden(p) != 0 {
			t.Errorf("%v: Hidden after Plots = %d, want 0 (noted once)", tc.means, Hidden(p))
		}
	}
}

// TestSeriesOffsets: series drawn by AddStats on one plot are shifted by
// distinct small offsets, the first not at all, symmetrically about it.
func TestSeriesOffsets(t *testing.T) {
	for _, logX := range []bool{false, true} {
		p := New("", "x", "y")
		vals := []float64{2, 4, 6} // a linear axis
		if logX {
			vals = []float64{1, 2, 4, 8, 16}
		}
		ValueAxis(&p.X, vals)
		if _, ok := p.X.Scale.(plot.LogScale); ok != logX {
			t.Fatalf("ValueAxis(%v): log scale %v", vals, ok)
		}
		seen := map[float64]bool{}
		var xs []float64
		for j := range 5 {
			x := offsetX(&p.X, 4, j)
			if seen[x] {
				t.Errorf("log %v: series %d shares offset x %v", logX, j, x)
			}
			seen[x] = true
			xs = append(xs, x)
		}
		if xs[0] != 4 {
			t.Errorf("log %v: first series moved to %v", logX, xs[0])
		}
		sym := func(x float64) float64 { return x - 4 }
		if logX {
			sym = func(x float64) float64 { return math.Log(x / 4) }
		}
		if d := sym(xs[1]) + sym(xs[2]); math.Abs(d) > 1e-12 {
			t.Errorf("log %v: offsets %v, %v not symmetric", logX, xs[1], xs[2])
		}
		if span := math.Abs(sym(xs[4])); span > 0.1*math.Max(math.Abs(sym(32)), 1) {
			t.Errorf("log %v: offset %v not small", logX, xs[4])
		}
	}
	// Drawing two equal series does not fail and counts them.
	p := New("", "x", "y")
	ValueAxis(&p.X, []float64{1, 2})
	for range 2 {
		if err := AddStats(p, []float64{1, 2}, stats(1, 1), Color(0), draw.CircleGlyph{}, nil, "", false, false); err != nil {
			t.Fatal(err)
		}
	}
	if n := nextSeries(p); n != 2 {
		t.Errorf("%d series counted, want 2", n)
	}
}
