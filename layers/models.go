package layers

import (
	"fmt"
	"math"

	"github.com/mhattn/mha/layers/ops"
	G "gorgonia.org/gorgonia"
)

// Model kinds this package registers.
const (
	// KindPaper is the paper's model: merged key-query W_h, softmax rows,
	// merged value-readout U_h. Parameters U [H, R, d], W [H, d, d].
	KindPaper = "paper"
	// KindKQ factors each key-query matrix, W_h = Q_h K_h^T with Q_h, K_h
	// in R^{d x r} (r = Config.Rank). Parameters U, Q [H, d, r], K [H, d, r].
	KindKQ = "kq"
	// KindReLU replaces each softmax row by relu(x_t^T W_h x_s) / T.
	// Parameters U, W.
	KindReLU = "relu"
	// KindValue adds a value matrix per head: Phi = scale(H) sum_h
	// <U_h, softmax_rows(X W_h X^T) X V_h>, V_h initialized to the
	// identity, so it starts as the paper's model. Parameters U, W, V [H, d, d].
	KindValue = "value"
)

func init() {
	Register(KindPaper, func(c Config) (Model, error) { return newAttention(c, attentionOptions{}) })
	Register(KindKQ, func(c Config) (Model, error) { return newAttention(c, attentionOptions{factored: true}) })
	Register(KindReLU, func(c Config) (Model, error) { return newAttention(c, attentionOptions{relu: true}) })
	Register(KindValue, func(c Config) (Model, error) { return newAttention(c, attentionOptions{value: true}) })
}

// attentionOptions select the blocks of the single-layer attention family.
type attentionOptions struct {
	factored bool // W_h = Q_h K_h^T
	relu     bool // relu(s)/T instead of the row softmax
	value    bool // a value matrix V_h per head
}

// attention is single-layer multi-head attention with a linear readout,
// composed from the blocks of this package. The paper's model (no option
// set) can also run on the fused op of layers/ops, an accelerated
// implementation of exactly the same composition, tested against it.
type attention struct {
	cfg   Config
	opt   attentionOptions
	fused bool
	specs []ParamSpec
}

// Random-stream identifiers: every parameter draws from its own PCG stream
// of the seed, so a "zero-W" init has the same U as a "random" init of the
// same seed.
const (
	streamU = 0x55
	streamW = 0x57
	streamQ = 0x51
	streamK = 0x4b
)

func newAttention(c Config, opt attentionOptions) (*attention, error) {
	m := &attention{cfg: c, opt: opt}
	plain := opt == attentionOptions{}
	switch c.Engine {
	case EngineFused:
		if !plain {
			return nil, fmt.Errorf("engine = %q: the fused op implements only kind %q; kind %q needs engine %q or %q",
				c.Engine, KindPaper, c.KindName(), EngineAuto, EngineComposed)
		}
		m.fused = true
	case "", EngineAuto:
		m.fused = plain
	}
	h, d, rows := c.Heads, c.Dim, c.Rows()
	readoutFrozen, attentionFrozen := !c.TrainsU(), !c.TrainsW()
	m.specs = append(m.specs, ParamSpec{Name: "U", Shape: []int{h, rows, d}, Frozen: readoutFrozen,
		Init: func(dst []float64, in Init) {
			FillGaussian(dst, in.UNorm/math.Sqrt(float64(rows*d)), in.Seed, streamU)
		}})
	if opt.factored {
		r := c.RankOrDim()
		// Entries N(0, s^2) with d^2 r s^4 = w_norm^2: E||Q_h K_h^T||_F = w_norm
		// as for W_h. zero-W sets K = 0, hence W_h = 0.
		std := func(in Init) float64 { return math.Sqrt(in.WNorm / (float64(d) * math.Sqrt(float64(r)))) }
		m.specs = append(m.specs,
			ParamSpec{Name: "Q", Shape: []int{h, d, r}, Frozen: attentionFrozen,
				Init: func(dst []float64, in Init) {
					FillGaussian(dst, std(in), in.Seed, streamQ)
				}},
			ParamSpec{Name: "K", Shape: []int{h, d, r}, Frozen: attentionFrozen,
				Init: func(dst []float64, in Init) {
					if in.Scheme != InitZeroW {
						FillGaussian(dst, std(in), in.Seed, streamK)
					}
				}})
	} else {
		m.specs = append(m.specs, ParamSpec{Name: "W", Shape: []int{h, d, d}, Frozen: attentionFrozen,
			Init: func(dst []float64, in Init) {
				if in.Scheme != InitZeroW {
					FillGaussian(dst, in.WNorm/float64(d), in.Seed, streamW)
				}
			}})
	}
	if opt.value {
		m.specs = append(m.specs, ParamSpec{Name: "V", Shape: []int{h, d, d}, Frozen: attentionFrozen,
			Init: func(dst []float64, _ Init) {
				for k := 0; k < h; k++ {
					for j := 0; j < d; j++ {
						dst[(k*d+j)*d+j] = 1
					}
				}
			}})
	}
	return m, nil
}

