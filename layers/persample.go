package layers

import (
	"sync"

	"github.com/mhattn/mha/internal/gemm"
	"github.com/mhattn/mha/layers/ops"
)

// SampleGradientWriter computes per-sample gradients of Phi in closed form,
// without a graph.
type SampleGradientWriter interface {
	// WriteSampleGradients sets row i of dst (n rows of NumTrainable(m)
	// entries, row-major) to grad_theta Phi(theta; X_i) in the
	// trainable-vector layout, for the n sequences x ([n, T, d]
	// row-major) at the parameters params (one slice per spec, in Specs
	// order, each of the spec's size). A row depends on its own sequence
	// only: not on n, on the other sequences nor on the number of
	// goroutines (ops.Threads) sharing the samples.
	WriteSampleGradients(params [][]float64, x []float64, n int, dst []float64)
}

// ClosedFormSampleGradients returns m's per-sample gradients in closed
// form, or nil when m has none; graph.SampleGradients then runs m's graph
// once per sample. The paper's model (kind "paper") on the fused engine
// (engine "auto" or "fused") has one: the hand-derived backward of the
// fused attention op (layers/ops) without its sum over samples, for every
// query mode, scale and trainable block. With engine "composed" it has
// none, so that engine keeps the graph's answer as the reference the
// closed form is tested against.
//
// The writer is not safe for concurrent use; make one per goroutine.
func ClosedFormSampleGradients(m Model) SampleGradientWriter {
	a, ok := m.(*attention)
	if !ok || !a.fused {
		return nil
	}
	return &paperGradients{cfg: a.cfg}
}

// paperGradients is the paper model's per-sample gradient. For sequence i
// with query tokens xq (R x d), queries q_{r,h} = xq_r^T W_h (or W_h x_1
// for first-token), attention a = softmax_rows(q X^T) and readout
// Phi = scale sum_{r,h} <U_h[r], a_{r,h} X>:
//
//	dPhi/dU_h[r] = scale a_{r,h} X
//	dPhi/dW_h    = xq^T dq_h         (dq_h^T xq for first-token)
//
// where dq_{r,h} = scale c_{r,h} X and c_{r,h,s} = a_{r,h,s} (<U_h[r], x_s>
// - sum_s' a_{r,h,s'} <U_h[r], x_s'>) is the softmax Jacobian applied to
// the readout: the fused op's backward (ops.Attention) with g_i = scale,
// computed sample by sample instead of summed.
type paperGradients struct {
	cfg  Config
	wp   []float64 // W packed as in the fused op: [d, H*d], leading dimension ld
	ld   int       // H*d + 8: rows of wp and of dq 4 KiB apart would share cache sets
	up   []float64 // U in query-row order: [R*H, d]
	bufs []*paperBuf
}

// paperBuf is one goroutine's scratch for one sequence.
type paperBuf struct {
	q, xt, a, cu, m []float64
}

