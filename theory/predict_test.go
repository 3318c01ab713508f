package theory

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
)

// fixedConstants are the same constants over every ball (a model whose
// bounds do not grow with the radius), for checking the bookkeeping.
func fixedConstants(g, kappa float64) func(float64) Constants {
	return func(radius float64) Constants {
		return Constants{R: 1, Radius: radius, Beta1: []float64{g}, Beta2: []float64{kappa}, Lipschitz: g,
			PhiCurvature: kappa, WeakConvexity: kappa, Smoothness: g*g/4 + kappa}
	}
}

func TestPredictionHypotheses(t *testing.T) {
	base := BoundInputs{FStar: 0.01, Eps: 0.05, Distance: 0.3, InitialLoss: 0.7, Eta: 0.1, Steps: 10, Samples: 50,
		InitialMargins: []float64{0.1, -0.2, 0.3}, OutputBound: 2}
	// L = 4/4 + 0.05 = 1.05; r = sqrt(2 * 0.1 * 10 * 0.7) = 1.183; kappa (r+D)^2 = 0.11.
	for _, tc := range []struct {
		name      string
		edit      func(*BoundInputs)
		kappa     float64
		path      float64 // measured max distance; NaN: not measured
		tokens    float64 // measured held-out token norm; NaN: not checked
		trainOK   bool
		testOK    bool
		firstFail string // the hypothesis Reason names
	}{
		{"all hold", nil, 0.05, 1.0, 0.9, true, true, ""},
		{"tokens unchecked", nil, 0.05, 1.0, math.NaN(), true, false, HypTokenSupport},
		{"path not measured but proved", nil, 0.05, math.NaN(), 0.9, true, true, ""},
		{"path leaves the ball", nil, 0.05, 1.5, 0.9, false, false, HypPath},
		{"step too large", func(in *BoundInputs) { in.Eta = 1 }, 0.05, math.NaN(), 0.9, false, false, HypDescent},
		{"too few heads", nil, 0.5, 1.0, 0.9, false, false, HypHeads},
		{"not realizable", func(in *BoundInputs) { in.FStar = 0.5 }, 0.05, 1.0, 0.9, false, false, HypRealizable},
		{"no margins", func(in *BoundInputs) { in.InitialMargins = nil }, 0.05, 1.0, 0.9, true, false, HypStability},
		{"no output bound", func(in *BoundInputs) { in.OutputBound = 0 }, 0.05, 1.0, 0.9, true, false, HypNeighbours},
		{"large initial losses: stability fails", func(in *BoundInputs) { in.InitialMargins = []float64{-20, -25} }, 0.05, 1.0, 0.9, true, false, HypStability},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base
			if tc.edit != nil {
				tc.edit(&in)
			}
			p := NewBounds(in, fixedConstants(2, tc.kappa))
			if !math.IsNaN(tc.path) {
				p.CheckPath(tc.path)
			}
			if !math.IsNaN(tc.tokens) {
				p.CheckTokenNorm(tc.tokens)
			}
			if p.TrainValid() != tc.trainOK || p.TestValid() != tc.testOK || p.Valid() != tc.testOK {
				t.Fatalf("train valid %v, test valid %v; want %v, %v\n%v", p.TrainValid(), p.TestValid(), tc.trainOK, tc.testOK, p.Hypotheses)
			}
			if got := p.Reason(); (tc.firstFail == "") != (got == "") || !strings.HasPrefix(got, tc.firstFail) {
				t.Errorf("reason %q, want it to name %q", got, tc.firstFail)
			}
			if len(p.Hypotheses.Failing(ForTest)) == 0 == !tc.testOK {
				t.Errorf("Failing lists %v", p.Hypotheses.Failing(ForTest))
			}
		})
	}
}

