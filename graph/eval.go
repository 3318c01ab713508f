package graph

import (
	"fmt"
	"math"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
)

// Evaluator computes a model's risk, 0-1 error and attention on a fixed
// dataset (a test set, or the training set seen from outside a run) without
// gradients. It owns its own graph: evaluating never touches a Model's
// training state.
//
// Like a Model, it works through n > Options.ChunkSamples samples chunk by
// chunk; then only Weights, which returns all n samples' weights, needs
// memory growing with n.
type Evaluator struct {
	prog *batch
	data *datasets.Dataset

	evaluated bool
	mass      float64 // sum of attention on relevant tokens, last Evaluate
}

// NewEvaluator compiles a forward-only graph of m for data, with the
// default Options.
func NewEvaluator(m layers.Model, data *datasets.Dataset) (*Evaluator, error) {
	return NewEvaluatorOptions(m, data, Options{})
}

// NewEvaluatorOptions is NewEvaluator with options.
func NewEvaluatorOptions(m layers.Model, data *datasets.Dataset, o Options) (*Evaluator, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := m.Config().Validate(); err != nil {
		return nil, err
	}
	if err := checkData(m.Config(), data); err != nil {
		return nil, err
	}
	prog, err := newBatch(m, data.X, data.Y, data.N, programOptions{weights: true}, o)
	if err != nil {
		return nil, err
	}
	e := &Evaluator{prog: prog, data: data}
	prog.perChunk = e.addMass
	return e, nil
}

// Evaluate returns F and the 0-1 error of params on the evaluator's data.
func (e *Evaluator) Evaluate(params *layers.Params) (Eval, error) {
	if err := params.Check(e.prog.model); err != nil {
		return Eval{}, err
	}
	e.prog.setParams(params)
	e.mass = 0
	if err := e.prog.run(); err != nil {
		return Eval{}, err
	}
	e.evaluated = true
	return Eval{Loss: e.prog.lossValue(), Error: e.prog.errorRate(e.data.Y)}, nil
}

// Phi returns a copy of Phi for every sequence, as of the last Evaluate.
func (e *Evaluator) Phi() []float64 { return append([]float64(nil), e.prog.phi...) }

// HasWeights reports whether the model exposes attention weights.
func (e *Evaluator) HasWeights() bool { return e.prog.full.weights != nil }

// Weights returns a copy of the attention weights of the last Evaluate,
// shape [n, Q, T] (WeightsShape), row-major, or nil for a model without
// weights. For the models of package layers, entry ((i*Rows + r)*H + h)*T + s
// is the attention of query r of head h on key s in sequence i.
//
// When the evaluator works in chunks, the weights are recomputed chunk by
// chunk at the parameters of the last Evaluate: only this call holds all n
// samples' weights.
func (e *Evaluator) Weights() []float64 {
	b := e.prog
	if b.full.weights == nil {
		return nil
	}
	if !b.chunked() {
		return append([]float64(nil), b.full.weights...)
	}
	perSample := len(b.full.weights) / b.size
	all := make([]float64, b.n*perSample)
	if !e.evaluated {
		return all
	}
	b.perChunk = func(first int, p *program) { copy(all[first*perSample:], p.weights) }
	defer func() { b.perChunk = e.addMass }()
	if err := b.run(); err != nil {
		// The same graphs ran at the same parameters in Evaluate.
		panic(fmt.Sprintf("graph: Evaluator.Weights: %v", err))
	}
	return all
}

// WeightsShape is the shape of Weights, or nil.
func (e *Evaluator) WeightsShape() []int {
	if e.prog.full.weightsShape == nil {
		return nil
	}
	shape := append([]int(nil), e.prog.full.weightsShape...)
	shape[0] = e.prog.n
	return shape
}

// RelevantMass is the average attention mass on relevant tokens, over
// sequences and query rows (all heads), as of the last Evaluate. It returns
// NaN when the data has no relevance mask or the model no weights.
func (e *Evaluator) RelevantMass() float64 {
	if len(e.data.Mask) != e.data.N*e.data.T || e.prog.full.weights == nil {
		return math.NaN()
	}
	return e.mass / float64(e.data.N*e.prog.full.weightsShape[1])
}

// addMass adds the attention on relevant tokens of one chunk's samples to
// e.mass, sample by sample in order: the sum is the same for any chunking.
func (e *Evaluator) addMass(first int, p *program) {
	mask := e.data.Mask
	t := e.data.T
	if len(mask) != e.data.N*t || p.weights == nil {
		return
	}
	rowsPerSeq := p.weightsShape[1]
	w := p.weights
	for i := 0; i < p.n; i++ {
		m := mask[(first+i)*t : (first+i+1)*t]
		for r := 0; r < rowsPerSeq; r++ {
			row := w[(i*rowsPerSeq+r)*t : (i*rowsPerSeq+r+1)*t]
			for s, relevant := range m {
				if relevant {
					e.mass += row[s]
				}
			}
		}
	}
}
