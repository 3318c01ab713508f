package graph

import (
	"fmt"

	"github.com/mhattn/mha/layers"
)

// DefaultChunkSamples is the chunk size B used when Options leave it 0: large
// enough that the sizes this project trains at (n <= 1024) run as one chunk,
// exactly as an unchunked graph, and small enough that a graph's buffers
// stay in the hundreds of megabytes at H = 64.
const DefaultChunkSamples = 1024

// Options tunes how a Model or an Evaluator works through its data.
type Options struct {
	// ChunkSamples is B, the most samples one run of a compiled graph
	// holds. A data set of n > B samples is worked through in chunks of B
	// samples and one shorter tail, each by a graph compiled once for its
	// size and reused, so memory grows with B, not with n (apart from the
	// data set itself and the n values of Phi). 0 selects
	// DefaultChunkSamples; otherwise at least 1.
	ChunkSamples int
}

// Validate reports an out-of-range field.
func (o Options) Validate() error {
	if o.ChunkSamples < 0 {
		return fmt.Errorf("chunk samples = %d: must be >= 1 sample (0 selects %d)", o.ChunkSamples, DefaultChunkSamples)
	}
	return nil
}

// chunkSamples is B in force.
func (o Options) chunkSamples() int {
	if o.ChunkSamples == 0 {
		return DefaultChunkSamples
	}
	return o.ChunkSamples
}

// batch runs a model over a whole data set chunk by chunk: Phi of every
// sample, the risk F = mean_i l(y_i Phi_i) and (when asked) grad F.
//
// With n <= B it is one program over the data in place, computing exactly
// what an unchunked graph computes. Otherwise programs for B samples and for
// the tail (n mod B samples) read copies of one chunk at a time; each
// computes its chunk's share sum_{i in chunk} l_i / n of the mean and of its
// gradient, and batch adds the shares in chunk order. The chunk bounds
// depend on n and B alone and each chunk's run is bit-identical for any
// thread count (ops.SetThreads), so the result is too. It differs from the
// unchunked one in the last bits, because the mean is summed in another
// order.
type batch struct {
	model   layers.Model
	specs   []layers.ParamSpec
	n, size int       // samples, chunk size B (min(n, B) when one chunk)
	x, y    []float64 // the whole data set, not copied

	full, tail *program    // chunks of size samples; the tail (nil if none)
	params     [][]float64 // read by both programs
	grads      [][]float64 // the sum over chunks (full's own with one chunk)
	phi        []float64   // all n samples (full's own with one chunk)
	loss       float64

	// perChunk, when set, sees every chunk's program after its run; first
	// is the chunk's first sample.
	perChunk func(first int, p *program)
}

// newBatch compiles the programs of m for x ([n, T, d]) and labels y.
func newBatch(m layers.Model, x, y []float64, n int, opt programOptions, o Options) (*batch, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	b := &batch{model: m, specs: m.Specs(), n: n, size: min(n, o.chunkSamples()), x: x, y: y}
	if b.size == n {
		p, err := newProgram(m, x, y, n, opt)
		if err != nil {
			return nil, err
		}
		b.full, b.params, b.grads, b.phi = p, p.params, p.grads, p.phi
		return b, nil
	}
	c := m.Config()
	sampleLen := c.Tokens * c.Dim
	b.params = make([][]float64, len(b.specs))
	for i, s := range b.specs {
		b.params[i] = make([]float64, s.Size())
	}
	opt.params, opt.divisor = b.params, n
	compile := func(size int) (*program, error) {
		return newProgram(m, make([]float64, size*sampleLen), make([]float64, size), size, opt)
	}
	var err error
	if b.full, err = compile(b.size); err != nil {
		return nil, err
	}
	if rest := n % b.size; rest > 0 {
		if b.tail, err = compile(rest); err != nil {
			return nil, err
		}
	}
	b.grads = make([][]float64, len(b.specs))
	for i, g := range b.full.grads {
		if g != nil {
			b.grads[i] = make([]float64, len(g))
		}
	}
	b.phi = make([]float64, n)
	return b, nil
}

// chunked reports whether the data is worked through in several chunks.
func (b *batch) chunked() bool { return b.size < b.n }

// run computes Phi, F and the gradient at the current parameters.
func (b *batch) run() error {
	if !b.chunked() {
		if err := b.full.run(); err != nil {
			return err
		}
		b.loss = b.full.lossValue()
		if b.perChunk != nil {
			b.perChunk(0, b.full)
		}
		return nil
	}
	b.loss = 0
	for _, g := range b.grads {
		clear(g)
	}
	sampleLen := len(b.x) / b.n
	for first := 0; first < b.n; first += b.size {
		p := b.full
		if b.n-first < b.size {
			p = b.tail
		}
		copy(p.x, b.x[first*sampleLen:])
		copy(p.y, b.y[first:])
		if err := p.run(); err != nil {
			return fmt.Errorf("samples [%d, %d): %w", first, first+p.n, err)
		}
		b.loss += p.lossValue()
		copy(b.phi[first:], p.phi)
		for i, g := range p.grads {
			acc := b.grads[i]
			for j, v := range g {
				acc[j] += v
			}
		}
		if b.perChunk != nil {
			b.perChunk(first, p)
		}
	}
	return nil
}

// setParams copies parameters into the graphs' inputs.
func (b *batch) setParams(params *layers.Params) {
	for i := range b.params {
		copy(b.params[i], params.List[i].Data)
	}
}

// currentParams returns a copy of the graphs' parameters.
func (b *batch) currentParams() *layers.Params {
	q := layers.NewZeroParams(b.model)
	for i := range b.params {
		copy(q.List[i].Data, b.params[i])
	}
	return q
}

// lossValue is F of the last run.
func (b *batch) lossValue() float64 { return b.loss }

// gradient writes the trainable gradient of the last run into dst in the
// layout of layers.Params.Trainable.
func (b *batch) gradient(dst []float64) {
	off := 0
	for i, s := range b.specs {
		if !s.Frozen {
			off += copy(dst[off:], b.grads[i])
		}
	}
}

// gradNorm is the norm of the trainable gradient of the last run.
func (b *batch) gradNorm() float64 {
	var total float64
	for _, g := range b.grads {
		total = hypot(total, norm(g))
	}
	return total
}

// errorRate is the fraction of sequences with y_i Phi_i <= 0 in the last run.
func (b *batch) errorRate(labels []float64) float64 {
	wrong := 0
	for i, phi := range b.phi {
		if labels[i]*phi <= 0 {
			wrong++
		}
	}
	return float64(wrong) / float64(len(b.phi))
}