func (m *attention) Config() Config     { return m.cfg }
func (m *attention) Specs() []ParamSpec { return m.specs }
func (m *attention) String() string {
	return fmt.Sprintf("%s attention (fused=%v)", m.cfg.KindName(), m.fused)
}

// Build composes Phi = scale(H) * Readout(Mix(Weights(Scores(Queries)))).
func (m *attention) Build(x *G.Node, params []*G.Node) (*Outputs, error) {
	c := m.cfg
	xs := x.Shape()
	if len(xs) != 3 || xs[1] != c.Tokens || xs[2] != c.Dim {
		return nil, fmt.Errorf("layers: x has shape %v, want [n %d %d]", xs, c.Tokens, c.Dim)
	}
	if len(params) != len(m.specs) {
		return nil, fmt.Errorf("layers: %d parameter nodes, model has %d", len(params), len(m.specs))
	}
	n := xs[0]
	u, w := params[0], params[1]
	var err error
	if m.opt.factored {
		if w, err = FactoredKQ(params[1], params[2]); err != nil {
			return nil, err
		}
	}
	xq, err := QueryTokens(x, c.IsFirstToken())
	if err != nil {
		return nil, err
	}
	var raw, weights *G.Node
	if m.fused {
		raw, weights, err = m.buildFused(x, xq, w, u)
	} else {
		raw, weights, err = m.buildComposed(x, xq, w, u, params, n)
	}
	if err != nil {
		return nil, err
	}
	phi, err := ScaleHeads(raw, c.ScaleFactor())
	if err != nil {
		return nil, err
	}
	return &Outputs{Phi: phi, Weights: weights}, nil
}

func (m *attention) buildComposed(x, xq, w, u *G.Node, params []*G.Node, n int) (raw, weights *G.Node, err error) {
	q, err := Queries(xq, w, n, m.cfg.IsFirstToken())
	if err != nil {
		return nil, nil, err
	}
	s, err := Scores(q, x)
	if err != nil {
		return nil, nil, err
	}
	if m.opt.relu {
		weights, err = ReLUWeights(s)
	} else {
		weights, err = SoftmaxWeights(s)
	}
	if err != nil {
		return nil, nil, err
	}
	var mixed *G.Node
	if m.opt.value {
		mixed, err = MixValues(weights, x, params[len(params)-1])
	} else {
		mixed, err = Mix(weights, x)
	}
	if err != nil {
		return nil, nil, err
	}
	raw, err = Readout(mixed, u)
	return raw, weights, err
}

// buildFused computes the same raw readout and weights with ops.Attention,
// which takes the heads packed side by side, as Queries and Readout lay
// them out.
func (m *attention) buildFused(x, xq, w, u *G.Node) (raw, weights *G.Node, err error) {
	c := m.cfg
	d, heads := c.Dim, c.Heads
	axes := []int{1, 0, 2}
	if c.IsFirstToken() {
		axes = []int{2, 0, 1}
	}
	pw, err := packHeads(w, axes, d, heads*d)
	if err != nil {
		return nil, nil, err
	}
	pu, err := packUReadout(u)
	if err != nil {
		return nil, nil, err
	}
	if pu, err = ops.Reshape(pu, pu.Shape().TotalSize()); err != nil {
		return nil, nil, err
	}
	shape := ops.AttentionShape{N: x.Shape()[0], Tokens: c.Tokens, Dim: d, Rows: c.Rows(), Heads: heads}
	return ops.Attention(shape, x, xq, pw, pu)
}
