package graph

import (
	"fmt"
	"math"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
)

// Model is the multi-head attention model compiled over one training set:
// a single Gorgonia graph for all heads and all samples that computes Phi,
// the empirical risk F and its gradient. Its parameters change in place (by
// GD steps or SetParams); the compiled machine is reused for every run.
//
// A Model is not safe for concurrent use; build one per goroutine.
type Model struct {
	prog   *program
	labels []float64
}

// NewModel compiles the model for data, starting from params.
func NewModel(c layers.Config, params *layers.Params, data *datasets.Dataset) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := params.Check(c); err != nil {
		return nil, err
	}
	prog, err := newProgram(c, data, programOptions{gradient: true})
	if err != nil {
		return nil, err
	}
	prog.setParams(params)
	return &Model{prog: prog, labels: data.Y}, nil
}

// Config is the architecture the model was built with.
func (m *Model) Config() layers.Config { return m.prog.cfg }

// Params returns a copy of the current parameters in public layout.
func (m *Model) Params() *layers.Params {
	p := layers.NewZeroParams(m.prog.cfg)
	layers.UnpackW(m.prog.cfg, m.prog.w, p.W)
	layers.UnpackU(m.prog.cfg, m.prog.u, p.U)
	return p
}

// SetParams replaces the current parameters.
func (m *Model) SetParams(p *layers.Params) error {
	if err := p.Check(m.prog.cfg); err != nil {
		return err
	}
	m.prog.setParams(p)
	return nil
}

// Eval is the state of a model at its current parameters.
type Eval struct {
	Loss     float64 // empirical risk F(theta)
	Error    float64 // fraction of sequences with y Phi <= 0
	GradNorm float64 // ||grad F(theta)|| over the trainable blocks (0 when not computed)
}

// Evaluate runs the graph at the current parameters: F, the 0-1 error and
// the gradient, which Gradient then returns.
func (m *Model) Evaluate() (Eval, error) {
	if err := m.prog.run(); err != nil {
		return Eval{}, err
	}
	gradNorm := math.Hypot(norm(m.prog.gradU), norm(m.prog.gradW))
	return Eval{Loss: m.prog.lossValue(), Error: m.prog.errorRate(m.labels), GradNorm: gradNorm}, nil
}

// Phi returns a copy of Phi(theta; X_i) for every training sequence, as of
// the last Evaluate.
func (m *Model) Phi() []float64 { return append([]float64(nil), m.prog.phi...) }

// Gradient writes grad F of the last Evaluate into dst (the trainable-vector
// layout of layers.Params.Trainable) and returns it; dst may be nil.
func (m *Model) Gradient(dst []float64) []float64 {
	c := m.prog.cfg
	if len(dst) != c.NumTrainable() {
		dst = make([]float64, c.NumTrainable())
	}
	layers.UnpackTrainable(c, m.prog.gradU, m.prog.gradW, dst)
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

// descend moves the packed parameters against the last gradient. GD is the
// same in any layout, and packed is where the graph reads.
func (m *Model) descend(eta float64) {
	for i, g := range m.prog.gradU {
		m.prog.u[i] -= eta * g
	}
	for i, g := range m.prog.gradW {
		m.prog.w[i] -= eta * g
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
	c, p := m.prog.cfg, m.prog
	if len(v) != c.NumTrainable() {
		panic(fmt.Sprintf("graph: HessVec: v has %d entries, model trains %d", len(v), c.NumTrainable()))
	}
	if len(dst) != len(v) {
		dst = make([]float64, len(v))
	}
	vNorm := norm(v)
	if vNorm == 0 {
		clear(dst)
		return dst, nil
	}
	// Untrained blocks get a zero direction, so both blocks move alike.
	dirU, dirW := make([]float64, len(p.u)), make([]float64, len(p.w))
	layers.PackTrainable(c, v, dirU, dirW)
	u0, w0 := append([]float64(nil), p.u...), append([]float64(nil), p.w...)
	var theta []float64
	theta = m.Params().Trainable(c, theta)
	h := math.Cbrt(0x1p-52) * math.Max(1, norm(theta)) / vNorm

	diffU, diffW := make([]float64, len(p.gradU)), make([]float64, len(p.gradW))
	for _, side := range []float64{1, -1} {
		for i := range p.u {
			p.u[i] = u0[i] + side*h*dirU[i]
		}
		for i := range p.w {
			p.w[i] = w0[i] + side*h*dirW[i]
		}
		err := p.run()
		if err != nil {
			copy(p.u, u0)
			copy(p.w, w0)
			return nil, err
		}
		for i, g := range p.gradU {
			diffU[i] += side * g / (2 * h)
		}
		for i, g := range p.gradW {
			diffW[i] += side * g / (2 * h)
		}
	}
	copy(p.u, u0)
	copy(p.w, w0)
	layers.UnpackTrainable(c, diffU, diffW, dst)
	return dst, nil
}

func norm(v []float64) float64 {
	var sq float64
	for _, x := range v {
		sq += x * x
	}
	return math.Sqrt(sq)
}
