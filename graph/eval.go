package graph

import (
	"math"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
)

// Evaluator computes the model's risk, 0-1 error and attention on a fixed
// dataset (a test set, or the training set seen from outside a run) without
// gradients. It owns its own graph: evaluating never touches a Model's
// training state.
type Evaluator struct {
	prog *program
	data *datasets.Dataset
}

// NewEvaluator compiles a forward-only graph for data.
func NewEvaluator(c layers.Config, data *datasets.Dataset) (*Evaluator, error) {
	prog, err := newProgram(c, data, programOptions{weights: true})
	if err != nil {
		return nil, err
	}
	return &Evaluator{prog: prog, data: data}, nil
}

// Evaluate returns F and the 0-1 error of params on the evaluator's data.
func (e *Evaluator) Evaluate(params *layers.Params) (Eval, error) {
	if err := params.Check(e.prog.cfg); err != nil {
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

// Weights returns a copy of the attention weights of the last Evaluate,
// shape [n, Rows*H, T], row-major: entry ((i*Rows + r)*H + h)*T + s is the
// attention of query r of head h on key s in sequence i.
func (e *Evaluator) Weights() []float64 { return append([]float64(nil), e.prog.weights...) }

// RelevantMass is the average attention mass on relevant tokens, over
// sequences, queries and heads, as of the last Evaluate. mask is the n x T
// relevance mask of the data (datasets.Dataset.Mask); it returns NaN when
// the data has no mask.
func (e *Evaluator) RelevantMass() float64 {
	mask := e.data.Mask
	t := e.data.T
	if len(mask) != e.data.N*t {
		return math.NaN()
	}
	rowsPerSeq := e.prog.cfg.Rows() * e.prog.cfg.Heads
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
