package graph

import (
	"math"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
)

// Evaluator computes a model's risk, 0-1 error and attention on a fixed
// dataset (a test set, or the training set seen from outside a run) without
// gradients. It owns its own graph: evaluating never touches a Model's
// training state.
type Evaluator struct {
	prog *program
	data *datasets.Dataset
}

// NewEvaluator compiles a forward-only graph of m for data.
func NewEvaluator(m layers.Model, data *datasets.Dataset) (*Evaluator, error) {
	if err := m.Config().Validate(); err != nil {
		return nil, err
	}
	if err := checkData(m.Config(), data); err != nil {
		return nil, err
	}
	prog, err := newProgram(m, data.X, data.Y, data.N, programOptions{weights: true})
	if err != nil {
		return nil, err
	}
	return &Evaluator{prog: prog, data: data}, nil
}

// Evaluate returns F and the 0-1 error of params on the evaluator's data.
func (e *Evaluator) Evaluate(params *layers.Params) (Eval, error) {
	if err := params.Check(e.prog.model); err != nil {
		return Eval{}, err
	}
	e.prog.setParams(params)
	if err := e.prog.run(); err != nil {
		return Eval{}, err
	}
	return Eval{Loss: e.prog.lossValue(), Error: e.prog.errorRate(e.data.Y)}, nil
}

// Phi returns a copy of Phi for every sequence, as of the last Evaluate.
func (e *Evaluator) Phi() []float64 { return append([]float64(nil), e.prog.phi...) }

// HasWeights reports whether the model exposes attention weights.
func (e *Evaluator) HasWeights() bool { return e.prog.weights != nil }

// Weights returns a copy of the attention weights of the last Evaluate,
// shape [n, Q, T] (WeightsShape), row-major, or nil for a model without
// weights. For the models of package layers, entry ((i*Rows + r)*H + h)*T + s
// is the attention of query r of head h on key s in sequence i.
func (e *Evaluator) Weights() []float64 {
	if e.prog.weights == nil {
		return nil
	}
	return append([]float64(nil), e.prog.weights...)
}

// WeightsShape is the shape of Weights, or nil.
func (e *Evaluator) WeightsShape() []int { return append([]int(nil), e.prog.weightsShape...) }

// RelevantMass is the average attention mass on relevant tokens, over
// sequences and query rows (all heads), as of the last Evaluate. It returns
// NaN when the data has no relevance mask or the model no weights.
func (e *Evaluator) RelevantMass() float64 {
	mask := e.data.Mask
	t := e.data.T
	if len(mask) != e.data.N*t || e.prog.weights == nil {
		return math.NaN()
	}
	rowsPerSeq := e.prog.weightsShape[1]
	var total float64
	w := e.prog.weights
	for i := 0; i < e.data.N; i++ {
		m := mask[i*t : (i+1)*t]
		for r := 0; r < rowsPerSeq; r++ {
			row := w[(i*rowsPerSeq+r)*t : (i*rowsPerSeq+r+1)*t]
			for s, relevant := range m {
				if relevant {
					total += row[s]
				}
			}
		}
	}
	return total / float64(e.data.N*rowsPerSeq)
}
