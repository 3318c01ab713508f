package graph

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/layers/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// program is one compiled Gorgonia graph of a model over a fixed batch:
// the forward pass and an objective (the logistic risk, or sum_i Phi_i for
// per-sample gradients) and, when asked, its gradient with respect to the
// trainable parameters. Parameters live in slices, one per layers.ParamSpec
// in the public layout, that the graph reads on every run, so changing them
// in place needs no rebuild.
type program struct {
	model layers.Model
	specs []layers.ParamSpec
	n     int
	vm    G.VM

	params [][]float64 // read by the graph on every run
	grads  [][]float64 // nil for frozen parameters or without gradients

	// Inputs the graph reads on every run: a caller may refill them.
	x []float64 // [n, T, d]
	y []float64 // labels, nil for phiObjective

	// Values copied out of the graph by Read nodes on every run.
	loss         G.Value
	phi          []float64
	weights      []float64 // nil unless asked for and the model has weights
	weightsShape []int
}

// checkData validates a dataset and that it fits the model: the errors a
// user causes by handing in the wrong file.
func checkData(c layers.Config, data *datasets.Dataset) error {
	if err := data.Validate(); err != nil {
		return err
	}
	var errs []error
	if data.T != c.Tokens {
		errs = append(errs, fmt.Errorf("data: T = %d tokens per sequence, model has tokens = %d", data.T, c.Tokens))
	}
	if data.D != c.Dim {
		errs = append(errs, fmt.Errorf("data: d = %d, model has dim = %d", data.D, c.Dim))
	}
	return errors.Join(errs...)
}

