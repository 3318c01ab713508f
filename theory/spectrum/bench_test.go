package spectrum_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory/spectrum"
)

// The instruments at the reference size n = 512, T = 16, d = 32, H = 16
// (P = 24576) on the default mixture and default initialization; the
// settings match bench/spectrum, which races them against PyTorch. Each
// operation is seconds long: run with -benchtime 1x (or 2x).
const (
	benchK          = 5  // Extremes: k
	benchIterations = 20 // Extremes and SLQ: Lanczos steps
	benchProbes     = 10 // Trace: probes
	benchStarts     = 2  // SLQ: starts
	benchBlock      = 128
)

var reference struct {
	once  sync.Once
	model *graph.Model
	cfg   layers.Config
	par   *layers.Params
	data  *datasets.Dataset
	err   error
}

func referenceModel(b *testing.B) (*graph.Model, layers.Config, *layers.Params, *datasets.Dataset) {
	r := &reference
	r.once.Do(func() {
		r.cfg = layers.Config{Heads: 16, Tokens: 16, Dim: 32}
		mix := datasets.DefaultMixture()
		mix.Dim, mix.Tokens = 32, 16
		if r.data, r.err = mix.Sample(512, 1); r.err != nil {
			return
		}
		if r.par, r.err = layers.NewParams(arch(r.cfg), layers.DefaultInit()); r.err != nil {
			return
		}
		if r.model, r.err = graph.NewModel(arch(r.cfg), r.par, r.data); r.err != nil {
			return
		}
		_, r.err = r.model.Evaluate()
	})
	if r.err != nil {
		b.Fatal(r.err)
	}
	return r.model, r.cfg, r.par, r.data
}

func BenchmarkHessVec(b *testing.B) {
	m, c, _, _ := referenceModel(b)
	v, dst := make([]float64, layers.NumTrainable(arch(c))), make([]float64, layers.NumTrainable(arch(c)))
	for i := range v {
		v[i] = float64(i%7) - 3
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.HessVec(v, dst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExtremes(b *testing.B) {
	m, c, _, _ := referenceModel(b)
	op := hessian(m, layers.NumTrainable(arch(c)))
	b.ResetTimer()
	for b.Loop() {
		ext, err := spectrum.Extremes(op, benchK, benchIterations, 1)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(ext.Products), "HVPs/op")
	}
}

func BenchmarkTrace(b *testing.B) {
	m, c, _, _ := referenceModel(b)
	op := hessian(m, layers.NumTrainable(arch(c)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := spectrum.Trace(op, benchProbes, 1); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(benchProbes, "HVPs/op")
	}
}

func BenchmarkSLQ(b *testing.B) {
	m, c, _, _ := referenceModel(b)
	op := hessian(m, layers.NumTrainable(arch(c)))
	b.ResetTimer()
	for b.Loop() {
		q, err := spectrum.SLQ(op, benchStarts, benchIterations, 1)
		if err != nil {
			b.Fatal(err)
		}
		grid, err := q.Grid(512, 1e-3)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := q.Density(grid, 1e-3); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(q.Products), "HVPs/op")
	}
}

// BenchmarkGram times the labelled NTK Gram in blocks of 128 samples (7
// block writes of per-sample gradients, 2 x 128 x P numbers held);
// BenchmarkGramOneShot holds all n x P.
func BenchmarkGram(b *testing.B)        { benchGram(b, benchBlock) }
func BenchmarkGramOneShot(b *testing.B) { benchGram(b, 512) }

func benchGram(b *testing.B, block int) {
	_, c, p, data := referenceModel(b)
	sg, err := graph.NewSampleGradients(arch(c))
	if err != nil {
		b.Fatal(err)
	}
	grads := spectrum.Gradients{N: data.N, P: layers.NumTrainable(arch(c)), Write: func(i0, i1 int, dst []float64) error {
		_, err := sg.Compute(p, subset(data, i0, i1), dst)
		return err
	}}
	b.ResetTimer()
	for b.Loop() {
		if _, err := spectrum.Gram(grads, data.Y, block); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGramProducts times the dot products of the Gram alone (rows
// already computed, one-shot), to separate them from the gradients.
func BenchmarkGramProducts(b *testing.B) {
	_, c, p, data := referenceModel(b)
	sg, err := graph.NewSampleGradients(arch(c))
	if err != nil {
		b.Fatal(err)
	}
	P := layers.NumTrainable(arch(c))
	all, err := sg.Compute(p, data, nil)
	if err != nil {
		b.Fatal(err)
	}
	grads := spectrum.Gradients{N: data.N, P: P, Write: func(i0, i1 int, dst []float64) error {
		copy(dst, all[i0*P:i1*P])
		return nil
	}}
	b.ResetTimer()
	for b.Loop() {
		if _, err := spectrum.Gram(grads, data.Y, 512); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSampleGradients times one block of 128 per-sample gradients,
// the unit of work Gram repeats.
func BenchmarkSampleGradients(b *testing.B) {
	for _, chunk := range []int{16, 32, 64, 128} {
		b.Run(fmt.Sprint("chunk=", chunk), func(b *testing.B) { benchSampleGradients(b, chunk) })
	}
}

func benchSampleGradients(b *testing.B, chunk int) {
	_, c, p, data := referenceModel(b)
	sg, err := graph.NewSampleGradients(arch(c))
	if err != nil {
		b.Fatal(err)
	}
	sub := subset(data, 0, benchBlock)
	dst := make([]float64, benchBlock*layers.NumTrainable(arch(c)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := sg.Compute(p, sub, dst); err != nil {
			b.Fatal(err)
		}
	}
}
