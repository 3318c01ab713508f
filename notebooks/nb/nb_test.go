package nb

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
)

// small draws a tiny mixture and a model config to match.
func small(t *testing.T, query string) (Config, *Dataset, *Dataset) {
	t.Helper()
	mc := DefaultMixture()
	mc.Dim, mc.Tokens, mc.Train, mc.Test = 6, 4, 8, 6
	train, test, err := Generate(mc)
	if err != nil {
		t.Fatal(err)
	}
	return Config{Heads: 2, Tokens: mc.Tokens, Dim: mc.Dim, Query: query}, train, test
}

func checkPNG(t *testing.T, b []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if got := img.Bounds().Dx(); got < 500 {
		t.Errorf("PNG is %d pixels wide, want about 600", got)
	}
}

func TestTrainAndPlots(t *testing.T) {
	for _, query := range []string{AllToken, FirstToken} {
		t.Run(query, func(t *testing.T) {
			c, train, test := small(t, query)
			p0, err := NewParams(c, DefaultInit())
			if err != nil {
				t.Fatal(err)
			}
			m, err := NewModel(c, p0, train)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := NewEvaluator(c, test)
			if err != nil {
				t.Fatal(err)
			}
			const steps = 5
			run, err := Train("eta=0.5", m, GD{StepSize: 0.5, Steps: steps}, ev, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(run.Steps) != steps+1 || len(run.Loss) != steps+1 || len(run.Error) != steps+1 || len(run.GradNorm) != steps+1 {
				t.Fatalf("recorded %d steps, %d losses, want %d", len(run.Steps), len(run.Loss), steps+1)
			}
			// Test evaluations at k = 0, 2, 4 and the last step 5.
			if want := []float64{0, 2, 4, 5}; !equal(run.TestSteps, want) || len(run.TestLoss) != len(want) {
				t.Errorf("test steps %v (%d losses), want %v", run.TestSteps, len(run.TestLoss), want)
			}
			if !(run.Loss[steps] < run.Loss[0]) {
				t.Errorf("loss went from %v to %v, want a decrease", run.Loss[0], run.Loss[steps])
			}
			checkPNG(t, PNG(LossPlot("losses", run)))

			if _, err := ev.Evaluate(m.Params()); err != nil {
				t.Fatal(err)
			}
			p, err := AttentionMap(c, ev, test, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			checkPNG(t, PNG(p))
		})
	}
}

func TestAttentionMapErrors(t *testing.T) {
	c, _, test := small(t, AllToken)
	ev, err := NewEvaluator(c, test)
	if err != nil {
		t.Fatal(err)
	}
	p0, err := NewParams(c, DefaultInit())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Evaluate(p0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		seq, head int
		want      string
	}{
		{-1, 0, "sequence -1 out of range"},
		{test.N, 0, "out of range [0, 6)"},
		{0, 2, "head 2 out of range [0, 2)"},
	} {
		if _, err := AttentionMap(c, ev, test, tc.seq, tc.head); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AttentionMap(seq %d, head %d) = %v, want an error containing %q", tc.seq, tc.head, err, tc.want)
		}
	}
}

func TestTrainDiverges(t *testing.T) {
	c, train, _ := small(t, AllToken)
	p0, err := NewParams(c, Init{UNorm: 10, WNorm: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(c, p0, train)
	if err != nil {
		t.Fatal(err)
	}
	run, err := Train("huge", m, GD{StepSize: 1e6, Steps: 20, MaxLoss: 10}, nil, 0)
	if !Diverged(err) {
		t.Fatalf("err = %v, want a divergence", err)
	}
	if len(run.Loss) == 0 || len(run.Loss) > 21 {
		t.Errorf("recorded %d losses before diverging", len(run.Loss))
	}
}

func TestLinesLogDropsNonPositive(t *testing.T) {
	p := Lines("t", "x", "y", true, Series{Name: "a", X: []float64{0, 1, 2}, Y: []float64{0, 1, 0.1}})
	checkPNG(t, PNG(p))
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNumTrainable(t *testing.T) {
	c := Config{Heads: 2, Tokens: 4, Dim: 6}
	if got := NumTrainable(c); got != 2*4*6+2*6*6 {
		t.Errorf("NumTrainable = %d, want U and W: %d", got, 2*4*6+2*6*6)
	}
	if got := NumTrainable(Config{}); got != 0 {
		t.Errorf("NumTrainable of an invalid config = %d, want 0", got)
	}
}
