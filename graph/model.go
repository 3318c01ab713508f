package graph

import (
	"fmt"
	"math"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
)

// Model is an attention model (any layers.Model) compiled over one training
// set: a Gorgonia graph that computes Phi, the empirical risk F and its
// gradient, over all samples at once or, for n > Options.ChunkSamples,
// chunk by chunk (see Options). Its parameters change in place (by GD steps
// or SetParams); the compiled machines are reused for every run.
//
// A Model is not safe for concurrent use; build one per goroutine.
type Model struct {
	prog   *batch
	labels []float64
}

// NewModel compiles m for data, starting from params, with the default
// Options.
func NewModel(m layers.Model, params *layers.Params, data *datasets.Dataset) (*Model, error) {
	return NewModelOptions(m, params, data, Options{})
}

// NewModelOptions is NewModel with options.
func NewModelOptions(m layers.Model, params *layers.Params, data *datasets.Dataset, o Options) (*Model, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := m.Config().Validate(); err != nil {
		return nil, err
	}
	if err := params.Check(m); err != nil {
		return nil, err
	}
	if err := checkData(m.Config(), data); err != nil {
		return nil, err
	}
	prog, err := newBatch(m, data.X, data.Y, data.N, programOptions{gradient: true}, o)
	if err != nil {
		return nil, err
	}
	prog.setParams(params)
	return &Model{prog: prog, labels: data.Y}, nil
}

// Arch is the model definition the graph was built from.
func (m *Model) Arch() layers.Model { return m.prog.model }

// Config is the configuration of the model definition.
func (m *Model) Config() layers.Config { return m.prog.model.Config() }

// Params returns a copy of the current parameters.
func (m *Model) Params() *layers.Params { return m.prog.currentParams() }

// SetParams replaces the current parameters.
func (m *Model) SetParams(p *layers.Params) error {
	if err := p.Check(m.prog.model); err != nil {
		return err
	}
	m.prog.setParams(p)
	return nil
}

// Eval is the state of a model at its current parameters.
type Eval struct {
	Loss     float64 // empirical risk F(theta)
	Error    float64 // fraction of sequences with y Phi <= 0
	GradNorm float64 // ||grad F(theta)|| over the trainable parameters (0 when not computed)
}

// Evaluate runs the graph at the current parameters: F, the 0-1 error and
// the gradient, which Gradient then returns.
func (m *Model) Evaluate() (Eval, error) {
	if err := m.prog.run(); err != nil {
		return Eval{}, err
	}
	return Eval{Loss: m.prog.lossValue(), Error: m.prog.errorRate(m.labels), GradNorm: m.prog.gradNorm()}, nil
}

// Phi returns a copy of Phi(theta; X_i) for every training sequence, as of
// the last Evaluate.
func (m *Model) Phi() []float64 { return append([]float64(nil), m.prog.phi...) }

// NumTrainable is the length of theta.
func (m *Model) NumTrainable() int { return layers.NumTrainable(m.prog.model) }

// Gradient writes grad F of the last Evaluate into dst (the trainable-vector
// layout of layers.Params.Trainable) and returns it; dst may be nil.
func (m *Model) Gradient(dst []float64) []float64 {
	if len(dst) != m.NumTrainable() {
		dst = make([]float64, m.NumTrainable())
	}
	m.prog.gradient(dst)
	return dst
}

// Step takes one gradient-descent step theta <- theta - eta grad F(theta)
// and returns the state before it.
func (m *Model) Step(eta float64) (Eval, error) {
	ev, err := m.Evaluate()
	if err != nil {
		return ev, err
	}
	m.descend(eta)
	return ev, nil
}

// descend moves the parameters against the last gradient.
func (m *Model) descend(eta float64) {
	for i, g := range m.prog.grads {
		p := m.prog.params[i]
		for j, v := range g {
			p[j] -= eta * v
		}
	}
}

// HessVec writes an approximation of Hess F(theta) v into dst and returns
// it, leaving the parameters exactly as they were. v and dst use the
// trainable-vector layout; dst may be nil.
//
// Gorgonia's second Grad is unreliable, so this is the central difference
// (grad F(theta + h v) - grad F(theta - h v)) / 2h of exact gradients, with
// h = eps^(1/3) max(1, ||theta||) / ||v||: the truncation error is O(h^2)
// in the third derivative and the rounding error O(eps/h).
func (m *Model) HessVec(v, dst []float64) ([]float64, error) {
	p := m.prog
	width := m.NumTrainable()
	if len(v) != width {
		panic(fmt.Sprintf("graph: HessVec: v has %d entries, model trains %d", len(v), width))
	}
	if len(dst) != len(v) {
		dst = make([]float64, len(v))
	}
	vNorm := norm(v)
	if vNorm == 0 {
		clear(dst)
		return dst, nil
	}
	theta0 := m.Params().Trainable(p.model, nil)
	h := math.Cbrt(0x1p-52) * math.Max(1, norm(theta0)) / vNorm
	grad := make([]float64, width)
	theta := make([]float64, width)
	clear(dst)
	var err error
	for _, side := range []float64{1, -1} {
		for i := range theta {
			theta[i] = theta0[i] + side*h*v[i]
		}
		m.setTheta(theta)
		if err = p.run(); err != nil {
			break
		}
		p.gradient(grad)
		for i, g := range grad {
			dst[i] += side * g / (2 * h)
		}
	}
	m.setTheta(theta0)
	if err != nil {
		return nil, err
	}
	return dst, nil
}

// setTheta writes a trainable vector into the graph's parameters.
func (m *Model) setTheta(theta []float64) {
	for i, s := range m.prog.specs {
		if !s.Frozen {
			theta = theta[copy(m.prog.params[i], theta):]
		}
	}
}

func norm(v []float64) float64 {
	var sq float64
	for _, x := range v {
		sq += x * x
	}
	return math.Sqrt(sq)
}

func hypot(a, b float64) float64 { return math.Hypot(a, b) }
