package spectrum_test

import (
	"math"
	"slices"
	"testing"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory/spectrum"
	"gonum.org/v1/gonum/mat"
)

// tinyModel is the attention model small enough for an exact Hessian:
// H = 2 heads, T = 3 tokens, d = 3 (the mixture needs d >= clusters + 2),
// so P = 36 parameters, on a few sequences of the tokenized mixture with
// one noise cluster, at a random point.
func tinyModel(t testing.TB, n int) (*graph.Model, layers.Config, *layers.Params, *datasets.Dataset) {
	t.Helper()
	c := layers.Config{Heads: 2, Tokens: 3, Dim: 3}
	mix := datasets.DefaultMixture()
	mix.Dim, mix.Tokens, mix.Clusters = 3, 3, 1
	data, err := mix.Sample(n, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := layers.NewParams(arch(c), layers.Init{Scheme: layers.InitRandom, UNorm: 1.5, WNorm: 2, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	m, err := graph.NewModel(arch(c), p, data)
	if err != nil {
		t.Fatal(err)
	}
	return m, c, p, data
}

// hessian wraps the model's Hessian-vector product, the one thing the
// instruments need of a model.
func hessian(m interface {
	HessVec(v, dst []float64) ([]float64, error)
}, dim int) spectrum.Operator {
	return spectrum.Operator{Dim: dim, Apply: func(v, dst []float64) error {
		_, err := m.HessVec(v, dst)
		return err
	}}
}

// exactHessian forms the Hessian column by column from products with unit
// vectors, symmetrizes it and returns it with its ascending eigenvalues and
// the size of the asymmetry removed (the finite-difference error of the
// products, which bounds how far any instrument can agree).
func exactHessian(t *testing.T, op spectrum.Operator) (h []float64, eig []float64, asym float64) {
	t.Helper()
	n := op.Dim
	h = make([]float64, n*n)
	e, col := make([]float64, n), make([]float64, n)
	for j := 0; j < n; j++ {
		clear(e)
		e[j] = 1
		if err := op.Apply(e, col); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			h[i*n+j] = col[i]
		}
	}
	sym := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			asym = math.Max(asym, math.Abs(h[i*n+j]-h[j*n+i]))
			s := (h[i*n+j] + h[j*n+i]) / 2
			h[i*n+j], h[j*n+i] = s, s
			sym.SetSym(i, j, s)
		}
	}
	var es mat.EigenSym
	if !es.Factorize(sym, false) {
		t.Fatal("eigendecomposition failed")
	}
	return h, es.Values(nil), asym
}

func TestModelHessian(t *testing.T) {
	m, c, _, _ := tinyModel(t, 8)
	if _, err := m.Evaluate(); err != nil {
		t.Fatal(err)
	}
	op := hessian(m, layers.NumTrainable(arch(c)))
	h, eig, asym := exactHessian(t, op)
	n := op.Dim
	if eig[0] >= 0 {
		t.Fatalf("lambda_min = %v: the test point should have negative curvature", eig[0])
	}
	t.Logf("P = %d, spectrum %.3g, asymmetry %.2g", n, eig, asym)
	// The products carry finite-difference errors of order asym; the
	// instruments can agree with the exact spectrum only to that level.
	slack := 10 * math.Sqrt(float64(n)) * asym

	t.Run("extremes", func(t *testing.T) {
		for _, iters := range []int{n, 16} {
			const k = 2
			ext, err := spectrum.Extremes(op, k, iters, 3)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < k; i++ {
				top, bottom := ext.Top[i], ext.Bottom[i]
				if d := math.Abs(top.Value - eig[n-1-i]); d > top.Residual+slack {
					t.Errorf("iters %d: top[%d] %.10g, exact %.10g: off by %.3g > residual %.3g", iters, i, top.Value, eig[n-1-i], d, top.Residual)
				}
				if d := math.Abs(bottom.Value - eig[i]); d > bottom.Residual+slack {
					t.Errorf("iters %d: bottom[%d] %.10g, exact %.10g: off by %.3g > residual %.3g", iters, i, bottom.Value, eig[i], d, bottom.Residual)
				}
				t.Logf("iters %d: top[%d] %.8g (r %.2g), bottom[%d] %.8g (r %.2g)", iters, i, top.Value, top.Residual, i, bottom.Value, bottom.Residual)
			}
		}
	})
	t.Run("trace", func(t *testing.T) {
		var exact float64
		for i := 0; i < n; i++ {
			exact += h[i*n+i]
		}
		est, err := spectrum.Trace(op, 200, 5)
		if err != nil {
			t.Fatal(err)
		}
		if d := math.Abs(est.Trace - exact); d > 3*est.StdErr {
			t.Errorf("trace %.6g ± %.2g, exact %.6g", est.Trace, est.StdErr, exact)
		}
		t.Logf("trace %.6g ± %.2g, exact %.6g", est.Trace, est.StdErr, exact)
	})
	t.Run("density", func(t *testing.T) {
		q, err := spectrum.SLQ(op, 30, 10, 9)
		if err != nil {
			t.Fatal(err)
		}
		checkDensity(t, q, eig, 0.1)
		// Half the spectrum is within 1e-3 of 0, where 10 nodes per start
		// cannot resolve the sign; the mass below -0.01 they can.
		const tol = 0.01
		neg, err := q.Negative(tol)
		if err != nil {
			t.Fatal(err)
		}
		var frac float64
		for _, v := range eig {
			if v < -tol {
				frac++
			}
		}
		frac /= float64(n)
		if d := math.Abs(neg.Fraction - frac); d > 3*neg.FractionStdErr+0.05 {
			t.Errorf("negative fraction %.3g ± %.2g, exact %.3g", neg.Fraction, neg.FractionStdErr, frac)
		}
		t.Logf("negative fraction %.3g ± %.2g, exact %.3g", neg.Fraction, neg.FractionStdErr, frac)
	})
}

