package spectrum_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mhattn/mha/theory/spectrum"
	"gonum.org/v1/gonum/mat"
)

// symmetric returns Q diag(eig) Q^T for a random orthogonal Q (QR of a
// Gaussian matrix), row-major, and the operator applying it.
func symmetric(eig []float64, seed uint64) ([]float64, spectrum.Operator) {
	n := len(eig)
	rng := rand.New(rand.NewPCG(seed, 99))
	g := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			g.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q mat.Dense
	qr.QTo(&q)
	a := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			var s float64
			for l := 0; l < n; l++ {
				s += q.At(i, l) * eig[l] * q.At(j, l)
			}
			a[i*n+j], a[j*n+i] = s, s
		}
	}
	return a, matrixOperator(a, n)
}

func matrixOperator(a []float64, n int) spectrum.Operator {
	return spectrum.Operator{Dim: n, Apply: func(v, dst []float64) error {
		for i := 0; i < n; i++ {
			var s float64
			for j, x := range a[i*n : (i+1)*n] {
				s += x * v[j]
			}
			dst[i] = s
		}
		return nil
	}}
}

func linspace(lo, hi float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = lo + (hi-lo)*float64(i)/float64(n-1)
	}
	return out
}

// spectra are prescribed spectra with negative parts: spread, clustered
// with multiplicities (the Krylov space of one start becomes invariant
// and Lanczos must restart), and a PyHessian-like bulk near 0 with
// outliers.
func spectra() map[string][]float64 {
	bulk := linspace(-0.2, 0.3, 50)
	bulk = append(bulk, -4, -2.5, 6, 9, 15)
	var clustered []float64
	for _, v := range []float64{-2, -1, 0, 1, 3} {
		for r := 0; r < 6; r++ {
			clustered = append(clustered, v)
		}
	}
	return map[string][]float64{
		"spread":    linspace(-3, 5, 40),
		"clustered": clustered,
		"bulk":      bulk,
	}
}

func sorted(v []float64) []float64 {
	out := slices.Clone(v)
	sort.Float64s(out)
	return out
}

// checkPairs verifies that each Ritz pair is an eigenpair to within its
// residual: the residual is what it claims (recomputed from the matrix),
// the Ritz vector is a unit vector, and the i-th largest (smallest) Ritz
// value lies within its residual (plus slack) of the i-th largest
// (smallest) eigenvalue.
func checkPairs(t *testing.T, a []float64, exact []float64, ext spectrum.Extremal, k int, slack float64) {
	t.Helper()
	n := len(exact)
	op := matrixOperator(a, n)
	hy := make([]float64, n)
	for end, pairs := range map[string][]spectrum.Pair{"top": ext.Top, "bottom": ext.Bottom} {
		if len(pairs) != k {
			t.Fatalf("%s: %d pairs, want %d", end, len(pairs), k)
		}
		for i, p := range pairs {
			want := exact[i]
			if end == "top" {
				want = exact[n-1-i]
			}
			if d := math.Abs(p.Value - want); d > p.Residual+slack {
				t.Errorf("%s[%d] = %.12g, exact %.12g: off by %.3g > residual %.3g", end, i, p.Value, want, d, p.Residual)
			}
			op.Apply(p.Vector, hy)
			var r, nv float64
			for j := range hy {
				r += (hy[j] - p.Value*p.Vector[j]) * (hy[j] - p.Value*p.Vector[j])
				nv += p.Vector[j] * p.Vector[j]
			}
			if math.Abs(math.Sqrt(r)-p.Residual) > 1e-10*(1+math.Abs(p.Value)) {
				t.Errorf("%s[%d]: residual %.3g, recomputed %.3g", end, i, p.Residual, math.Sqrt(r))
			}
			if math.Abs(nv-1) > 1e-12 {
				t.Errorf("%s[%d]: ||y||^2 = %v", end, i, nv)
			}
		}
	}
}

