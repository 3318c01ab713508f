package graph

import (
	"fmt"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SampleGradients computes per-sample gradients grad_theta Phi(theta; X_i),
// the NTK features of the theory, over the trainable blocks.
//
// Gorgonia has no per-sample gradient, and a second Grad on one graph is
// unreliable, so the graph gives every sample in a chunk its own copy of the
// parameters: Phi_i depends on copy i alone, and one Grad of sum_i Phi_i
// returns each sample's gradient in its copy's slot. Chunks bound the memory
// of the copies; the graph is compiled once and reused for every chunk.
type SampleGradients struct {
	cfg   layers.Config
	chunk int
	vm    G.VM
	x, xq []float64 // chunk inputs
	w, u  []float64 // per-sample packed parameter copies
	gw    []float64 // per-sample packed gradients, read out of the graph
	gu    []float64
}

// DefaultChunk bounds the number of samples per run of a SampleGradients
// graph.
const DefaultChunk = 64

// NewSampleGradients compiles the per-sample gradient graph for chunks of
// up to chunk sequences (0 selects DefaultChunk).
func NewSampleGradients(c layers.Config, chunk int) (*SampleGradients, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if chunk < 0 {
		return nil, fmt.Errorf("chunk = %d: must be >= 0 (0 selects %d)", chunk, DefaultChunk)
	}
	if chunk == 0 {
		chunk = DefaultChunk
	}
	b, d, rows, t := chunk, c.Dim, c.Rows(), c.Tokens
	s := &SampleGradients{
		cfg: c, chunk: b,
		x:  make([]float64, b*t*d),
		xq: make([]float64, b*rows*d),
		w:  make([]float64, b*c.WSize()),
		u:  make([]float64, b*c.USize()),
	}
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 3, G.WithShape(b, t, d), G.WithName("X"), G.WithValue(dense(s.x, b, t, d)))
	xq := G.NewMatrix(g, tensor.Float64, G.WithShape(b*rows, d), G.WithName("Xq"), G.WithValue(dense(s.xq, b*rows, d)))
	w := G.NewTensor(g, tensor.Float64, 3, G.WithShape(b, d, c.Heads*d), G.WithName("W"), G.WithValue(dense(s.w, b, d, c.Heads*d)))
	u := G.NewMatrix(g, tensor.Float64, G.WithShape(b, c.USize()), G.WithName("U"), G.WithValue(dense(s.u, b, c.USize())))
	out, err := layers.Build(c, x, xq, w, u)
	if err != nil {
		return nil, err
	}
	total, err := G.Sum(out.Phi)
	if err != nil {
		return nil, err
	}
	var wrt G.Nodes
	if c.TrainsU() {
		wrt = append(wrt, u)
	}
	if c.TrainsW() {
		wrt = append(wrt, w)
	}
	grads, err := G.Grad(total, wrt...)
	if err != nil {
		return nil, fmt.Errorf("graph: per-sample gradient: %w", err)
	}
	var roots G.Nodes
	for i, node := range wrt {
		var dst []float64
		if node == u {
			s.gu = make([]float64, len(s.u))
			dst = s.gu
		} else {
			s.gw = make([]float64, len(s.w))
			dst = s.gw
		}
		var v G.Value = dense(dst, node.Shape()...)
		roots = append(roots, G.Read(grads[i], &v))
	}
	s.vm = G.NewTapeMachine(g.ExactSubgraphRoots(roots...))
	return s, nil
}

// Compute returns the n x P matrix (row-major, P = Config.NumTrainable())
// whose row i is grad_theta Phi(theta; X_i) in the trainable-vector layout.
// dst is reused when it has the right length.
func (s *SampleGradients) Compute(params *layers.Params, data *datasets.Dataset, dst []float64) ([]float64, error) {
	c := s.cfg
	if err := params.Check(c); err != nil {
		return nil, err
	}
	if err := checkData(c, data); err != nil {
		return nil, err
	}
	width := c.NumTrainable()
	if len(dst) != data.N*width {
		dst = make([]float64, data.N*width)
	}
	ws, us := c.WSize(), c.USize()
	packedW, packedU := make([]float64, ws), make([]float64, us)
	layers.PackW(c, params.W, packedW)
	layers.PackU(c, params.U, packedU)
	for i := 0; i < s.chunk; i++ {
		copy(s.w[i*ws:], packedW)
		copy(s.u[i*us:], packedU)
	}
	td := c.Tokens * c.Dim
	xq := queryTokens(c, data)
	qd := c.Rows() * c.Dim
	for start := 0; start < data.N; start += s.chunk {
		size := min(s.chunk, data.N-start)
		// The tail chunk is padded with zero sequences whose gradients are
		// computed and ignored.
		clear(s.x[copy(s.x, data.X[start*td:(start+size)*td]):])
		clear(s.xq[copy(s.xq, xq[start*qd:(start+size)*qd]):])
		s.vm.Reset()
		if err := s.vm.RunAll(); err != nil {
			return nil, fmt.Errorf("graph: per-sample gradient: %w", err)
		}
		for i := 0; i < size; i++ {
			var gu, gw []float64
			if s.gu != nil {
				gu = s.gu[i*us : (i+1)*us]
			}
			if s.gw != nil {
				gw = s.gw[i*ws : (i+1)*ws]
			}
			layers.UnpackTrainable(c, gu, gw, dst[(start+i)*width:(start+i+1)*width])
		}
	}
	return dst, nil
}
