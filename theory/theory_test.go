package theory

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"gonum.org/v1/gonum/mat"
)

// randomSymmetric returns Q diag(eigs) Q^T for a random orthogonal Q.
func randomSymmetric(eigs []float64, seed uint64) *mat.SymDense {
	n := len(eigs)
	rng := rand.New(rand.NewPCG(seed, 1))
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
	a := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			var s float64
			for k := 0; k < n; k++ {
				s += q.At(i, k) * eigs[k] * q.At(j, k)
			}
			a.SetSym(i, j, s)
		}
	}
	return a
}

func applySym(a *mat.SymDense) func(v, dst []float64) error {
	return func(v, dst []float64) error {
		out := mat.NewVecDense(len(dst), dst)
		out.MulVec(a, mat.NewVecDense(len(v), v))
		return nil
	}
}

func TestLanczosRecoversKnownSpectra(t *testing.T) {
	for _, tc := range []struct {
		name string
		eigs []float64
	}{
		{"indefinite", linspace(-3, 5, 40)},
		{"psd with cluster", append(linspace(0, 1e-3, 30), 2, 7)},
		{"negative definite", linspace(-9, -1, 25)},
		{"one eigenvalue", []float64{4.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := randomSymmetric(tc.eigs, 3)
			lo, hi := minMax(tc.eigs)
			// Full Lanczos is exact up to rounding.
			s, err := Lanczos(len(tc.eigs), applySym(a), len(tc.eigs), 1)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(s.Min-lo) > 1e-9*math.Max(1, math.Abs(lo)) || math.Abs(s.Max-hi) > 1e-9*math.Max(1, math.Abs(hi)) {
				t.Errorf("full: got [%v, %v], want [%v, %v]", s.Min, s.Max, lo, hi)
			}
			// A partial run gives Ritz values inside the spectrum, each
			// within its residual of an eigenvalue.
			if len(tc.eigs) > 10 {
				s, err := Lanczos(len(tc.eigs), applySym(a), 12, 2)
				if err != nil {
					t.Fatal(err)
				}
				if s.Min < lo-1e-9 || s.Max > hi+1e-9 {
					t.Errorf("partial: Ritz values [%v, %v] outside the spectrum [%v, %v]", s.Min, s.Max, lo, hi)
				}
				if dist(s.Max, tc.eigs) > s.MaxResid+1e-9 || dist(s.Min, tc.eigs) > s.MinResid+1e-9 {
					t.Errorf("partial: Ritz values %v (resid %v), %v (resid %v) not within their residuals of an eigenvalue", s.Max, s.MaxResid, s.Min, s.MinResid)
				}
			}
		})
	}
}

func linspace(a, b float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = a + (b-a)*float64(i)/float64(max(n-1, 1))
	}
	return out
}

