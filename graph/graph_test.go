package graph

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
	"gonum.org/v1/gonum/diff/fd"
)

// variants lists every architecture choice the graph must get right.
func variants() []layers.Config {
	var out []layers.Config
	for _, q := range []string{layers.AllToken, layers.FirstToken} {
		for _, s := range []string{layers.InvSqrtHeads, layers.InvHeads} {
			for _, tr := range []string{layers.TrainUW, layers.TrainU, layers.TrainW} {
				for _, h := range []int{1, 3} {
					for _, e := range []string{layers.EngineFused, layers.EngineComposed} {
						out = append(out, layers.Config{Heads: h, Tokens: 4, Dim: 3, Query: q, Scale: s, Train: tr, Engine: e})
					}
				}
			}
		}
	}
	return out
}

func name(c layers.Config) string {
	return fmt.Sprintf("%s/%s/%s/%s/H%d/%s", c.KindName(), c.Query, c.Scale, c.Train, c.Heads, c.Engine)
}

// randomData draws n Gaussian sequences with random +-1 labels.
func randomData(n, T, d int, seed uint64) *datasets.Dataset {
	rng := rand.New(rand.NewPCG(seed, 7))
	ds := &datasets.Dataset{N: n, T: T, D: d, X: make([]float64, n*T*d), Y: make([]float64, n), Mask: make([]bool, n*T)}
	for i := range ds.X {
		ds.X[i] = rng.NormFloat64()
	}
	for i := range ds.Y {
		ds.Y[i] = float64(2*rng.IntN(2) - 1)
		ds.Mask[i*T] = true
	}
	return ds
}

