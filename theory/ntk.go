package theory

import (
	"fmt"
	"math"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
)

// HessVecer is what Curvature needs of a model; *graph.Model is one.
type HessVecer interface {
	NumTrainable() int
	HessVec(v, dst []float64) ([]float64, error)
}

// NTK holds the NTK features psi_i = y_i grad_theta Phi(theta_0; X_i) of a
// dataset at theta_0 and their Gram matrix K_ij = <psi_i, psi_j>.
type NTK struct {
	N, P     int
	Features []float64 // N x P, row-major
	Gram     []float64 // N x N, row-major
}

// NewNTK computes the NTK features and Gram matrix of data at p over the
// trainable parameters of any model.
func NewNTK(m layers.Model, p *layers.Params, data *datasets.Dataset) (*NTK, error) {
	sg, err := graph.NewSampleGradients(m)
	if err != nil {
		return nil, err
	}
	feats, err := sg.Compute(p, data, nil)
	if err != nil {
		return nil, err
	}
	P := layers.NumTrainable(m)
	for i := 0; i < data.N; i++ {
		scaleTo(feats[i*P:(i+1)*P], data.Y[i])
	}
	k := &NTK{N: data.N, P: P, Features: feats, Gram: make([]float64, data.N*data.N)}
	for i := 0; i < k.N; i++ {
		for j := 0; j <= i; j++ {
			g := dot2(k.row(i), k.row(j))
			k.Gram[i*k.N+j], k.Gram[j*k.N+i] = g, g
		}
	}
	return k, nil
}

func (k *NTK) row(i int) []float64 { return k.Features[i*k.P : (i+1)*k.P] }

// Margin solves for the NTK margin of k (see MinNormPoint).
func (k *NTK) Margin() Margin { return MinNormPoint(k.Gram, k.N, 0) }

// Direction returns the unit separating direction v = sum_i a_i psi_i /
// ||sum_i a_i psi_i|| for the weights of m, in the trainable-vector layout,
// and its achieved margin min_i <psi_i, v>. It returns nil and 0 when the
// combination is zero.
func (k *NTK) Direction(m Margin) ([]float64, float64) {
	v := make([]float64, k.P)
	for i, a := range m.Weights {
		if a != 0 {
			axpy(v, a, k.row(i))
		}
	}
	n := norm2(v)
	if n == 0 {
		return nil, 0
	}
	scaleTo(v, 1/n)
	achieved := math.Inf(1)
	for i := 0; i < k.N; i++ {
		achieved = math.Min(achieved, dot2(k.row(i), v))
	}
	return v, achieved
}

// Margin is the NTK margin gamma = max_{||v||=1} min_i <psi_i, v>, which by
// minimax duality equals the distance from the origin to the convex hull of
// the features, min over the simplex of ||sum_i a_i psi_i||.
type Margin struct {
	// Gamma is the reported margin: Lower, the margin achieved by an explicit
	// separating direction, so it is never an overestimate; 0 when the
	// data are not separable.
	Gamma float64
	// Lower <= gamma <= Upper: Lower = max(0, min_i (K a)_i) / Upper is the
	// margin of the direction built from a, Upper = sqrt(a^T K a) the norm
	// of a point of the hull.
	Lower, Upper float64
	Weights      []float64 // a, on the simplex
	Iterations   int
	Converged    bool // Upper - Lower <= Tolerance * Upper, or Upper below the zero tolerance
	Separable    bool // Lower > 0
}

// Gap is the proof-of-optimality gap Upper - Lower >= |Gamma - gamma|.
func (m Margin) Gap() float64 { return m.Upper - m.Lower }

// Tolerance is the default relative gap at which MinNormPoint stops.
const Tolerance = 1e-6

// ZeroTolerance is the smallest ||sum_i a_i psi_i||, relative to the
// largest ||psi_i||, that MinNormPoint resolves. Working from the Gram
// matrix, a^T K a carries rounding errors of order eps max_i K_ii, so norms
// below about sqrt(eps) max_i ||psi_i|| are indistinguishable from 0; this
// is that level with a safety factor of 4.
const ZeroTolerance = 6e-8