func TestPredictionFormulas(t *testing.T) {
	in := BoundInputs{FStar: 0.01, Eps: 0.05, Distance: 0.3, InitialLoss: 0.7, Eta: 0.1, Steps: 10, Samples: 50,
		InitialMargins: []float64{0.1, -0.2, 0.3}, OutputBound: 2}
	p := NewBounds(in, fixedConstants(2, 0.05))
	r := math.Sqrt(2 * 0.1 * 10 * 0.7)
	if math.Abs(p.PathRadius-r) > 1e-15 || math.Abs(p.SegmentRadius-(r+0.1*2*0.7)) > 1e-15 {
		t.Errorf("radii %v, %v", p.PathRadius, p.SegmentRadius)
	}
	a := 0.05 * (r + 0.3) * (r + 0.3)
	b := (a / 2) / (1 - a/8)
	want := (1+b)/(1-b)*0.01 + (0.09/(2*0.1)+b*0.7)/((1-b)*7)
	if got := p.Train(7); math.Abs(got-want) > 1e-14 {
		t.Errorf("Train(7) = %v, want %v", got, want)
	}
	// Convex limit (kappa = 0): the classical F* + D^2 / (2 eta K).
	q := NewBounds(in, fixedConstants(2, 0))
	if got, want := q.Train(7), 0.01+0.09/(2*0.1*7); math.Abs(got-want) > 1e-15 {
		t.Errorf("convex Train(7) = %v, want %v", got, want)
	}
	f0n := 0.7 + math.Log1p(math.Exp(2))/50
	rs := math.Sqrt(2 * 0.1 * 10 * f0n)
	var fbar float64
	for _, z := range in.InitialMargins {
		fbar += math.Log1p(math.Exp(-(z - 2*rs))) / 3
	}
	sum := 0.1*0.7 + (0.1*7*(1+b)*0.01+0.1*b*0.7+0.09/2)/(1-b)
	wantGap := math.Exp(0.1*7*0.05*fbar) * 4 / 50 * (0.1*7 + sum)
	if got := p.Gap(7, 50); math.Abs(got-wantGap) > 1e-12*wantGap {
		t.Errorf("Gap(7, 50) = %v, want %v", got, wantGap)
	}
	if got := p.Test(7, 50); math.Abs(got-(p.Train(7)+wantGap)) > 1e-12 {
		t.Errorf("Test = %v", got)
	}
	if a, c := p.TrainCoefficients(); math.Abs(a+c/7-p.Train(7)) > 1e-15 {
		t.Errorf("coefficients %v + %v/7 != Train(7) = %v", a, c, p.Train(7))
	}
	if !math.IsInf(p.Train(0), 1) {
		t.Error("Train(0) should be +Inf")
	}
	huge := NewBounds(in, fixedConstants(2, 5)) // kappa (r+D)^2 > 8/5: nothing proved
	if !math.IsInf(huge.Train(7), 1) || huge.TrainValid() {
		t.Errorf("kappa (r+D)^2 = %v: Train %v, valid %v", huge.Convexity, huge.Train(7), huge.TrainValid())
	}
}