func TestExtremesKnownSpectra(t *testing.T) {
	for name, eig := range spectra() {
		n := len(eig)
		a, op := symmetric(eig, 3)
		exact := sorted(eig)
		for _, iters := range []int{n, 3 * n / 4} {
			t.Run(fmt.Sprintf("%s/iters=%d", name, iters), func(t *testing.T) {
				const k = 3
				ext, err := spectrum.Extremes(op, k, iters, 7)
				if err != nil {
					t.Fatal(err)
				}
				checkPairs(t, a, exact, ext, k, 1e-10)
				if iters == n {
					// A full run finds the whole spectrum: residuals at rounding.
					for _, p := range append(ext.Top, ext.Bottom...) {
						if p.Residual > 1e-9 {
							t.Errorf("full run: residual %.3g of %v", p.Residual, p.Value)
						}
					}
				}
				if want := ext.Iterations + 2*k; ext.Products != want {
					t.Errorf("products = %d, want %d", ext.Products, want)
				}
			})
		}
	}
}

func TestTraceWithinStandardErrors(t *testing.T) {
	for name, eig := range spectra() {
		t.Run(name, func(t *testing.T) {
			a, op := symmetric(eig, 5)
			n := len(eig)
			var exact, off float64
			for i := 0; i < n; i++ {
				exact += eig[i]
				for j := 0; j < n; j++ {
					if i != j {
						off += a[i*n+j] * a[i*n+j]
					}
				}
			}
			const probes = 400
			est, err := spectrum.Trace(op, probes, 11)
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(est.Trace - exact); d > 3*est.StdErr {
				t.Errorf("trace %.6g, exact %.6g: off by %.3g > 3 standard errors (%.3g)", est.Trace, exact, d, 3*est.StdErr)
			}
			// The standard error must estimate the true one,
			// sqrt(2 sum_{i!=j} a_ij^2 / probes), not just be large.
			if want := math.Sqrt(2 * off / probes); est.StdErr < want/1.5 || est.StdErr > want*1.5 {
				t.Errorf("standard error %.4g, theory %.4g", est.StdErr, want)
			}
		})
	}
}

// exactCDF is the fraction of eig <= x.
func exactCDF(eig []float64, x float64) float64 {
	c := 0
	for _, v := range eig {
		if v <= x {
			c++
		}
	}
	return float64(c) / float64(len(eig))
}

// smoothCDF is the CDF of the spectrum broadened by N(0, sigma^2), which the
// quadrature's broadened density should reproduce.
func smoothCDF(eig []float64, sigma, x float64) float64 {
	var s float64
	for _, v := range eig {
		s += 0.5 * math.Erfc(-(x-v)/(sigma*math.Sqrt2))
	}
	return s / float64(len(eig))
}

// checkDensity verifies that the SLQ density integrates to the dimension
// and that its CDF is within tol (Kolmogorov distance) of the broadened
// exact spectrum's CDF, while a spectrum shifted by a fifth of its width
// is not: the test can tell spectra apart.
func checkDensity(t *testing.T, q *spectrum.Quadrature, eig []float64, tol float64) {
	t.Helper()
	lo, hi := slices.Min(eig), slices.Max(eig)
	sigma := (hi - lo) / 50
	grid, err := q.Grid(4000, sigma)
	if err != nil {
		t.Fatal(err)
	}
	dens, err := q.Density(grid, sigma)
	if err != nil {
		t.Fatal(err)
	}
	h := grid[1] - grid[0]
	var integral, cum, dist, distShifted float64
	for i := range grid {
		if i > 0 {
			step := h * (dens[i] + dens[i-1]) / 2
			integral += step
			cum += step
		}
		x := grid[i]
		dist = math.Max(dist, math.Abs(cum/float64(q.Dim)-smoothCDF(eig, sigma, x)))
		distShifted = math.Max(distShifted, math.Abs(cum/float64(q.Dim)-smoothCDF(eig, sigma, x-(hi-lo)/5)))
	}
	if d := math.Abs(integral - float64(q.Dim)); d > 1e-6*float64(q.Dim) {
		t.Errorf("density integrates to %.9g, want the dimension %d", integral, q.Dim)
	}
	if dist > tol {
		t.Errorf("CDF distance to the exact spectrum %.3g > %.3g", dist, tol)
	}
	if distShifted <= tol {
		t.Errorf("CDF distance to a shifted spectrum %.3g <= %.3g: the comparison cannot discriminate", distShifted, tol)
	}
	// The unbroadened CDF at points between eigenvalues.
	var kolm float64
	for _, x := range linspace(lo-1, hi+1, 97) {
		kolm = math.Max(kolm, math.Abs(q.CDF(x)-exactCDF(eig, x)))
	}
	if kolm > 2*tol {
		t.Errorf("unbroadened CDF distance %.3g > %.3g", kolm, 2*tol)
	}
	t.Logf("CDF distance %.3g (shifted spectrum %.3g), unbroadened %.3g", dist, distShifted, kolm)
}