// dense wraps a float64 slice as a tensor without copying.
func dense(data []float64, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

// objective is what a program differentiates.
type objective int

const (
	riskObjective objective = iota // F = mean_i l(y_i Phi_i)
	phiObjective                   // sum_i Phi_i: per-sample gradients at n = 1
)

// programOptions selects what a program computes beyond Phi.
type programOptions struct {
	objective objective
	gradient  bool // gradient of the objective w.r.t. the trainable parameters
	weights   bool // attention weights
	// divisor, when > 0, replaces the mean over the batch by the sum over
	// the batch divided by divisor: one chunk's share of the mean over all
	// samples (riskObjective only).
	divisor int
	// params, when not nil, are the parameter slices the graph reads (in
	// spec order), shared with other programs; otherwise newProgram
	// allocates them.
	params [][]float64
}

// buildMu serializes graph construction (see newProgram).
var buildMu sync.Mutex

// newProgram compiles m over x ([n, T, d] row-major; the graph reads this
// slice, so a caller may refill it between runs) with labels y (length n;
// ignored by phiObjective).
func newProgram(m layers.Model, x, y []float64, n int, opt programOptions) (*program, error) {
	// Gorgonia shares package-level constant nodes (the 1 that Grad
	// starts from) between graphs and caches their hash on first use:
	// graphs built at once by several goroutines race on it (the race
	// detector saw it in a sweep's parallel workers). Building is short
	// next to running, so builds take turns; runs stay parallel.
	buildMu.Lock()
	defer buildMu.Unlock()
	c := m.Config()
	specs := m.Specs()
	p := &program{
		model: m, specs: specs, n: n,
		params: make([][]float64, len(specs)),
		grads:  make([][]float64, len(specs)),
		loss:   G.NewF64(0),
		phi:    make([]float64, n),
		x:      x,
	}
	g := G.NewGraph()
	// Every input is named: Gorgonia merges unnamed inputs of equal type
	// and shape into one node.
	xNode := G.NewTensor(g, tensor.Float64, 3, G.WithShape(n, c.Tokens, c.Dim), G.WithName("X"),
		G.WithValue(dense(x, n, c.Tokens, c.Dim)))
	nodes := make([]*G.Node, len(specs))
	for i, s := range specs {
		if opt.params != nil {
			p.params[i] = opt.params[i]
		} else {
			p.params[i] = make([]float64, s.Size())
		}
		nodes[i] = G.NewTensor(g, tensor.Float64, len(s.Shape), G.WithShape(s.Shape...),
			G.WithName("param:"+s.Name), G.WithValue(dense(p.params[i], s.Shape...)))
	}
	out, err := m.Build(xNode, nodes)
	if err != nil {
		return nil, err
	}
	if !out.Phi.Shape().Eq(tensor.Shape{n}) {
		return nil, fmt.Errorf("graph: model kind %q builds Phi of shape %v, want [%d]", c.KindName(), out.Phi.Shape(), n)
	}
	var cost *G.Node
	if opt.objective == phiObjective {
		if cost, err = G.Sum(out.Phi); err != nil {
			return nil, err
		}
	} else {
		p.y = append([]float64(nil), y...)
		labels := G.NewVector(g, tensor.Float64, G.WithShape(n), G.WithName("y"),
			G.WithValue(dense(p.y, n)))
		margins, err := G.HadamardProd(out.Phi, labels)
		if err != nil {
			return nil, err
		}
		losses, err := ops.Logistic(margins)
		if err != nil {
			return nil, err
		}
		if opt.divisor > 0 {
			total, err := G.Sum(losses)
			if err != nil {
				return nil, err
			}
			if cost, err = G.HadamardDiv(total, G.NewConstant(float64(opt.divisor))); err != nil {
				return nil, err
			}
		} else if cost, err = G.Mean(losses); err != nil {
			return nil, err
		}
	}

	var phiV G.Value = dense(p.phi, n)
	roots := G.Nodes{G.Read(cost, &p.loss), G.Read(out.Phi, &phiV)}
	if opt.weights && out.Weights != nil {
		p.weightsShape = out.Weights.Shape().Clone()
		p.weights = make([]float64, out.Weights.Shape().TotalSize())
		var wv G.Value = dense(p.weights, p.weightsShape...)
		roots = append(roots, G.Read(out.Weights, &wv))
	}
	if opt.gradient {
		var wrt G.Nodes
		var slots []int
		for i, s := range specs {
			if !s.Frozen {
				wrt = append(wrt, nodes[i])
				slots = append(slots, i)
			}
		}
		if len(wrt) > 0 {
			grads, err := G.Grad(cost, wrt...)
			if err != nil {
				return nil, fmt.Errorf("graph: gradient: %w", err)
			}
			for j, i := range slots {
				p.grads[i] = make([]float64, specs[i].Size())
				var v G.Value = dense(p.grads[i], specs[i].Shape...)
				roots = append(roots, G.Read(grads[j], &v))
			}
		}
	}
	// Grad differentiates every input on the way, X and y included: compile
	// only what the Read nodes need.
	p.vm = G.NewTapeMachine(g.ExactSubgraphRoots(roots...))
	// The tape machine's finalizer (a no-op without CUDA) sits on a cycle
	// (machine -> graph -> values -> the machine's engine): Go never frees
	// a cycle holding a finalizer, so every compiled model would stay in
	// memory until the process exits (measured: +360 MB per H = 64 point
	// of a head sweep). Without the finalizer the cycle is collected.
	runtime.SetFinalizer(p.vm, nil)
	return p, nil
}

// setParams copies parameters into the graph's inputs.
func (p *program) setParams(params *layers.Params) {
	for i := range p.params {
		copy(p.params[i], params.List[i].Data)
	}
}

// run executes the graph once at the current parameters.
func (p *program) run() error {
	p.vm.Reset()
	if err := p.vm.RunAll(); err != nil {
		return fmt.Errorf("graph: run: %w", err)
	}
	return nil
}

// lossValue is the objective of the last run.
func (p *program) lossValue() float64 { return float64(*p.loss.(*G.F64)) }

// gradient writes the trainable gradients of the last run into dst in the
// layout of layers.Params.Trainable.
func (p *program) gradient(dst []float64) {
	off := 0
	for i, s := range p.specs {
		if !s.Frozen {
			off += copy(dst[off:], p.grads[i])
		}
	}
}