func minMax(v []float64) (float64, float64) {
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

func dist(x float64, set []float64) float64 {
	best := math.Inf(1)
	for _, s := range set {
		best = math.Min(best, math.Abs(x-s))
	}
	return best
}

// bruteMinNorm is the distance from the origin to the convex hull of pts by
// enumerating supports: on each subset, the affine minimizer of the norm;
// feasible ones (all weights >= 0) are candidates.
func bruteMinNorm(pts [][]float64) float64 {
	n := len(pts)
	best := math.Inf(1)
	for mask := 1; mask < 1<<n; mask++ {
		var idx []int
		for i := 0; i < n; i++ {
			if mask&(1<<i) != 0 {
				idx = append(idx, i)
			}
		}
		k := len(idx)
		// Solve [G 1; 1^T 0] [a; mu] = [0; 1].
		sys := mat.NewDense(k+1, k+1, nil)
		rhs := mat.NewVecDense(k+1, nil)
		for i := 0; i < k; i++ {
			for j := 0; j < k; j++ {
				sys.Set(i, j, dotF(pts[idx[i]], pts[idx[j]]))
			}
			sys.Set(i, k, 1)
			sys.Set(k, i, 1)
		}
		rhs.SetVec(k, 1)
		var sol mat.VecDense
		if err := sol.SolveVec(sys, rhs); err != nil {
			continue
		}
		point := make([]float64, len(pts[0]))
		feasible := true
		for i := 0; i < k; i++ {
			a := sol.AtVec(i)
			if a < -1e-12 {
				feasible = false
			}
			for d := range point {
				point[d] += a * pts[idx[i]][d]
			}
		}
		if feasible {
			best = math.Min(best, math.Sqrt(dotF(point, point)))
		}
	}
	return best
}

func dotF(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func gramOf(pts [][]float64) []float64 {
	n := len(pts)
	g := make([]float64, n*n)
	for i := range pts {
		for j := range pts {
			g[i*n+j] = dotF(pts[i], pts[j])
		}
	}
	return g
}

func TestMinNormPointMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 200; trial++ {
		n, dim := 1+rng.IntN(4), 2+rng.IntN(2)
		pts := make([][]float64, n)
		shift := rng.NormFloat64() * 2 // shifted clouds are often separable
		for i := range pts {
			pts[i] = make([]float64, dim)
			for d := range pts[i] {
				pts[i][d] = rng.NormFloat64()
			}
			pts[i][0] += shift
		}
		want := bruteMinNorm(pts)
		m := MinNormPoint(gramOf(pts), n, 1e-10)
		if !m.Converged {
			t.Fatalf("trial %d: not converged after %d iterations", trial, m.Iterations)
		}
		if m.Lower > want+1e-9 || m.Upper < want-1e-9 {
			t.Fatalf("trial %d (%v): bounds [%v, %v] exclude the brute-force distance %v", trial, pts, m.Lower, m.Upper, want)
		}
		if want > 1e-6 && math.Abs(m.Gamma-want) > 1e-8*want {
			t.Fatalf("trial %d: gamma %v, brute force %v", trial, m.Gamma, want)
		}
	}
}

func TestMinNormPointNotSeparable(t *testing.T) {
	for _, pts := range [][][]float64{
		{{1, 0}, {-1, 0}},
		{{1, 1}, {-2, 0.5}, {0.5, -3}},
		{{1, 0, 0}, {0, 1, 0}, {-1, -1, 0.5}, {0, 0, -1}},
	} {
		m := MinNormPoint(gramOf(pts), len(pts), 0)
		if m.Gamma != 0 || m.Separable {
			t.Errorf("%v: gamma %v, separable %v; want 0 and false", pts, m.Gamma, m.Separable)
		}
		if want := bruteMinNorm(pts); want > 1e-12 {
			t.Fatalf("test setup: %v is separable (distance %v)", pts, want)
		}
	}
}

// instance is a random model, data and parameter point for bound tests.
type instance struct {
	c    layers.Config
	data *datasets.Dataset
	p    *layers.Params
}

func (in instance) String() string {
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	return fmt.Sprintf("%s/%s/%s/H%d/T%d/d%d", or(in.c.Query, layers.AllToken), or(in.c.Scale, layers.InvSqrtHeads),
		or(in.c.Train, layers.TrainUW), in.c.Heads, in.c.Tokens, in.c.Dim)
}

// randomInstance draws tokens of norm up to tokenNorm and parameters of
// varied scale.
func randomInstance(t testing.TB, c layers.Config, n int, tokenNorm float64, seed uint64) instance {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	data := &datasets.Dataset{N: n, T: c.Tokens, D: c.Dim, X: make([]float64, n*c.Tokens*c.Dim), Y: make([]float64, n)}
	for off := 0; off < len(data.X); off += c.Dim {
		x := data.X[off : off+c.Dim]
		for k := range x {
			x[k] = rng.NormFloat64()
		}
		// Norms spread over (0, tokenNorm], the largest exactly tokenNorm.
		s := tokenNorm * (0.3 + 0.7*rng.Float64()) / math.Sqrt(dotF(x, x))
		if off == 0 {
			s = tokenNorm / math.Sqrt(dotF(x, x))
		}
		for k := range x {
			x[k] *= s
		}
	}
	for i := range data.Y {
		data.Y[i] = float64(2*rng.IntN(2) - 1)
	}
	p, err := layers.NewParams(arch(c), layers.Init{UNorm: 0.5 + 2*rng.Float64(), WNorm: 0.5 + 3*rng.Float64(), Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return instance{c, data, p}
}

// symEigs returns the eigenvalues of a (symmetrized) n x n matrix.
func symEigs(t testing.TB, a []float64, n int) []float64 {
	t.Helper()
	s := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			s.SetSym(i, j, (a[i*n+j]+a[j*n+i])/2)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(s, false) {
		t.Fatal("eigendecomposition failed")
	}
	return eig.Values(nil)
}

// jacobian is the central-difference Jacobian of grad at x (m outputs).
func jacobian(grad func(x []float64) []float64, x []float64) []float64 {
	n := len(x)
	var out []float64
	xx := append([]float64(nil), x...)
	h := 1e-5 * math.Max(1, math.Sqrt(dotF(x, x))/math.Sqrt(float64(n)))
	for j := 0; j < n; j++ {
		xx[j] = x[j] + h
		plus := grad(xx)
		xx[j] = x[j] - h
		minus := grad(xx)
		xx[j] = x[j]
		if out == nil {
			out = make([]float64, len(plus)*n)
		}
		for i := range plus {
			out[i*n+j] = (plus[i] - minus[i]) / (2 * h)
		}
	}
	return out
}

func boundConfigs() []layers.Config {
	var out []layers.Config
	for _, h := range []int{1, 4, 16} {
		out = append(out,
			layers.Config{Heads: h, Tokens: 3, Dim: 2},
			layers.Config{Heads: h, Tokens: 4, Dim: 3, Scale: layers.InvHeads, Train: layers.TrainW},
			layers.Config{Heads: h, Tokens: 4, Dim: 2, Query: layers.FirstToken},
		)
	}
	return out
}

// TestBoundsHoldAgainstMeasurement measures ||grad Phi||, ||Hess Phi|| and
// lambda_min(Hess F) on random instances and holds each against its bound.
// The ratios measured/bound are logged (go test -v) for docs/theory.md.
func TestBoundsHoldAgainstMeasurement(t *testing.T) {
	seed := uint64(10)
	for _, c := range boundConfigs() {
		for _, tokenNorm := range []float64{0.5, 1, 2} {
			seed++
			in := randomInstance(t, c, 4, tokenNorm, seed)
			t.Run(fmt.Sprintf("%v/R%g", in, tokenNorm), func(t *testing.T) {
				checkBounds(t, in)
			})
		}
	}
}

func checkBounds(t *testing.T, in instance) {
	c, data, p := in.c, in.data, in.p
	k := ConstantsOverBall(c, p, TokenNorm(data), 0)
	if math.Abs(k.R-TokenNorm(data)) > 0 {
		t.Fatal("R mismatch")
	}
	sg, err := graph.NewSampleGradients(arch(c))
	if err != nil {
		t.Fatal(err)
	}
	theta := p.Trainable(arch(c), nil)
	q := p.Clone()
	var gradRatio, hessRatio float64
	for i := 0; i < data.N; i++ {
		one := &datasets.Dataset{N: 1, T: data.T, D: data.D, X: data.X[i*data.T*data.D : (i+1)*data.T*data.D], Y: []float64{1}}
		g, err := sg.Compute(p, one, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := norm2(g); n > k.Lipschitz*(1+1e-12) {
			t.Errorf("sample %d: ||grad Phi|| = %v exceeds the bound %v", i, n, k.Lipschitz)
		} else {
			gradRatio = math.Max(gradRatio, n/k.Lipschitz)
		}
		hess := jacobian(func(x []float64) []float64 {
			q.SetTrainable(arch(c), x)
			g, err := sg.Compute(q, one, nil)
			if err != nil {
				t.Fatal(err)
			}
			return g
		}, theta)
		eigs := symEigs(t, hess, len(theta))
		lo, hi := minMax(eigs)
		opNorm := math.Max(-lo, hi)
		if opNorm > k.PhiCurvature*(1+1e-6)+1e-8 {
			t.Errorf("sample %d: ||Hess Phi|| = %v exceeds the bound %v", i, opNorm, k.PhiCurvature)
		} else if k.PhiCurvature > 0 {
			hessRatio = math.Max(hessRatio, opNorm/k.PhiCurvature)
		}
	}
	// Weak convexity of F: lambda_min(Hess F) >= -kappa F.
	m, err := graph.NewModel(arch(c), p, data)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := m.Evaluate()
	if err != nil {
		t.Fatal(err)
	}
	hess := jacobian(func(x []float64) []float64 {
		q.SetTrainable(arch(c), x)
		if err := m.SetParams(q); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Evaluate(); err != nil {
			t.Fatal(err)
		}
		return m.Gradient(nil)
	}, theta)
	eigs := symEigs(t, hess, len(theta))
	lo, hi := minMax(eigs)
	if lo < -k.WeakConvexity*ev.Loss*(1+1e-6)-1e-8 {
		t.Errorf("lambda_min(Hess F) = %v below -kappa F = %v", lo, -k.WeakConvexity*ev.Loss)
	}
	if math.Max(hi, -lo) > k.Smoothness*(1+1e-6) {
		t.Errorf("||Hess F|| = %v exceeds L = %v", math.Max(hi, -lo), k.Smoothness)
	}
	weak := 0.0
	if lo < 0 && k.WeakConvexity > 0 {
		weak = -lo / (k.WeakConvexity * ev.Loss)
	}
	t.Logf("tightness: grad %.3g, hess Phi %.3g, weak convexity %.3g, smoothness %.3g", gradRatio, hessRatio, weak, math.Max(hi, -lo)/k.Smoothness)
}

func TestStepSizeSolvesItsFixedPoint(t *testing.T) {
	c := layers.Config{Heads: 4, Tokens: 4, Dim: 3}
	in := randomInstance(t, c, 6, 1.3, 40)
	for _, steps := range []int{0, 1, 100, 10000} {
		s, err := StepSizeFor(c, in.p, 1.3, 0.7, steps)
		if err != nil {
			t.Fatal(err)
		}
		if want := math.Sqrt(2 * s.Eta * float64(steps) * 0.7); math.Abs(s.Radius-want) > 1e-12*math.Max(1, want) {
			t.Errorf("K=%d: radius %v, want sqrt(2 eta K F0) = %v", steps, s.Radius, want)
		}
		g := ConstantsOverBall(c, in.p, 1.3, s.Radius).Lipschitz
		if want := s.Radius + s.Eta*g*math.Min(1, 0.7); math.Abs(s.SegmentRadius-want) > 1e-12*math.Max(1, want) {
			t.Errorf("K=%d: segment radius %v, want r + eta G(r) min(1, F0) = %v", steps, s.SegmentRadius, want)
		}
		l := ConstantsOverBall(c, in.p, 1.3, s.SegmentRadius).Smoothness
		if prod := s.Eta * l; prod > 1 || prod < 1-1e-9 {
			t.Errorf("K=%d: eta L(rho) = %v, want just below 1", steps, prod)
		}
	}
	if _, err := StepSizeFor(c, in.p, 1.3, math.NaN(), 10); err == nil {
		t.Error("F0 = NaN accepted")
	}
}

// defaultData is the default tokenized mixture.
func defaultData(t testing.TB) *datasets.Dataset {
	t.Helper()
	train, _, err := datasets.DefaultMixture().Generate()
	if err != nil {
		t.Fatal(err)
	}
	return train
}

func TestTheoryStepSizeDecreasesLossMonotonically(t *testing.T) {
	data := defaultData(t)
	const steps = 20
	for _, heads := range []int{1, 4, 16, 64} {
		t.Run(fmt.Sprintf("H%d", heads), func(t *testing.T) {
			c := layers.Config{Heads: heads, Tokens: data.T, Dim: data.D}
			p, err := layers.NewParams(arch(c), layers.DefaultInit())
			if err != nil {
				t.Fatal(err)
			}
			s, err := TheoryStepSize(arch(c), p, data, steps)
			if err != nil {
				t.Fatal(err)
			}
			m, err := graph.NewModel(arch(c), p, data)
			if err != nil {
				t.Fatal(err)
			}
			prev := math.Inf(1)
			_, err = graph.GD{StepSize: s.Eta, Steps: steps}.Run(m, graph.RecorderFunc(func(pr graph.Progress) error {
				if !(pr.Loss < prev) {
					return fmt.Errorf("loss rose at step %d: %v -> %v", pr.Step, prev, pr.Loss)
				}
				prev = pr.Loss
				return nil
			}))
			if err != nil {
				t.Fatal(err)
			}
			if dist := norm2(sub(m.Params().Trainable(arch(c), nil), p.Trainable(arch(c), nil))); dist > s.Radius {
				t.Errorf("GD travelled %v, beyond the radius %v it was promised", dist, s.Radius)
			}
			t.Logf("eta %.4g, L %.4g, radius %.4g, final loss %.4g", s.Eta, s.Smoothness, s.Radius, prev)
		})
	}
}

func sub(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

func TestNTKMarginAndCertificate(t *testing.T) {
	mix := datasets.DefaultMixture()
	mix.Train = 48
	data, _, err := mix.Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []layers.Config{
		{Heads: 4, Tokens: data.T, Dim: data.D, Train: layers.TrainU},
		{Heads: 4, Tokens: data.T, Dim: data.D},
	} {
		t.Run("train"+c.Train, func(t *testing.T) {
			p, err := layers.NewParams(arch(c), layers.DefaultInit())
			if err != nil {
				t.Fatal(err)
			}
			k, err := NewNTK(arch(c), p, data)
			if err != nil {
				t.Fatal(err)
			}
			m := k.Margin()
			if !m.Converged || !m.Separable {
				t.Fatalf("margin %+v: want a converged, separable margin on the mixture", m)
			}
			v, achieved := k.Direction(m)
			if math.Abs(norm2(v)-1) > 1e-12 || math.Abs(achieved-m.Lower) > 1e-9*m.Lower {
				t.Errorf("direction norm %v, achieved margin %v vs lower bound %v", norm2(v), achieved, m.Lower)
			}
			cert, err := Realize(arch(c), p, data, k, m, 0.05)
			if err != nil {
				t.Fatal(err)
			}
			// The bound is a guarantee: the measured loss cannot exceed it.
			if cert.Loss > cert.LossBound*(1+1e-9) {
				t.Errorf("measured F(theta*) = %v exceeds its bound %v", cert.Loss, cert.LossBound)
			}
			if cert.Attained && cert.LossBound > 0.05 {
				t.Errorf("attained but bound %v > eps", cert.LossBound)
			}
			if c.Train == layers.TrainU && !cert.Attained {
				t.Errorf("U only: Phi is linear in U, so every eps is attainable; got %+v", cert)
			}
			got := norm2(sub(cert.Params.Trainable(arch(c), nil), p.Trainable(arch(c), nil)))
			if math.Abs(got-cert.Distance) > 1e-9*cert.Distance {
				t.Errorf("||theta* - theta_0|| = %v, certificate says %v", got, cert.Distance)
			}
			t.Logf("gamma %.4g (gap %.2g), lambda %.4g, F(theta*) %.4g <= %.4g, attained %v", m.Gamma, m.Gap(), cert.Lambda, cert.Loss, cert.LossBound, cert.Attained)
		})
	}
}

func TestCurvatureMatchesFullHessian(t *testing.T) {
	c := layers.Config{Heads: 2, Tokens: 3, Dim: 2}
	in := randomInstance(t, c, 5, 1.5, 50)
	m, err := graph.NewModel(arch(c), in.p, in.data)
	if err != nil {
		t.Fatal(err)
	}
	P := layers.NumTrainable(arch(c))
	s, err := Curvature(m, P, 1)
	if err != nil {
		t.Fatal(err)
	}
	theta := in.p.Trainable(arch(c), nil)
	q := in.p.Clone()
	hess := jacobian(func(x []float64) []float64 {
		q.SetTrainable(arch(c), x)
		m2, _ := graph.NewModel(arch(c), q, in.data)
		if _, err := m2.Evaluate(); err != nil {
			t.Fatal(err)
		}
		return m2.Gradient(nil)
	}, theta)
	lo, hi := minMax(symEigs(t, hess, P))
	if math.Abs(s.Min-lo) > 1e-5*math.Max(1, math.Abs(lo)) || math.Abs(s.Max-hi) > 1e-5*math.Max(1, hi) {
		t.Errorf("Lanczos [%v, %v], full Hessian [%v, %v]", s.Min, s.Max, lo, hi)
	}
}

func TestIdealMarginMatchesUFeaturesUnderIdealAttention(t *testing.T) {
	mix := datasets.DefaultMixture()
	mix.Train = 40
	data, _, err := mix.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c := layers.Config{Heads: 3, Tokens: data.T, Dim: data.D, Train: layers.TrainU}
	got, err := IdealMargin(c, data)
	if err != nil {
		t.Fatal(err)
	}
	// Oracle: explicit features y_i c (A* X_i) for each head and query row.
	P := layers.NumTrainable(arch(c))
	feats := make([][]float64, data.N)
	for i := range feats {
		feats[i] = make([]float64, P)
		rel := 0
		for tk := 0; tk < data.T; tk++ {
			if data.Mask[i*data.T+tk] {
				rel++
			}
		}
		for h := 0; h < c.Heads; h++ {
			for r := 0; r < c.Rows(); r++ {
				for tk := 0; tk < data.T; tk++ {
					if !data.Mask[i*data.T+tk] {
						continue
					}
					for k := 0; k < data.D; k++ {
						feats[i][(h*c.Rows()+r)*data.D+k] += data.Y[i] * c.ScaleFactor() * data.X[(i*data.T+tk)*data.D+k] / float64(rel)
					}
				}
			}
		}
	}
	want := MinNormPoint(gramOf(feats), data.N, 0)
	if !got.Separable || math.Abs(got.Gamma-want.Gamma) > 1e-6*want.Gamma {
		t.Errorf("ideal margin %v, explicit features give %v", got.Gamma, want.Gamma)
	}
	noMask := *data
	noMask.Mask = nil
	if _, err := IdealMargin(c, &noMask); err == nil {
		t.Error("no mask accepted")
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