func TestSLQKnownSpectra(t *testing.T) {
	for name, eig := range spectra() {
		t.Run(name, func(t *testing.T) {
			_, op := symmetric(eig, 13)
			q, err := spectrum.SLQ(op, 20, 25, 17)
			if err != nil {
				t.Fatal(err)
			}
			checkDensity(t, q, eig, 0.08)
			var exact float64
			for _, v := range eig {
				exact += v
			}
			tr, se := q.Trace()
			if math.Abs(tr-exact) > 3*se {
				t.Errorf("SLQ trace %.6g, exact %.6g: more than 3 standard errors (%.3g)", tr, exact, se)
			}
			for _, w := range q.Weights {
				var s float64
				for _, x := range w {
					s += x
				}
				if math.Abs(s-1) > 1e-12 {
					t.Errorf("weights sum to %v", s)
				}
			}
			neg, err := q.Negative(0.05)
			if err != nil {
				t.Fatal(err)
			}
			var frac, sum float64
			for _, v := range eig {
				if v < -0.05 {
					frac++
					sum += v
				}
			}
			frac /= float64(len(eig))
			if d := math.Abs(neg.Fraction - frac); d > 3*neg.FractionStdErr+0.05 {
				t.Errorf("negative fraction %.4g ± %.2g, exact %.4g", neg.Fraction, neg.FractionStdErr, frac)
			}
			if d := math.Abs(neg.Sum - sum); d > 3*neg.SumStdErr+0.05*math.Abs(sum) {
				t.Errorf("negative sum %.4g ± %.2g, exact %.4g", neg.Sum, neg.SumStdErr, sum)
			}
		})
	}
}

// bits lists the bit patterns of floats, for exact comparison.
func bits(v ...float64) []uint64 {
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = math.Float64bits(x)
	}
	return out
}

func TestReproducible(t *testing.T) {
	_, op := symmetric(spectra()["bulk"], 21)
	run := func(seed uint64) []uint64 {
		ext, err := spectrum.Extremes(op, 2, 20, seed)
		if err != nil {
			t.Fatal(err)
		}
		var out []float64
		for _, p := range append(ext.Top, ext.Bottom...) {
			out = append(out, p.Value, p.Residual)
			out = append(out, p.Vector...)
		}
		tr, err := spectrum.Trace(op, 7, seed)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tr.Trace, tr.StdErr)
		q, err := spectrum.SLQ(op, 3, 10, seed)
		if err != nil {
			t.Fatal(err)
		}
		grid, _ := q.Grid(50, 0.1)
		dens, _ := q.Density(grid, 0.1)
		out = append(out, dens...)
		for l := range q.Nodes {
			out = append(out, q.Nodes[l]...)
			out = append(out, q.Weights[l]...)
		}
		return bits(out...)
	}
	a, b, c := run(5), run(5), run(6)
	if !slices.Equal(a, b) {
		t.Error("the same seed gave different results")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds gave the same results")
	}
}

// rowGradients writes pseudo-random rows, each a function of its index
// alone, and records how it was called.
type rowGradients struct {
	n, p      int
	calls     int
	maxRows   int
	written   int
	variances []float64
}

func (g *rowGradients) row(i int, dst []float64) {
	rng := rand.New(rand.NewPCG(uint64(i), 3))
	s := 1 + float64(i%5)
	for j := range dst {
		dst[j] = s * rng.NormFloat64()
	}
}

func (g *rowGradients) gradients() spectrum.Gradients {
	return spectrum.Gradients{N: g.n, P: g.p, Write: func(i0, i1 int, dst []float64) error {
		if i0 < 0 || i1 > g.n || i0 >= i1 {
			return fmt.Errorf("bad range [%d, %d)", i0, i1)
		}
		g.calls++
		g.maxRows = max(g.maxRows, i1-i0)
		g.written += i1 - i0
		for i := i0; i < i1; i++ {
			g.row(i, dst[(i-i0)*g.p:(i-i0+1)*g.p])
		}
		return nil
	}}
}

