package graph

import (
	"math"
	"testing"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
	"gonum.org/v1/gonum/diff/fd"
)

// The composition of blocks is the definition of the paper's model; the
// fused op is an optimization of it. Both must agree to rounding in every
// quantity the framework computes, saturated attention included.
func TestFusedEqualsComposed(t *testing.T) {
	normal := randomData(5, 4, 3, 31)
	saturated := randomData(5, 4, 3, 31)
	for k := 0; k < 4*3; k++ {
		saturated.X[k] *= 60 // logits of sequence 0 in the thousands
	}
	for _, c := range variants() {
		if c.Engine != layers.EngineFused {
			continue
		}
		composed := c
		composed.Engine = layers.EngineComposed
		for _, data := range []*datasets.Dataset{normal, saturated} {
			t.Run(name(c), func(t *testing.T) {
				p := randomParams(t, c, 32)
				a, b := newModel(t, c, p, data), newModel(t, composed, p, data)
				ea, err := a.Evaluate()
				if err != nil {
					t.Fatal(err)
				}
				eb, err := b.Evaluate()
				if err != nil {
					t.Fatal(err)
				}
				if d := math.Abs(ea.Loss-eb.Loss) / eb.Loss; !(d <= 1e-12) {
					t.Errorf("loss: fused %.17g, composed %.17g", ea.Loss, eb.Loss)
				}
				if d := relDiff(a.Gradient(nil), b.Gradient(nil)); !(d <= 1e-12) {
					t.Errorf("gradient differs by %.3g", d)
				}
				if d := relDiff(a.Phi(), b.Phi()); !(d <= 1e-12) {
					t.Errorf("Phi differs by %.3g", d)
				}
				v := make([]float64, a.NumTrainable())
				for i := range v {
					v[i] = math.Sin(float64(i + 1))
				}
				ha, err := a.HessVec(v, nil)
				if err != nil {
					t.Fatal(err)
				}
				hb, err := b.HessVec(v, nil)
				if err != nil {
					t.Fatal(err)
				}
				// Differences of gradients amplify the gradients' rounding
				// by 1/h ~ 1e5: that is the agreement to expect.
				if d := relDiff(ha, hb); !(d <= 1e-9) {
					t.Errorf("HessVec differs by %.3g", d)
				}
				sa, err := NewSampleGradients(arch(t, c))
				if err != nil {
					t.Fatal(err)
				}
				sb, err := NewSampleGradients(arch(t, composed))
				if err != nil {
					t.Fatal(err)
				}
				ga, err := sa.Compute(p, data, nil)
				if err != nil {
					t.Fatal(err)
				}
				gb, err := sb.Compute(p, data, nil)
				if err != nil {
					t.Fatal(err)
				}
				if d := relDiff(ga, gb); !(d <= 1e-12) {
					t.Errorf("per-sample gradients differ by %.3g", d)
				}
			})
		}
	}
}

