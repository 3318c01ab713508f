package graph

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/layers/ops"
)

// The closed-form per-sample gradients of the paper's model equal the
// graph's, run once per sample on the fused op and on the composition of
// blocks, to 1e-12 relative for every query mode, scale and trainable
// block, saturated attention included; models without a closed form keep
// the graph.
func TestClosedFormSampleGradients(t *testing.T) {
	normal := randomData(6, 5, 3, 41)
	saturated := randomData(6, 5, 3, 41)
	for k := 0; k < 5*3; k++ {
		saturated.X[k] *= 60 // logits of sequence 0 in the thousands
	}
	for _, c := range variants() {
		if c.Engine != layers.EngineFused {
			continue
		}
		c.Tokens = 5 // T != d: transposes show
		for _, engine := range []string{layers.EngineFused, layers.EngineAuto} {
			c.Engine = engine
			composed := c
			composed.Engine = layers.EngineComposed
			for di, data := range []*datasets.Dataset{normal, saturated} {
				t.Run(fmt.Sprint(name(c), "/data", di), func(t *testing.T) {
					m := arch(t, c)
					if layers.ClosedFormSampleGradients(m) == nil {
						t.Fatal("the paper's model on the fused engine has no closed form")
					}
					p := randomParams(t, c, 43)
					closed, err := NewSampleGradients(m)
					if err != nil {
						t.Fatal(err)
					}
					if closed.closed == nil {
						t.Fatal("NewSampleGradients did not take the closed form")
					}
					got, err := closed.Compute(p, data, nil)
					if err != nil {
						t.Fatal(err)
					}
					fused, err := newSampleGradients(m, true)
					if err != nil {
						t.Fatal(err)
					}
					viaFused, err := fused.Compute(p, data, nil)
					if err != nil {
						t.Fatal(err)
					}
					viaComposed, err := mustSampleGradients(t, arch(t, composed)).Compute(p, data, nil)
					if err != nil {
						t.Fatal(err)
					}
					width := layers.NumTrainable(m)
					if len(got) != data.N*width {
						t.Fatalf("%d entries, want %d x %d", len(got), data.N, width)
					}
					for i := 0; i < data.N; i++ {
						row := got[i*width : (i+1)*width]
						for _, ref := range []struct {
							name string
							rows []float64
						}{{"fused graph", viaFused}, {"composed graph", viaComposed}} {
							if d := relDiff(row, ref.rows[i*width:(i+1)*width]); !(d <= 1e-12) {
								t.Errorf("sample %d: closed form and %s differ by %.3g", i, ref.name, d)
							}
						}
					}
				})
			}
		}
	}
}

func mustSampleGradients(t *testing.T, m layers.Model) *SampleGradients {
	t.Helper()
	s, err := NewSampleGradients(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Only the paper's model on the fused engine has a closed form; the other
// kinds, and the composed engine, run the graph.
func TestClosedFormOnlyForFusedPaper(t *testing.T) {
	for _, c := range []layers.Config{
		{Heads: 2, Tokens: 3, Dim: 3, Engine: layers.EngineComposed},
		{Heads: 2, Tokens: 3, Dim: 3, Kind: layers.KindKQ, Rank: 2},
		{Heads: 2, Tokens: 3, Dim: 3, Kind: layers.KindReLU},
		{Heads: 2, Tokens: 3, Dim: 3, Kind: layers.KindValue},
	} {
		m := arch(t, c)
		if layers.ClosedFormSampleGradients(m) != nil {
			t.Errorf("%s/%s: has a closed form", c.KindName(), c.Engine)
		}
		if s := mustSampleGradients(t, m); s.closed != nil || s.prog == nil {
			t.Errorf("%s/%s: NewSampleGradients does not run the graph", c.KindName(), c.Engine)
		}
	}
}

// A row of the closed form is its sample's alone: the same bits whatever
// the range it is computed in and the number of goroutines.
func TestClosedFormReproducible(t *testing.T) {
	defer ops.SetThreads(ops.Threads())
	data := randomData(11, 4, 3, 45)
	for _, c := range []layers.Config{
		{Heads: 3, Tokens: 4, Dim: 3},
		{Heads: 2, Tokens: 4, Dim: 3, Query: layers.FirstToken, Train: layers.TrainW},
	} {
		m := arch(t, c)
		p := randomParams(t, c, 46)
		width := layers.NumTrainable(m)
		var want []float64
		for _, threads := range []int{1, 2, 3, 8} {
			if err := ops.SetThreads(threads); err != nil {
				t.Fatal(err)
			}
			s := mustSampleGradients(t, m)
			all, err := s.Compute(p, data, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want == nil {
				want = all
			} else if !slices.Equal(bitsOf(all), bitsOf(want)) {
				t.Errorf("%s: %d threads give other bits than 1", name(c), threads)
			}
			for _, r := range [][2]int{{0, 1}, {3, 4}, {2, 9}, {10, 11}} {
				part, err := s.ComputeRange(p, data, r[0], r[1], nil)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(bitsOf(part), bitsOf(want[r[0]*width:r[1]*width])) {
					t.Errorf("%s: rows [%d, %d) differ from the whole batch's", name(c), r[0], r[1])
				}
			}
		}
	}
}

func bitsOf(v []float64) []uint64 {
	b := make([]uint64, len(v))
	for i, x := range v {
		b[i] = math.Float64bits(x)
	}
	return b
}

// Bad parameters are an error on the closed form too, not a panic.
func TestClosedFormBadParams(t *testing.T) {
	c := layers.Config{Heads: 2, Tokens: 3, Dim: 3}
	other := layers.Config{Heads: 3, Tokens: 3, Dim: 3}
	s := mustSampleGradients(t, arch(t, c))
	if _, err := s.ComputeRange(randomParams(t, other, 1), randomData(2, 3, 3, 1), 0, 2, nil); err == nil {
		t.Error("parameters of another shape: no error")
	}
}

// ComputeRange checks the sequences it reads; a range that is the whole
// dataset checks all of it.
func TestComputeRangeChecksItsRows(t *testing.T) {
	for _, engine := range []string{layers.EngineAuto, layers.EngineComposed} {
		c := layers.Config{Heads: 2, Tokens: 3, Dim: 3, Engine: engine}
		s := mustSampleGradients(t, arch(t, c))
		p := randomParams(t, c, 2)
		data := randomData(4, 3, 3, 3)
		data.X[2*9+4] = math.NaN() // sequence 2
		if _, err := s.ComputeRange(p, data, 0, 2, nil); err != nil {
			t.Errorf("%s: rows [0, 2) are finite: %v", engine, err)
		}
		for _, r := range [][2]int{{1, 3}, {2, 3}, {0, 4}} {
			if _, err := s.ComputeRange(p, data, r[0], r[1], nil); err == nil || !strings.Contains(err.Error(), "X") {
				t.Errorf("%s: rows [%d, %d) hold a NaN: error %v, want one naming X", engine, r[0], r[1], err)
			}
		}
		bad := randomData(4, 3, 2, 3) // d = 2, model dim = 3
		if _, err := s.ComputeRange(p, bad, 0, 1, nil); err == nil || !strings.Contains(err.Error(), "dim") {
			t.Errorf("%s: data of dimension 2: error %v, want one naming dim", engine, err)
		}
	}
}
