package graph

import (
	"errors"
	"fmt"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers/ops"
	"github.com/mhattn/mha/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// program is one compiled Gorgonia graph of the model over a fixed batch:
// the forward pass, the logistic loss and, when asked, the gradient of the
// empirical risk F with respect to the trainable blocks. Parameters live in
// packed layout (layers.PackW, layers.PackU) in slices the graph reads on
// every run, so changing them in place needs no rebuild.
type program struct {
	cfg layers.Config
	n   int
	vm  G.VM

	// Packed parameters, read by the graph on every run.
	w, u []float64

	// Values copied out of the graph by Read nodes on every run.
	loss    G.Value
	phi     []float64
	weights []float64 // nil unless asked for
	gradW   []float64 // nil unless W is trained and gradients were asked for
	gradU   []float64
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

// queryTokens returns the query rows of data, n*Rows x d: X itself for
// all-token queries, each sequence's first token for first-token.
func queryTokens(c layers.Config, data *datasets.Dataset) []float64 {
	if !c.IsFirstToken() {
		return data.X
	}
	td := data.T * data.D
	xq := make([]float64, data.N*data.D)
	for i := 0; i < data.N; i++ {
		copy(xq[i*data.D:(i+1)*data.D], data.X[i*td:i*td+data.D])
	}
	return xq
}

// dense wraps a float64 slice as a tensor without copying.
func dense(data []float64, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

// programOptions selects what a program computes beyond Phi and the loss.
type programOptions struct {
	gradient bool // gradient of F w.r.t. the trainable blocks
	weights  bool // attention weights
}

func newProgram(c layers.Config, data *datasets.Dataset, opt programOptions) (*program, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkData(c, data); err != nil {
		return nil, err
	}
	n, d, rows := data.N, c.Dim, c.Rows()
	p := &program{
		cfg: c, n: n,
		w:    make([]float64, c.WSize()),
		u:    make([]float64, c.USize()),
		loss: G.NewF64(0),
		phi:  make([]float64, n),
	}
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 3, G.WithShape(n, c.Tokens, d), G.WithName("X"),
		G.WithValue(dense(data.X, n, c.Tokens, d)))
	xq := G.NewMatrix(g, tensor.Float64, G.WithShape(n*rows, d), G.WithName("Xq"),
		G.WithValue(dense(queryTokens(c, data), n*rows, d)))
	labels := G.NewVector(g, tensor.Float64, G.WithShape(n), G.WithName("y"),
		G.WithValue(dense(append([]float64(nil), data.Y...), n)))
	w := G.NewMatrix(g, tensor.Float64, G.WithShape(d, c.Heads*d), G.WithName("W"),
		G.WithValue(dense(p.w, d, c.Heads*d)))
	u := G.NewVector(g, tensor.Float64, G.WithShape(c.USize()), G.WithName("U"),
		G.WithValue(dense(p.u, c.USize())))

	out, err := layers.Build(c, x, xq, w, u)
	if err != nil {
		return nil, err
	}
	margins, err := G.HadamardProd(out.Phi, labels)
	if err != nil {
		return nil, err
	}
	losses, err := ops.Logistic(margins)
	if err != nil {
		return nil, err
	}
	cost, err := G.Mean(losses)
	if err != nil {
		return nil, err
	}

	var phiV G.Value = dense(p.phi, n)
	roots := G.Nodes{G.Read(cost, &p.loss), G.Read(out.Phi, &phiV)}
	if opt.weights {
		p.weights = make([]float64, n*rows*c.Heads*c.Tokens)
		var wv G.Value = dense(p.weights, n, rows*c.Heads, c.Tokens)
		roots = append(roots, G.Read(out.Weights, &wv))
	}
	if opt.gradient {
		var wrt G.Nodes
		if c.TrainsU() {
			wrt = append(wrt, u)
		}
		if c.TrainsW() {
			wrt = append(wrt, w)
		}
		grads, err := G.Grad(cost, wrt...)
		if err != nil {
			return nil, fmt.Errorf("graph: gradient: %w", err)
		}
		for i, node := range wrt {
			var dst []float64
			if node == u {
				p.gradU = make([]float64, c.USize())
				dst = p.gradU
			} else {
				p.gradW = make([]float64, c.WSize())
				dst = p.gradW
			}
			var v G.Value = dense(dst, node.Shape()...)
			roots = append(roots, G.Read(grads[i], &v))
		}
	}
	// Grad differentiates every input on the way, X and y included: compile
	// only what the Read nodes need.
	p.vm = G.NewTapeMachine(g.ExactSubgraphRoots(roots...))
	return p, nil
}

// setParams packs public parameters into the graph's inputs.
func (p *program) setParams(params *layers.Params) {
	layers.PackW(p.cfg, params.W, p.w)
	layers.PackU(p.cfg, params.U, p.u)
}

// run executes the graph once at the current parameters.
func (p *program) run() error {
	p.vm.Reset()
	if err := p.vm.RunAll(); err != nil {
		return fmt.Errorf("graph: run: %w", err)
	}
	return nil
}

// lossValue is the empirical risk F of the last run.
func (p *program) lossValue() float64 { return float64(*p.loss.(*G.F64)) }

// errorRate is the fraction of sequences with y_i Phi_i <= 0 in the last run.
func (p *program) errorRate(labels []float64) float64 {
	wrong := 0
	for i, phi := range p.phi {
		if labels[i]*phi <= 0 {
			wrong++
		}
	}
	return float64(wrong) / float64(len(p.phi))
}