// TestTrainingBoundHoldsWhenValid runs GD with the theory step and checks
// F(theta_k) <= Train(k) at every step whenever the hypotheses hold. With
// U only (Phi linear, kappa = 0) they must hold; for U and W the test
// reports which one fails.
func TestTrainingBoundHoldsWhenValid(t *testing.T) {
	mix := datasets.DefaultMixture()
	mix.Train = 48
	data, _, err := mix.Generate()
	if err != nil {
		t.Fatal(err)
	}
	const steps = 200
	for _, tc := range []struct {
		c         layers.Config
		wantValid bool
	}{
		{layers.Config{Heads: 4, Tokens: data.T, Dim: data.D, Train: layers.TrainU}, true},
		{layers.Config{Heads: 4, Tokens: data.T, Dim: data.D}, false},
	} {
		t.Run("train"+tc.c.Train, func(t *testing.T) {
			c := tc.c
			p0, err := layers.NewParams(arch(c), layers.DefaultInit())
			if err != nil {
				t.Fatal(err)
			}
			st, err := TheoryStepSize(arch(c), p0, data, steps)
			if err != nil {
				t.Fatal(err)
			}
			k, err := NewNTK(arch(c), p0, data)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := Realize(arch(c), p0, data, k, k.Margin(), 0.05)
			if err != nil {
				t.Fatal(err)
			}
			r := TokenNorm(data)
			pred := NewPrediction(cert, st.Eta, steps, func(rad float64) Constants { return ConstantsOverBall(c, p0, r, rad) }, OutputBound(c, p0, r))
			m, err := graph.NewModel(arch(c), p0, data)
			if err != nil {
				t.Fatal(err)
			}
			theta0 := p0.Trainable(arch(c), nil)
			var losses []float64
			maxDist := 0.0
			_, err = graph.GD{StepSize: st.Eta, Steps: steps}.Run(m, graph.RecorderFunc(func(pr graph.Progress) error {
				losses = append(losses, pr.Loss)
				maxDist = math.Max(maxDist, norm2(sub(m.Params().Trainable(arch(c), nil), theta0)))
				return nil
			}))
			if err != nil {
				t.Fatal(err)
			}
			pred.CheckPath(maxDist)
			t.Logf("eta %.4g, r %.4g, measured path %.4g, D %.4g, F* %.4g, kappa (r+D)^2 %.4g, train bound at K %.4g vs F(theta_K) %.4g",
				st.Eta, pred.PathRadius, maxDist, cert.Distance, cert.Loss, pred.Convexity, pred.Train(steps), losses[len(losses)-1])
			t.Logf("train valid %v: %s", pred.TrainValid(), pred.TrainReason())
			if pred.TrainValid() != tc.wantValid {
				t.Fatalf("train valid %v, want %v:\n%v", pred.TrainValid(), tc.wantValid, pred.Hypotheses)
			}
			if !pred.TrainValid() {
				return
			}
			for step, f := range losses {
				if step > 0 && f > pred.Train(step)*(1+1e-12) {
					t.Fatalf("step %d: F = %v above the valid bound %v", step, f, pred.Train(step))
				}
			}
		})
	}
}

func TestHypothesesJSON(t *testing.T) {
	p := NewBounds(BoundInputs{FStar: 0.01, Eps: 0.05, Distance: 0.3, InitialLoss: 0.7, Eta: 0.1, Steps: 10, Samples: 50}, fixedConstants(2, 0.05))
	out, err := json.Marshal(p.Hypotheses)
	if err != nil {
		t.Fatal(err)
	}
	var back []map[string]any
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != len(p.Hypotheses) || back[0]["holds"] != "holds" || back[0]["name"] != HypDescent {
		t.Errorf("round trip: %s", out)
	}
	for i, h := range back {
		if math.IsNaN(p.Hypotheses[i].Value) && h["value"] != nil {
			t.Errorf("NaN value written as %v", h["value"])
		}
	}
}

func ExamplePrediction() {
	in := BoundInputs{FStar: 0.01, Eps: 0.05, Distance: 0.3, InitialLoss: 0.7, Eta: 1, Steps: 10, Samples: 50}
	p := NewBounds(in, fixedConstants(2, 0.05))
	fmt.Println(p.TrainValid())
	fmt.Println(p.Reason())
	// Output:
	// false
	// eta L(rho) <= 1: fails (eta = 1, L = 1.05 over the ball of radius rho = 5.142 that holds every GD segment)
}

// sampleOf returns sample i of data as a one-sample dataset.
func sampleOf(data *datasets.Dataset, i int) *datasets.Dataset {
	w := data.T * data.D
	return &datasets.Dataset{N: 1, T: data.T, D: data.D, X: append([]float64(nil), data.X[i*w:(i+1)*w]...), Y: []float64{data.Y[i]}}
}

// withSample returns data with sample i replaced by the one sample of z.
func withSample(data *datasets.Dataset, i int, z *datasets.Dataset) *datasets.Dataset {
	out := *data
	w := data.T * data.D
	out.X = append([]float64(nil), data.X...)
	out.Y = append([]float64(nil), data.Y...)
	copy(out.X[i*w:(i+1)*w], z.X)
	out.Y[i] = z.Y[0]
	return &out
}