func randomParams(t testing.TB, c layers.Config, seed uint64) *layers.Params {
	t.Helper()
	p, err := layers.NewParams(arch(t, c), layers.Init{Scheme: layers.InitRandom, UNorm: 1.5, WNorm: 2, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newModel(t testing.TB, c layers.Config, p *layers.Params, data *datasets.Dataset) *Model {
	t.Helper()
	m, err := NewModel(arch(t, c), p, data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func relDiff(a, b []float64) float64 {
	var num, den float64
	for i := range a {
		num += (a[i] - b[i]) * (a[i] - b[i])
		den += b[i] * b[i]
	}
	return math.Sqrt(num) / math.Max(math.Sqrt(den), 1e-300)
}

func TestGraphMatchesReferenceLoop(t *testing.T) {
	data := randomData(5, 4, 3, 1)
	for _, c := range variants() {
		t.Run(name(c), func(t *testing.T) {
			p := randomParams(t, c, 2)
			m := newModel(t, c, p, data)
			ev, err := m.Evaluate()
			if err != nil {
				t.Fatal(err)
			}
			wantLoss, wantGrad := refRisk(c, p, data)
			if math.Abs(ev.Loss-wantLoss) > 1e-13*wantLoss {
				t.Errorf("loss: graph %.17g, reference %.17g", ev.Loss, wantLoss)
			}
			if d := relDiff(m.Gradient(nil), wantGrad); d > 1e-12 {
				t.Errorf("gradient differs from the reference by %.3g (relative)", d)
			}
			phi := m.Phi()
			for i := range phi {
				want, _, _ := refPhiGrad(c, p, data, i)
				if math.Abs(phi[i]-want) > 1e-13*math.Max(1, math.Abs(want)) {
					t.Errorf("Phi[%d]: graph %v, reference %v", i, phi[i], want)
				}
			}
		})
	}
}

func TestGradientFiniteDifferences(t *testing.T) {
	data := randomData(4, 4, 3, 3)
	for _, c := range variants() {
		t.Run(name(c), func(t *testing.T) {
			p := randomParams(t, c, 4)
			m := newModel(t, c, p, data)
			if _, err := m.Evaluate(); err != nil {
				t.Fatal(err)
			}
			got := m.Gradient(nil)
			theta := p.Trainable(arch(t, c), nil)
			q := p.Clone()
			risk := func(x []float64) float64 {
				q.SetTrainable(arch(t, c), x)
				if err := m.SetParams(q); err != nil {
					t.Fatal(err)
				}
				ev, err := m.Evaluate()
				if err != nil {
					t.Fatal(err)
				}
				return ev.Loss
			}
			want := fd.Gradient(nil, risk, theta, &fd.Settings{Formula: fd.Central, Step: 1e-5})
			if d := relDiff(got, want); d > 1e-6 {
				t.Errorf("gradient vs central differences: relative error %.3g", d)
			}
		})
	}
}

func TestSaturatedAttentionStaysExact(t *testing.T) {
	c := layers.Config{Heads: 2, Tokens: 4, Dim: 3}
	data := randomData(3, 4, 3, 5)
	// Sequence 0 gets tokens of norm ~100, so with W of norm ~3 its logits
	// reach the thousands while the other sequences' stay O(1).
	for k := 0; k < 4*3; k++ {
		data.X[k] *= 60
	}
	p := randomParams(t, c, 6)
	m := newModel(t, c, p, data)
	ev, err := m.Evaluate()
	if err != nil {
		t.Fatal(err)
	}
	wantLoss, wantGrad := refRisk(c, p, data)
	if math.IsNaN(ev.Loss) || math.Abs(ev.Loss-wantLoss) > 1e-12*wantLoss {
		t.Fatalf("loss: graph %v, reference %v", ev.Loss, wantLoss)
	}
	if d := relDiff(m.Gradient(nil), wantGrad); !(d < 1e-10) {
		t.Fatalf("gradient differs from the reference by %.3g", d)
	}
	// The logits really are large.
	var peak float64
	for s := 0; s < 4; s++ {
		peak = math.Max(peak, math.Abs(bilinear(token(data, 0, 0), p.Get("W")[:9], token(data, 0, s))))
	}
	if peak < 700 {
		t.Fatalf("test setup: largest logit %v, want > 700", peak)
	}
}

func TestSampleGradientsMatchReference(t *testing.T) {
	data := randomData(5, 4, 3, 8)
	for _, c := range variants() {
		t.Run(name(c), func(t *testing.T) {
			p := randomParams(t, c, 9)
			sg, err := NewSampleGradients(arch(t, c))
			if err != nil {
				t.Fatal(err)
			}
			got, err := sg.Compute(p, data, nil)
			if err != nil {
				t.Fatal(err)
			}
			width := layers.NumTrainable(arch(t, c))
			for i := 0; i < data.N; i++ {
				_, gU, gW := refPhiGrad(c, p, data, i)
				want := refTheta(c, gU, gW)
				if d := relDiff(got[i*width:(i+1)*width], want); d > 1e-12 {
					t.Errorf("sample %d: per-sample gradient differs by %.3g", i, d)
				}
			}
		})
	}
}

func TestHessVecMatchesFiniteDifferenceHessian(t *testing.T) {
	data := randomData(4, 3, 2, 10)
	for _, c := range []layers.Config{
		{Heads: 2, Tokens: 3, Dim: 2},
		{Heads: 1, Tokens: 3, Dim: 2, Query: layers.FirstToken, Train: layers.TrainW},
		{Heads: 3, Tokens: 3, Dim: 2, Scale: layers.InvHeads, Train: layers.TrainU},
	} {
		t.Run(name(c), func(t *testing.T) {
			p := randomParams(t, c, 11)
			m := newModel(t, c, p, data)
			theta := p.Trainable(arch(t, c), nil)
			// The oracle: the Jacobian of the reference gradient by central
			// differences, then multiplied by v.
			q := p.Clone()
			grad := func(dst, x []float64) {
				q.SetTrainable(arch(t, c), x)
				_, g := refRisk(c, q, data)
				copy(dst, g)
			}
			P := len(theta)
			hess := make([]float64, P*P)
			jac := fdJacobian(grad, theta, P)
			copy(hess, jac)
			rng := rand.New(rand.NewPCG(12, 0))
			v := make([]float64, P)
			for i := range v {
				v[i] = rng.NormFloat64()
			}
			want := make([]float64, P)
			for i := 0; i < P; i++ {
				for j := 0; j < P; j++ {
					want[i] += hess[i*P+j] * v[j]
				}
			}
			before := m.Params()
			got, err := m.HessVec(v, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := relDiff(got, want); d > 1e-6 {
				t.Errorf("Hv differs from the finite-difference Hessian by %.3g", d)
			}
			after := m.Params()
			if relDiff(after.Get("U"), before.Get("U")) != 0 || relDiff(after.Get("W"), before.Get("W")) != 0 {
				t.Errorf("HessVec changed the parameters")
			}
		})
	}
}

// fdJacobian is the central-difference Jacobian of g at x, row-major.
func fdJacobian(g func(dst, x []float64), x []float64, m int) []float64 {
	n := len(x)
	jac := make([]float64, m*n)
	plus, minus := make([]float64, m), make([]float64, m)
	xx := append([]float64(nil), x...)
	const h = 1e-5
	for j := 0; j < n; j++ {
		xx[j] = x[j] + h
		g(plus, xx)
		xx[j] = x[j] - h
		g(minus, xx)
		xx[j] = x[j]
		for i := 0; i < m; i++ {
			jac[i*n+j] = (plus[i] - minus[i]) / (2 * h)
		}
	}
	return jac
}

// separableToy is a problem a single head solves: the label is the sign of
// the first coordinate of the first token.
func separableToy(n int) *datasets.Dataset {
	data := randomData(n, 3, 2, 13)
	for i := 0; i < n; i++ {
		x := token(data, i, 0)
		if x[0] == 0 {
			x[0] = 1
		}
		data.Y[i] = math.Copysign(1, x[0])
	}
	return data
}

func TestGDDecreasesLossMonotonically(t *testing.T) {
	c := layers.Config{Heads: 2, Tokens: 3, Dim: 2}
	data := separableToy(32)
	m := newModel(t, c, randomParams(t, c, 14), data)
	var losses []float64
	final, err := GD{StepSize: 0.05, Steps: 200}.Run(m, RecorderFunc(func(p Progress) error {
		losses = append(losses, p.Loss)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(losses) != 201 || final.Step != 200 {
		t.Fatalf("recorded %d states ending at step %d, want 201 ending at 200", len(losses), final.Step)
	}
	for k := 1; k < len(losses); k++ {
		if !(losses[k] < losses[k-1]) {
			t.Fatalf("loss rose at step %d: %v -> %v", k, losses[k-1], losses[k])
		}
	}
	if losses[200] > 0.8*losses[0] {
		t.Errorf("loss fell only from %v to %v", losses[0], losses[200])
	}
}

func TestGDStepsMatchReference(t *testing.T) {
	c := layers.Config{Heads: 3, Tokens: 4, Dim: 3, Query: layers.FirstToken, Scale: layers.InvHeads}
	data := randomData(6, 4, 3, 15)
	p := randomParams(t, c, 16)
	m := newModel(t, c, p, data)
	const eta = 0.3
	ref := p.Clone()
	theta := ref.Trainable(arch(t, c), nil)
	for k := 0; k < 5; k++ {
		ev, err := m.Step(eta)
		if err != nil {
			t.Fatal(err)
		}
		loss, grad := refRisk(c, ref, data)
		if math.Abs(ev.Loss-loss) > 1e-12*loss {
			t.Fatalf("step %d: loss %v, reference %v", k, ev.Loss, loss)
		}
		for i := range theta {
			theta[i] -= eta * grad[i]
		}
		ref.SetTrainable(arch(t, c), theta)
	}
	got := m.Params().Trainable(arch(t, c), nil)
	if d := relDiff(got, theta); d > 1e-12 {
		t.Errorf("parameters after 5 steps differ from the reference by %.3g", d)
	}
}

func TestEvaluatorLeavesTrainingUntouched(t *testing.T) {
	c := layers.Config{Heads: 2, Tokens: 4, Dim: 3}
	train, test := randomData(8, 4, 3, 17), randomData(5, 4, 3, 18)
	p := randomParams(t, c, 19)
	run := func(withEval bool) []float64 {
		m := newModel(t, c, p, train)
		ev, err := NewEvaluator(arch(t, c), test)
		if err != nil {
			t.Fatal(err)
		}
		var losses []float64
		_, err = GD{StepSize: 0.1, Steps: 10}.Run(m, RecorderFunc(func(pr Progress) error {
			losses = append(losses, pr.Loss)
			if withEval {
				e, err := ev.Evaluate(m.Params())
				losses = append(losses, e.Loss)
				return err
			}
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		return losses
	}
	plain, interleaved := run(false), run(true)
	for k := range plain {
		if plain[k] != interleaved[2*k] {
			t.Fatalf("step %d: training loss %v without evaluation, %v with", k, plain[k], interleaved[2*k])
		}
	}
	// The evaluator agrees with the reference on its own data.
	ev, _ := NewEvaluator(arch(t, c), test)
	e, err := ev.Evaluate(p)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := refRisk(c, p, test)
	if math.Abs(e.Loss-want) > 1e-13*want {
		t.Errorf("test loss %v, reference %v", e.Loss, want)
	}
	wrong := 0
	for i := 0; i < test.N; i++ {
		phi, _, _ := refPhiGrad(c, p, test, i)
		if test.Y[i]*phi <= 0 {
			wrong++
		}
	}
	if e.Error != float64(wrong)/float64(test.N) {
		t.Errorf("test error %v, reference %v", e.Error, float64(wrong)/float64(test.N))
	}
}

func TestRelevantMass(t *testing.T) {
	c := layers.Config{Heads: 2, Tokens: 4, Dim: 3}
	data := randomData(3, 4, 3, 20)
	p := randomParams(t, c, 21)
	ev, err := NewEvaluator(arch(t, c), data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Evaluate(p); err != nil {
		t.Fatal(err)
	}
	// randomData marks token 0 relevant: the mass is the mean attention on key 0.
	var want float64
	for i := 0; i < 3; i++ {
		for h := 0; h < 2; h++ {
			for r := 0; r < 4; r++ {
				logits := make([]float64, 4)
				for s := range logits {
					logits[s] = bilinear(token(data, i, r), p.Get("W")[h*9:(h+1)*9], token(data, i, s))
				}
				want += refSoftmax(logits)[0] / 24
			}
		}
	}
	if got := ev.RelevantMass(); math.Abs(got-want) > 1e-14 {
		t.Errorf("relevant mass %v, want %v", got, want)
	}
}

func TestBadInputNamesTheField(t *testing.T) {
	good := layers.Config{Heads: 2, Tokens: 4, Dim: 3}
	data := randomData(3, 4, 3, 22)
	p := randomParams(t, good, 23)
	cases := []struct {
		name string
		err  func() error
		want []string
	}{
		{"heads", func() error { return layers.Config{Heads: 0, Tokens: 4, Dim: 3}.Validate() }, []string{"heads = 0", ">= 1"}},
		{"tokens", func() error { return layers.Config{Heads: 1, Tokens: 0, Dim: 3}.Validate() }, []string{"tokens = 0", ">= 1"}},
		{"dim", func() error { return layers.Config{Heads: 1, Tokens: 2, Dim: -1}.Validate() }, []string{"dim = -1", ">= 1"}},
		{"query", func() error { return layers.Config{Heads: 1, Tokens: 2, Dim: 1, Query: "last"}.Validate() }, []string{`query = "last"`, "all-token"}},
		{"eta zero", func() error { return GD{StepSize: 0, Steps: 1}.Validate() }, []string{"eta = 0", "> 0"}},
		{"eta NaN", func() error { return GD{StepSize: math.NaN(), Steps: 1}.Validate() }, []string{"eta = NaN", "finite"}},
		{"eta Inf", func() error { return GD{StepSize: math.Inf(1), Steps: 1}.Validate() }, []string{"eta = +Inf", "finite"}},
		{"steps", func() error { return GD{StepSize: 1, Steps: -1}.Validate() }, []string{"steps K = -1", ">= 0"}},
		{"data T", func() error {
			_, err := NewModel(arch(t, good), p, randomData(3, 5, 3, 1))
			return err
		}, []string{"T = 5", "tokens = 4"}},
		{"data d", func() error {
			_, err := NewModel(arch(t, good), p, randomData(3, 4, 2, 1))
			return err
		}, []string{"d = 2", "dim = 3"}},
		{"label", func() error {
			bad := randomData(3, 4, 3, 1)
			bad.Y[1] = 0
			_, err := NewModel(arch(t, good), p, bad)
			return err
		}, []string{"Y[1] = 0", "-1 or +1"}},
		{"label 2", func() error {
			bad := randomData(3, 4, 3, 1)
			bad.Y[2] = 2
			_, err := NewEvaluator(arch(t, good), bad)
			return err
		}, []string{"Y[2] = 2", "-1 or +1"}},
		{"params shape", func() error {
			_, err := NewModel(arch(t, layers.Config{Heads: 3, Tokens: 4, Dim: 3}), p, data)
			return err
		}, []string{"U [2 4 3]", "U [3 4 3]"}},
		{"run", func() error {
			_, err := GD{StepSize: -1, Steps: 3}.Run(newModel(t, good, p, data), nil)
			return err
		}, []string{"eta = -1"}},
		{"resume eta", func() error {
			_, err := GD{StepSize: 0, Steps: 3}.RunFrom(newModel(t, good, p, data), 1, nil)
			return err
		}, []string{"eta = 0"}},
		{"resume step", func() error {
			_, err := GD{StepSize: 1, Steps: 3}.RunFrom(newModel(t, good, p, data), 4, nil)
			return err
		}, []string{"first step 4", "[0, K = 3]"}},
	}
	for _, tc := range cases {
		err := tc.err()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tc.name, err, w)
			}
		}
	}
}

func TestDivergenceReportsTheStep(t *testing.T) {
	c := layers.Config{Heads: 1, Tokens: 3, Dim: 2}
	data := separableToy(16)
	m := newModel(t, c, randomParams(t, c, 24), data)
	_, err := GD{StepSize: 1e6, Steps: 50}.Run(m, nil)
	var div *DivergedError
	if !errors.As(err, &div) {
		t.Fatalf("eta = 1e6: got %v, want a DivergedError", err)
	}
	if div.Step < 1 || div.Step > 50 || !strings.Contains(err.Error(), fmt.Sprintf("step %d", div.Step)) {
		t.Errorf("divergence reported at step %d: %v", div.Step, err)
	}
}

func TestDeterministic(t *testing.T) {
	c := layers.Config{Heads: 3, Tokens: 4, Dim: 3}
	data := randomData(6, 4, 3, 25)
	run := func() []float64 {
		m := newModel(t, c, randomParams(t, c, 26), data)
		if _, err := (GD{StepSize: 0.2, Steps: 20}).Run(m, nil); err != nil {
			t.Fatal(err)
		}
		return m.Params().Trainable(arch(t, c), nil)
	}
	a, b := run(), run()
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			t.Fatalf("theta[%d]: %v then %v", i, a[i], b[i])
		}
	}
}

func TestSaveLoadParams(t *testing.T) {
	for _, c := range []layers.Config{{Heads: 2, Tokens: 4, Dim: 3}, {Heads: 3, Tokens: 4, Dim: 3, Query: layers.FirstToken}} {
		p := randomParams(t, c, 27)
		dir := t.TempDir()
		if err := SaveParams(dir, arch(t, c), p); err != nil {
			t.Fatal(err)
		}
		q, err := LoadParams(dir, arch(t, c))
		if err != nil {
			t.Fatal(err)
		}
		if relDiff(q.Get("U"), p.Get("U")) != 0 || relDiff(q.Get("W"), p.Get("W")) != 0 {
			t.Errorf("%s: parameters changed in the round trip", name(c))
		}
		other := c
		other.Heads++
		if _, err := LoadParams(dir, arch(t, other)); err == nil || !strings.Contains(err.Error(), "needs U") {
			t.Errorf("%s: loading into %d heads: %v, want a shape error", name(c), other.Heads, err)
		}
	}
}

func TestAllocationsPerStepDoNotGrow(t *testing.T) {
	for _, engine := range []string{layers.EngineFused, layers.EngineComposed} {
		c := layers.Config{Heads: 4, Tokens: 4, Dim: 3, Engine: engine}
		m := newModel(t, c, randomParams(t, c, 28), randomData(16, 4, 3, 29))
		step := func() {
			if _, err := m.Step(1e-3); err != nil {
				t.Fatal(err)
			}
		}
		early := testing.AllocsPerRun(20, step)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < 200; i++ {
			step()
		}
		runtime.ReadMemStats(&after)
		late := testing.AllocsPerRun(20, step)
		if late > early {
			t.Errorf("%s: allocations per step grew from %v to %v", engine, early, late)
		}
		// The graph's buffers are allocated once: what a step allocates is
		// Gorgonia's bookkeeping, independent of the batch's size.
		if perStep := (after.TotalAlloc - before.TotalAlloc) / 200; perStep > 64<<10 {
			t.Errorf("%s: %d bytes allocated per step", engine, perStep)
		}
	}
}