func (g *paperGradients) WriteSampleGradients(params [][]float64, x []float64, n int, dst []float64) {
	c := g.cfg
	h, t, d, rows := c.Heads, c.Tokens, c.Dim, c.Rows()
	hd := h * d
	u, w := params[0], params[1]
	// Pack W and U the way buildFused does.
	g.ld = hd + 8
	g.wp = grow(g.wp, d*g.ld)
	for k := 0; k < h; k++ {
		wk := w[k*d*d : (k+1)*d*d]
		for j := 0; j < d; j++ {
			for l := 0; l < d; l++ {
				if c.IsFirstToken() {
					g.wp[l*g.ld+k*d+j] = wk[j*d+l] // packed[l, h, j] = W_h[j, l]
				} else {
					g.wp[j*g.ld+k*d+l] = wk[j*d+l] // packed[j, h, l] = W_h[j, l]
				}
			}
		}
	}
	g.up = grow(g.up, rows*hd)
	for k := 0; k < h; k++ {
		for r := 0; r < rows; r++ {
			copy(g.up[(r*h+k)*d:(r*h+k+1)*d], u[(k*rows+r)*d:(k*rows+r+1)*d])
		}
	}
	width := 0
	if c.TrainsU() {
		width += h * rows * d
	}
	if c.TrainsW() {
		width += h * d * d
	}
	workers := max(1, min(ops.Threads(), n))
	for len(g.bufs) < workers {
		rh := rows * h
		g.bufs = append(g.bufs, &paperBuf{
			q: make([]float64, rows*hd), xt: make([]float64, d*t),
			a: make([]float64, rh*t), cu: make([]float64, rh*t), m: make([]float64, rows*(hd+8)),
		})
	}
	td := t * d
	one := func(buf *paperBuf, i int) {
		g.sample(buf, x[i*td:(i+1)*td], dst[i*width:(i+1)*width])
	}
	if workers == 1 {
		for i := 0; i < n; i++ {
			one(g.bufs[0], i)
		}
		return
	}
	// Samples are handed out in order; each row is its sample's alone.
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	wg.Add(workers)
	for _, buf := range g.bufs[:workers] {
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				mine := i
				i++
				next.Unlock()
				if mine >= n {
					return
				}
				one(buf, mine)
			}
		}()
	}
	wg.Wait()
}

// sample writes one sequence's gradient row.
func (g *paperGradients) sample(buf *paperBuf, xi, row []float64) {
	c := g.cfg
	h, t, d, rows := c.Heads, c.Tokens, c.Dim, c.Rows()
	hd, rh := h*d, rows*h
	scale := c.ScaleFactor()
	xq := xi[:rows*d] // all tokens, or x_1
	for s := 0; s < t; s++ {
		for k := 0; k < d; k++ {
			buf.xt[k*t+s] = xi[s*d+k]
		}
	}
	// Queries, read as (R*H x d), row r*H+h = q_{r,h}; the attention.
	gemm.NN(rows, hd, d, xq, d, g.wp, g.ld, buf.q, hd, false)
	gemm.NN(rh, t, d, buf.q, d, buf.xt, t, buf.a, t, false)
	ops.SoftmaxRows(buf.a, buf.a, t)
	off := 0
	if c.TrainsU() {
		// dU: scale a X, row r*H+h to U_h[r].
		for k, v := range buf.a {
			buf.cu[k] = scale * v
		}
		for k := 0; k < h; k++ {
			// Rows r*H+k of the attention, H*T apart.
			gemm.NN(rows, d, t, buf.cu[k*t:], h*t, xi, d, row[k*rows*d:], d, false)
		}
		off = h * rows * d
	}
	if !c.TrainsW() {
		return
	}
	// c = a (<u, x_s> - sum_s' a_s' <u, x_s'>), then dq = scale c X.
	gemm.NN(rh, t, d, g.up, d, buf.xt, t, buf.cu, t, false)
	for r := 0; r < rh; r++ {
		ar, cr := buf.a[r*t:(r+1)*t], buf.cu[r*t:(r+1)*t]
		var m float64
		for s, v := range ar {
			m += float64(v * cr[s])
		}
		for s, v := range ar {
			cr[s] = scale * (v * (cr[s] - m))
		}
	}
	// dq: R rows of H*d, leading dimension ld.
	for r := 0; r < rows; r++ {
		gemm.NN(h, d, t, buf.cu[r*h*t:], t, xi, d, buf.m[r*g.ld:], d, false)
	}
	gw := row[off : off+h*d*d]
	for k := 0; k < h; k++ {
		if c.IsFirstToken() {
			// dW_h[j, l] = sum_r dq_{r,h}[j] xq_r[l]
			gemm.TN(d, d, rows, buf.m[k*d:], g.ld, xq, d, gw[k*d*d:], d, false)
		} else {
			// dW_h[j, l] = sum_r xq_r[j] dq_{r,h}[l]
			gemm.TN(d, d, rows, xq, d, buf.m[k*d:], g.ld, gw[k*d*d:], d, false)
		}
	}
}

func grow(b []float64, n int) []float64 {
	if cap(b) < n {
		return make([]float64, n)
	}
	return b[:n]
}