// subset is a view of samples [i0, i1) of data.
func subset(data *datasets.Dataset, i0, i1 int) *datasets.Dataset {
	td := data.T * data.D
	out := &datasets.Dataset{N: i1 - i0, T: data.T, D: data.D, X: data.X[i0*td : i1*td], Y: data.Y[i0:i1]}
	if data.Mask != nil {
		out.Mask = data.Mask[i0*data.T : i1*data.T]
	}
	return out
}

func TestModelGramBlockwise(t *testing.T) {
	const n = 13
	_, c, p, data := tinyModel(t, n)
	sg, err := graph.NewSampleGradients(arch(c))
	if err != nil {
		t.Fatal(err)
	}
	P := layers.NumTrainable(arch(c))
	grads := spectrum.Gradients{N: n, P: P, Write: func(i0, i1 int, dst []float64) error {
		_, err := sg.Compute(p, subset(data, i0, i1), dst)
		return err
	}}
	all, err := sg.Compute(p, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for l := 0; l < P; l++ {
				s += all[i*P+l] * all[j*P+l]
			}
			want[i*n+j] = s * data.Y[i] * data.Y[j]
		}
	}
	for _, block := range []int{1, 3, 5, n} {
		k, err := spectrum.Gram(grads, data.Y, block)
		if err != nil {
			t.Fatal(err)
		}
		for i := range k {
			scale := math.Sqrt(want[(i/n)*(n+1)] * want[(i%n)*(n+1)])
			if d := math.Abs(k[i] - want[i]); d > 1e-12*scale {
				t.Errorf("block %d: K[%d,%d] = %.17g, one-shot %.17g", block, i/n, i%n, k[i], want[i])
			}
		}
	}
	if slices.Max(want) <= 0 {
		t.Fatal("zero Gram")
	}
}

// arch makes the model of c; the configurations of these tests are valid.
func arch(c layers.Config) layers.Model {
	m, err := layers.New(c)
	if err != nil {
		panic(err)
	}
	return m
}

// The Gram from the closed-form per-sample gradients (the paper's model on
// the fused engine) equals the Gram from the composed graph, run once per
// sample, to 1e-12 relative, for every query mode, scale and trainable
// block; blockwise equals one-shot bit for bit.
func TestModelGramClosedForm(t *testing.T) {
	const n = 21
	mix := datasets.DefaultMixture()
	mix.Dim, mix.Tokens, mix.Clusters = 4, 5, 1
	data, err := mix.Sample(n, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{layers.AllToken, layers.FirstToken} {
		for _, s := range []string{layers.InvSqrtHeads, layers.InvHeads} {
			for _, tr := range []string{layers.TrainUW, layers.TrainU, layers.TrainW} {
				c := layers.Config{Heads: 3, Tokens: 5, Dim: 4, Query: q, Scale: s, Train: tr}
				t.Run(q+"/"+s+"/"+tr, func(t *testing.T) {
					composed := c
					composed.Engine = layers.EngineComposed
					if layers.ClosedFormSampleGradients(arch(c)) == nil || layers.ClosedFormSampleGradients(arch(composed)) != nil {
						t.Fatal("test setup: want the closed form on the default engine only")
					}
					p, err := layers.NewParams(arch(c), layers.Init{Scheme: layers.InitRandom, UNorm: 1.5, WNorm: 2, Seed: 5})
					if err != nil {
						t.Fatal(err)
					}
					gram := func(c layers.Config, block int) []float64 {
						sg, err := graph.NewSampleGradients(arch(c))
						if err != nil {
							t.Fatal(err)
						}
						grads := spectrum.Gradients{N: n, P: layers.NumTrainable(arch(c)), Write: func(i0, i1 int, dst []float64) error {
							_, err := sg.ComputeRange(p, data, i0, i1, dst)
							return err
						}}
						k, err := spectrum.Gram(grads, data.Y, block)
						if err != nil {
							t.Fatal(err)
						}
						return k
					}
					want := gram(composed, n)
					oneShot := gram(c, n)
					for _, block := range []int{1, 4, 8, 20, n} {
						k := gram(c, block)
						for i := range k {
							scale := math.Sqrt(want[(i/n)*(n+1)] * want[(i%n)*(n+1)])
							if d := math.Abs(k[i] - want[i]); !(d <= 1e-12*scale) {
								t.Fatalf("block %d: K[%d,%d] = %.17g, composed graph %.17g", block, i/n, i%n, k[i], want[i])
							}
							if math.Float64bits(k[i]) != math.Float64bits(oneShot[i]) {
								t.Fatalf("block %d: K[%d,%d] = %.17g, one-shot %.17g", block, i/n, i%n, k[i], oneShot[i])
							}
						}
					}
				})
			}
		}
	}
}