// MinNormPoint finds the point of the convex hull of n vectors closest to
// the origin, given only their Gram matrix (n x n, row-major), by
// Frank-Wolfe with away steps and exact line search, which converges
// linearly on this problem. It stops when Upper - Lower <= tol * Upper
// (tol 0 selects Tolerance), or when Upper falls below ZeroTolerance times
// the largest feature norm: then the origin is in the hull up to rounding
// and the data count as not separable.
func MinNormPoint(gram []float64, n int, tol float64) Margin {
	if len(gram) != n*n || n < 1 {
		panic(fmt.Sprintf("theory: MinNormPoint: Gram has %d entries for n = %d", len(gram), n))
	}
	if tol <= 0 {
		tol = Tolerance
	}
	var scale float64
	for i := 0; i < n; i++ {
		scale = math.Max(scale, gram[i*n+i])
	}
	zero := ZeroTolerance * math.Sqrt(scale)
	// Start at the vertex of smallest norm.
	a := make([]float64, n)
	start := 0
	for i := 1; i < n; i++ {
		if gram[i*n+i] < gram[start*n+start] {
			start = i
		}
	}
	a[start] = 1
	g := make([]float64, n) // g = K a
	copy(g, gram[start*n:(start+1)*n])
	m := Margin{Weights: a}
	maxIter := 1000 * (n + 10)
	for it := 0; ; it++ {
		if it%64 == 63 {
			// Refresh g = K a exactly: the linear updates drift by rounding.
			for i := range g {
				g[i] = dot2(gram[i*n:(i+1)*n], a)
			}
		}
		quad := dot2(a, g) // a^T K a
		s, v := 0, -1      // FW vertex (min g), away vertex (max g on the support)
		for i := range g {
			if g[i] < g[s] {
				s = i
			}
			if a[i] > 0 && (v < 0 || g[i] > g[v]) {
				v = i
			}
		}
		m.Upper = math.Sqrt(math.Max(quad, 0))
		m.Lower = 0
		if m.Upper > 0 && g[s] > 0 {
			m.Lower = g[s] / m.Upper
		}
		m.Iterations = it
		if m.Upper <= zero || m.Upper-m.Lower <= tol*m.Upper {
			m.Converged = true
			break
		}
		if it >= maxIter {
			break
		}
		fwGap := quad - g[s]   // <-grad/2, e_s - a>
		awayGap := g[v] - quad // <-grad/2, a - e_v>
		var idx int
		var dir, maxStep float64 // move a += t (e_idx - a) * dir-sign
		if fwGap >= awayGap {
			// Toward vertex s: d = e_s - a.
			idx, dir, maxStep = s, 1, 1
		} else {
			// Away from vertex v: d = a - e_v, step bounded to keep a_v >= 0.
			idx, dir = v, -1
			if a[v] >= 1 {
				break // only vertex on the support; FW step was no better: converged numerically
			}
			maxStep = a[v] / (1 - a[v])
		}
		// f(a + t d) with d = dir (e_idx - a): slope d^T g and curvature d^T K d.
		slope := dir * (g[idx] - quad)
		curv := gram[idx*n+idx] - 2*g[idx] + quad
		if curv <= 0 {
			break // numerically flat: no descent possible
		}
		t := math.Min(-slope/curv, maxStep)
		if !(t > 0) {
			break
		}
		// a <- a + t dir (e_idx - a) and g likewise, linearly.
		keep := 1 - t*dir
		for i := range a {
			a[i] *= keep
			g[i] = keep*g[i] + t*dir*gram[idx*n+i]
		}
		a[idx] += t * dir
		if dir < 0 && t == maxStep {
			a[idx] = 0 // vertex dropped from the support exactly
		}
	}
	m.Separable = m.Lower > 0
	if m.Separable {
		m.Gamma = m.Lower
	}
	return m
}