// Runs with either engine log the same training losses.
func TestEnginesTrainAlike(t *testing.T) {
	data := separableToy(24)
	c := layers.Config{Heads: 3, Tokens: 3, Dim: 2, Engine: layers.EngineFused}
	losses := map[string][]float64{}
	for _, e := range []string{layers.EngineFused, layers.EngineComposed} {
		c.Engine = e
		m := newModel(t, c, randomParams(t, c, 33), data)
		_, err := GD{StepSize: 0.5, Steps: 100}.Run(m, RecorderFunc(func(p Progress) error {
			losses[e] = append(losses[e], p.Loss)
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
	}
	for k := range losses[layers.EngineFused] {
		f, g := losses[layers.EngineFused][k], losses[layers.EngineComposed][k]
		if math.Abs(f-g) > 1e-9*g {
			t.Fatalf("step %d: fused loss %.17g, composed %.17g", k, f, g)
		}
	}
}

// kindVariants covers the model kinds beyond the paper's with their
// options.
func kindVariants() []layers.Config {
	var out []layers.Config
	for _, kind := range []string{layers.KindKQ, layers.KindReLU, layers.KindValue} {
		for _, q := range []string{layers.AllToken, layers.FirstToken} {
			for _, tr := range []string{layers.TrainUW, layers.TrainU, layers.TrainW} {
				out = append(out, layers.Config{Heads: 2, Tokens: 4, Dim: 3, Query: q, Train: tr, Kind: kind})
			}
		}
	}
	out = append(out,
		layers.Config{Heads: 3, Tokens: 4, Dim: 3, Kind: layers.KindKQ, Rank: 1, Scale: layers.InvHeads},
		layers.Config{Heads: 1, Tokens: 4, Dim: 3, Kind: layers.KindValue, Scale: layers.InvHeads})
	return out
}

func TestKindsGradientFiniteDifferences(t *testing.T) {
	data := randomData(4, 4, 3, 34)
	for _, c := range kindVariants() {
		t.Run(name(c)+"/r"+string(rune('0'+c.Rank)), func(t *testing.T) {
			m := arch(t, c)
			p := randomParams(t, c, 35)
			// value starts at V = I; move it so the test sees a general V.
			if v := p.Get("V"); v != nil {
				for i := range v {
					v[i] += 0.3 * math.Cos(float64(i))
				}
			}
			model := newModel(t, c, p, data)
			if _, err := model.Evaluate(); err != nil {
				t.Fatal(err)
			}
			got := model.Gradient(nil)
			q := p.Clone()
			risk := func(x []float64) float64 {
				q.SetTrainable(m, x)
				if err := model.SetParams(q); err != nil {
					t.Fatal(err)
				}
				ev, err := model.Evaluate()
				if err != nil {
					t.Fatal(err)
				}
				return ev.Loss
			}
			want := fd.Gradient(nil, risk, p.Trainable(m, nil), &fd.Settings{Formula: fd.Central, Step: 1e-5})
			if d := relDiff(got, want); !(d < 1e-6) {
				t.Errorf("gradient vs central differences: relative error %.3g", d)
			}
			// Per-sample gradients of Phi against central differences of Phi.
			sg, err := NewSampleGradients(m)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := sg.Compute(p, data, nil)
			if err != nil {
				t.Fatal(err)
			}
			width := layers.NumTrainable(m)
			for i := 0; i < data.N; i++ {
				phi := func(x []float64) float64 {
					q.SetTrainable(m, x)
					_ = model.SetParams(q)
					if _, err := model.Evaluate(); err != nil {
						t.Fatal(err)
					}
					return model.Phi()[i]
				}
				want := fd.Gradient(nil, phi, p.Trainable(m, nil), &fd.Settings{Formula: fd.Central, Step: 1e-5})
				if d := relDiff(rows[i*width:(i+1)*width], want); !(d < 1e-6) {
					t.Errorf("sample %d: per-sample gradient vs central differences: %.3g", i, d)
				}
			}
		})
	}
}

// The value model starts as the paper's model, so their Phi agree at
// initialization; kq with Q K^T = W agrees with paper at W.
func TestKindsReduceToThePaperModel(t *testing.T) {
	data := randomData(4, 4, 3, 36)
	paper := layers.Config{Heads: 2, Tokens: 4, Dim: 3}
	p := randomParams(t, paper, 37)
	base := newModel(t, paper, p, data)
	if _, err := base.Evaluate(); err != nil {
		t.Fatal(err)
	}
	value := paper
	value.Kind = layers.KindValue
	pv := randomParams(t, value, 37)
	copy(pv.Get("U"), p.Get("U"))
	copy(pv.Get("W"), p.Get("W"))
	mv := newModel(t, value, pv, data)
	if _, err := mv.Evaluate(); err != nil {
		t.Fatal(err)
	}
	if d := relDiff(mv.Phi(), base.Phi()); d > 1e-13 {
		t.Errorf("value model at V = I differs from the paper's by %.3g", d)
	}
	// kq with Q_h = W_h and K_h = I has W_h = Q_h K_h^T.
	kq := paper
	kq.Kind = layers.KindKQ
	pk := randomParams(t, kq, 37)
	copy(pk.Get("U"), p.Get("U"))
	copy(pk.Get("Q"), p.Get("W"))
	k := pk.Get("K")
	clear(k)
	for h := 0; h < 2; h++ {
		for j := 0; j < 3; j++ {
			k[(h*3+j)*3+j] = 1
		}
	}
	mk := newModel(t, kq, pk, data)
	if _, err := mk.Evaluate(); err != nil {
		t.Fatal(err)
	}
	if d := relDiff(mk.Phi(), base.Phi()); d > 1e-13 {
		t.Errorf("kq with K = I differs from the paper's model by %.3g", d)
	}
}

func TestKindsTrainByGD(t *testing.T) {
	data := separableToy(32)
	for _, kind := range []string{layers.KindKQ, layers.KindReLU, layers.KindValue} {
		c := layers.Config{Heads: 2, Tokens: 3, Dim: 2, Kind: kind}
		m := newModel(t, c, randomParams(t, c, 38), data)
		var first, last float64
		_, err := GD{StepSize: 0.2, Steps: 150}.Run(m, RecorderFunc(func(p Progress) error {
			if p.Step == 0 {
				first = p.Loss
			}
			last = p.Loss
			return nil
		}))
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if !(last < 0.8*first) {
			t.Errorf("%s: loss fell only from %v to %v", kind, first, last)
		}
		ev, err := NewEvaluator(arch(t, c), data)
		if err != nil {
			t.Fatal(err)
		}
		e, err := ev.Evaluate(m.Params())
		if err != nil {
			t.Fatal(err)
		}
		// The last recorded state is theta_K, the parameters GD leaves.
		if math.Abs(e.Loss-last) > 1e-12*last {
			t.Errorf("%s: evaluator on the training set %v, GD's last loss %v", kind, e.Loss, last)
		}
		if !ev.HasWeights() || math.IsNaN(ev.RelevantMass()) {
			t.Errorf("%s: no attention weights", kind)
		}
	}
}