// TestStabilityRecursionHolds checks the deterministic core of the test
// bound's proof on every replace-one path: when the hypotheses (G1) and
// (G2) hold, the paths stay within r' and
//
//	||theta_K - theta_K^(i)|| <= exp(eta K kappa' Fbar) (eta G' / n) sum_{k<K} (1 + l(theta_k^(i); z_i')).
//
// Tokens have norm <= R by construction, so (G3) holds for the replacements.
func TestStabilityRecursionHolds(t *testing.T) {
	c := layers.Config{Heads: 2, Tokens: 3, Dim: 2}
	const n, steps, R, shrink = 6, 20, 0.5, 30
	in := randomInstance(t, c, n, R, 61)
	fresh := randomInstance(t, c, n, R, 62).data // replacements z_i', same law
	p0 := in.p
	ev, err := graph.NewEvaluator(arch(c), in.data)
	if err != nil {
		t.Fatal(err)
	}
	e0, err := ev.Evaluate(p0)
	if err != nil {
		t.Fatal(err)
	}
	margins := ev.Phi()
	for i := range margins {
		margins[i] *= in.data.Y[i]
	}
	b0 := OutputBound(c, p0, R)
	constants := func(rad float64) Constants { return ConstantsOverBall(c, p0, R, rad) }
	// A fraction of the theory step for the worst neighbour's initial loss,
	// so that (G1) and (G2) hold.
	f0n := e0.Loss + math.Log1p(math.Exp(b0))/n
	st, err := StepSizeFor(c, p0, R, f0n, steps)
	if err != nil {
		t.Fatal(err)
	}
	st.Eta /= shrink
	pred := NewBounds(BoundInputs{InitialLoss: e0.Loss, Eta: st.Eta, Steps: steps, Samples: n, InitialMargins: margins, OutputBound: b0}, constants)
	pred.CheckTokenNorm(TokenNorm(fresh))
	for _, name := range []string{HypNeighbours, HypStability, HypTokenSupport} {
		if h := pred.hypothesis(name); h.Holds != Holds {
			t.Fatalf("test setup: %v", h)
		}
	}
	theta0 := p0.Trainable(arch(c), nil)
	run := func(data *datasets.Dataset, extra *graph.Evaluator) (paths [][]float64, extraLoss []float64) {
		m, err := graph.NewModel(arch(c), p0, data)
		if err != nil {
			t.Fatal(err)
		}
		_, err = graph.GD{StepSize: st.Eta, Steps: steps}.Run(m, graph.RecorderFunc(func(pr graph.Progress) error {
			paths = append(paths, m.Params().Trainable(arch(c), nil))
			if extra != nil {
				e, err := extra.Evaluate(m.Params())
				if err != nil {
					return err
				}
				extraLoss = append(extraLoss, e.Loss)
			}
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		return paths, extraLoss
	}
	base, _ := run(in.data, nil)
	worst := 0.0
	for i := 0; i < n; i++ {
		z := sampleOf(fresh, i)
		zev, err := graph.NewEvaluator(arch(c), z)
		if err != nil {
			t.Fatal(err)
		}
		other, lz := run(withSample(in.data, i, z), zev)
		var sum float64
		for k := 0; k < steps; k++ {
			sum += 1 + lz[k]
			for _, th := range [][]float64{base[k], other[k]} {
				if d := norm2(sub(th, theta0)); d > pred.StabilityRadius {
					t.Fatalf("sample %d step %d: a path is %v from theta_0, outside r' = %v", i, k, d, pred.StabilityRadius)
				}
			}
		}
		bound := math.Exp(st.Eta*steps*pred.StabilityKappa*pred.LossCeiling) * st.Eta * pred.Lipschitz / n * sum
		got := norm2(sub(base[steps], other[steps]))
		if got > bound {
			t.Errorf("sample %d: ||theta_K - theta_K^(i)|| = %v above the stability bound %v", i, got, bound)
		}
		worst = math.Max(worst, got/bound)
	}
	t.Logf("eta %.4g, r' %.4g, exp factor %.4g: largest distance / bound %.3g", st.Eta, pred.StabilityRadius,
		math.Exp(st.Eta*steps*pred.StabilityKappa*pred.LossCeiling), worst)
}
