package graph

import (
	"fmt"
	"math"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
)

// SampleGradients computes per-sample gradients grad_theta Phi(theta; X_i),
// the NTK features of the theory, over the trainable parameters of any
// model.
//
// A model with a closed form (layers.ClosedFormSampleGradients: the
// paper's model on the fused engine) gets its rows from it, all samples of
// a range in one pass. Otherwise, since Gorgonia has no per-sample gradient
// and a second Grad on one graph is unreliable, the model is compiled once
// for a batch of one sequence and run once per sample: Phi of that batch is
// Phi_i, and the graph's gradient is sample i's. This works for any
// layers.Model, fused or composed. Either way memory does not grow with n,
// and a row depends on its sample alone.
type SampleGradients struct {
	model  layers.Model
	closed layers.SampleGradientWriter // nil: the graph, once per sample
	prog   *program
	x      []float64 // the one sequence the graph reads
	params [][]float64
}

// NewSampleGradients compiles the per-sample gradient graph of m, or takes
// its closed form.
func NewSampleGradients(m layers.Model) (*SampleGradients, error) {
	return newSampleGradients(m, false)
}

// newSampleGradients is NewSampleGradients; graphOnly skips the closed
// form (tests compare the two).
func newSampleGradients(m layers.Model, graphOnly bool) (*SampleGradients, error) {
	c := m.Config()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := &SampleGradients{model: m}
	if !graphOnly {
		if s.closed = layers.ClosedFormSampleGradients(m); s.closed != nil {
			return s, nil
		}
	}
	s.x = make([]float64, c.Tokens*c.Dim)
	prog, err := newProgram(m, s.x, nil, 1, programOptions{objective: phiObjective, gradient: true})
	if err != nil {
		return nil, err
	}
	s.prog = prog
	return s, nil
}

// Compute returns the n x P matrix (row-major, P = layers.NumTrainable)
// whose row i is grad_theta Phi(theta; X_i) in the trainable-vector layout.
// dst is reused when it has the right length.
func (s *SampleGradients) Compute(params *layers.Params, data *datasets.Dataset, dst []float64) ([]float64, error) {
	if err := params.Check(s.model); err != nil {
		return nil, err
	}
	return s.ComputeRange(params, data, 0, data.N, dst)
}

// ComputeRange is Compute for samples [first, last): row i-first of the
// result is sample i's gradient. Blockwise NTK computations use it to hold
// only a block of gradients at once. It checks the whole dataset against
// the model only when the range is all of it; otherwise its shape and the
// sequences it reads, so that many small ranges cost no more than one.
func (s *SampleGradients) ComputeRange(params *layers.Params, data *datasets.Dataset, first, last int, dst []float64) ([]float64, error) {
	c := s.model.Config()
	if data == nil {
		return nil, checkData(c, data)
	}
	if first < 0 || last > data.N || first > last {
		return nil, fmt.Errorf("graph: samples [%d, %d): must lie in [0, n = %d]", first, last, data.N)
	}
	if err := checkRange(c, data, first, last); err != nil {
		return nil, err
	}
	width := layers.NumTrainable(s.model)
	if len(dst) != (last-first)*width {
		dst = make([]float64, (last-first)*width)
	}
	td := c.Tokens * c.Dim
	if s.closed != nil {
		if err := params.Check(s.model); err != nil {
			return nil, err
		}
		if len(params.List) != len(s.params) {
			s.params = make([][]float64, len(params.List))
		}
		for i, p := range params.List {
			s.params[i] = p.Data
		}
		s.closed.WriteSampleGradients(s.params, data.X[first*td:last*td], last-first, dst)
		return dst, nil
	}
	s.prog.setParams(params)
	for i := first; i < last; i++ {
		copy(s.x, data.X[i*td:(i+1)*td])
		if err := s.prog.run(); err != nil {
			return nil, fmt.Errorf("graph: per-sample gradient of sample %d: %w", i, err)
		}
		s.prog.gradient(dst[(i-first)*width : (i-first+1)*width])
	}
	return dst, nil
}

// checkRange is checkData for the sequences [first, last) of data: the
// whole dataset when the range is all of it, else its shape and the
// finiteness of the sequences in the range.
func checkRange(c layers.Config, data *datasets.Dataset, first, last int) error {
	if first == 0 && last == data.N {
		return checkData(c, data)
	}
	if data.T != c.Tokens || data.D != c.Dim || data.N < 1 || len(data.X) != data.N*data.T*data.D {
		return checkData(c, data) // names the field
	}
	td := data.T * data.D
	for i, v := range data.X[first*td : last*td] {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("data: X[%d, %d, %d] = %v: must be finite", first+i/td, i%td/data.D, i%data.D, v)
		}
	}
	return nil
}