func TestGramBlockwise(t *testing.T) {
	const n, p = 23, 600 // p spans several chunks
	g := &rowGradients{n: n, p: p}
	labels := make([]float64, n)
	for i := range labels {
		labels[i] = float64(1 - 2*(i%3%2))
	}
	rows := make([]float64, n*p)
	for i := 0; i < n; i++ {
		g.row(i, rows[i*p:(i+1)*p])
	}
	want := make([]float64, n*n) // one-shot, the plain way
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for l := 0; l < p; l++ {
				s += rows[i*p+l] * rows[j*p+l]
			}
			want[i*n+j] = s * labels[i] * labels[j]
		}
	}
	oneShot, err := spectrum.Gram(g.gradients(), labels, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range []int{1, 2, 5, 7, 22, n, 100} {
		t.Run(fmt.Sprint("block=", block), func(t *testing.T) {
			*g = rowGradients{n: n, p: p}
			k, err := spectrum.Gram(g.gradients(), labels, block)
			if err != nil {
				t.Fatal(err)
			}
			for i := range k {
				// |K_ij| <= sqrt(K_ii K_jj) is the scale of the entry's rounding.
				if d := math.Abs(k[i] - want[i]); d > 1e-12*math.Sqrt(want[(i/n)*(n+1)]*want[(i%n)*(n+1)]) {
					t.Errorf("K[%d,%d] = %.17g, one-shot %.17g", i/n, i%n, k[i], want[i])
				}
			}
			if !slices.Equal(bits(k...), bits(oneShot...)) {
				t.Error("not bit for bit equal to the one-shot Gram")
			}
			for i := 0; i < n; i++ {
				for j := 0; j < i; j++ {
					if k[i*n+j] != k[j*n+i] {
						t.Fatalf("not symmetric at %d, %d", i, j)
					}
				}
			}
			b := min(block, n)
			nb := (n + b - 1) / b
			// Gram fills a block 8 rows at a time.
			if g.maxRows > min(b, 8) {
				t.Errorf("a call wrote %d rows > min(block %d, 8)", g.maxRows, b)
			}
			// 1 + nb(nb-1)/2 block writes: block 0, then rounds of blocks
			// 1..last for last = nb-1 down to 1.
			size := func(blk int) int { return min((blk+1)*b, n) - blk*b }
			want, writes := size(0), 1
			for last := nb - 1; last >= 1; last-- {
				for blk := 1; blk <= last; blk++ {
					want += size(blk)
					writes++
				}
			}
			if writes != 1+nb*(nb-1)/2 {
				t.Fatalf("test: %d block writes", writes)
			}
			if g.written != want {
				t.Errorf("%d rows written, want %d (1 + nb(nb-1)/2 = %d block writes)", g.written, want, writes)
			}
		})
	}
}

func TestBadSettings(t *testing.T) {
	_, op := symmetric(linspace(-1, 1, 40), 1)
	grads := (&rowGradients{n: 4, p: 3}).gradients()
	q, err := spectrum.SLQ(op, 2, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	call := func(f func() error) func() error { return f }
	for _, c := range []struct {
		name string
		run  func() error
		want string
	}{
		{"k=0", call(func() error { _, err := spectrum.Extremes(op, 0, 10, 1); return err }), "spectrum.k = 0: must be in [1, dim=40]"},
		{"k>dim", call(func() error { _, err := spectrum.Extremes(op, 41, 50, 1); return err }), "spectrum.k = 41: must be in [1, dim=40]"},
		{"iters<k", call(func() error { _, err := spectrum.Extremes(op, 3, 2, 1); return err }), "spectrum.iterations = 2: must be >= k = 3"},
		{"dim=0", call(func() error { _, err := spectrum.Trace(spectrum.Operator{Apply: op.Apply}, 1, 1); return err }), "spectrum.dim = 0: must be >= 1"},
		{"nil apply", call(func() error { _, err := spectrum.Trace(spectrum.Operator{Dim: 3}, 1, 1); return err }), "spectrum.apply: must not be nil"},
		{"probes=0", call(func() error { _, err := spectrum.Trace(op, 0, 1); return err }), "spectrum.probes = 0: must be >= 1"},
		{"starts=0", call(func() error { _, err := spectrum.SLQ(op, 0, 5, 1); return err }), "spectrum.starts = 0: must be >= 1"},
		{"slq iters=0", call(func() error { _, err := spectrum.SLQ(op, 1, 0, 1); return err }), "spectrum.iterations = 0: must be >= 1"},
		{"sigma=0", call(func() error { _, err := q.Density([]float64{0}, 0); return err }), "spectrum.sigma = 0: must be in (0, inf)"},
		{"sigma<0 grid", call(func() error { _, err := q.Grid(10, -1); return err }), "spectrum.sigma = -1: must be in (0, inf)"},
		{"sigma NaN", call(func() error { _, err := q.Density(nil, math.NaN()); return err }), "spectrum.sigma = NaN: must be in (0, inf)"},
		{"points=1", call(func() error { _, err := q.Grid(1, 1); return err }), "spectrum.points = 1: must be >= 2"},
		{"tol<0", call(func() error { _, err := q.Negative(-1); return err }), "spectrum.tol = -1: must be in [0, inf)"},
		{"block=0", call(func() error { _, err := spectrum.Gram(grads, nil, 0); return err }), "spectrum.block = 0: must be >= 1"},
		{"labels", call(func() error { _, err := spectrum.Gram(grads, []float64{1}, 2); return err }), "spectrum.labels: has 1 entries: must have n = 4"},
		{"settings", call(func() error {
			return spectrum.Settings{K: 41, Iterations: 3, Starts: 2, Sigma: math.Inf(1), Block: 1}.Validate(40)
		}),
			"spectrum.k = 41: must be in [1, dim=40]\nspectrum.iterations = 3: must be >= k = 41 (steps beyond dim = 40 are not taken)\nspectrum.probes = 0: must be >= 1\nspectrum.sigma = +Inf: must be in (0, inf)"},
		{"n=0", call(func() error {
			_, err := spectrum.Gram(spectrum.Gradients{P: 1, Write: grads.Write}, nil, 1)
			return err
		}), "spectrum.n = 0: must be >= 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("error %v, want one starting %q", err, c.want)
			}
		})
	}
}

func TestNonFiniteOperator(t *testing.T) {
	op := spectrum.Operator{Dim: 3, Apply: func(v, dst []float64) error {
		for i := range dst {
			dst[i] = v[i]
		}
		dst[1] = math.NaN()
		return nil
	}}
	if _, err := spectrum.Extremes(op, 1, 3, 1); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("Extremes: error %v, want one naming NaN", err)
	}
	if _, err := spectrum.Trace(op, 2, 1); err == nil {
		t.Error("Trace: no error for NaN")
	}
	if _, err := spectrum.SLQ(op, 2, 2, 1); err == nil {
		t.Error("SLQ: no error for NaN")
	}
}

func TestSettingsValid(t *testing.T) {
	good := spectrum.Settings{K: 5, Iterations: 20, Probes: 10, Starts: 2, Sigma: 1e-3, Block: 128}
	if err := good.Validate(40); err != nil {
		t.Errorf("valid settings: %v", err)
	}
	if err := good.Validate(4); err == nil || !strings.Contains(err.Error(), "spectrum.k = 5: must be in [1, dim=4]") {
		t.Errorf("k above dim: error %v", err)
	}
}

// The Gram is the same bits whatever the number of goroutines sharing its
// products.
func TestGramGoroutines(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	const n, p = 37, 700
	var want []float64
	for _, procs := range []int{1, 2, 3, 5} {
		runtime.GOMAXPROCS(procs)
		for _, block := range []int{6, n} {
			k, err := spectrum.Gram((&rowGradients{n: n, p: p}).gradients(), nil, block)
			if err != nil {
				t.Fatal(err)
			}
			if want == nil {
				want = k
			} else if !slices.Equal(bits(k...), bits(want...)) {
				t.Errorf("GOMAXPROCS=%d, block %d: other bits than GOMAXPROCS=1 one-shot", procs, block)
			}
		}
	}
}
