package theory

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

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
//
// Lower <= gamma <= Upper always holds (up to rounding in the Gram
// matrix), whether or not the solver converged. Separable false does not
// mean "not separable": only Status == NotSeparable says that.
type Margin struct {
	// Gamma is the reported margin: Lower, the margin achieved by an explicit
	// separating direction, so it is never an overestimate. It is 0 when no
	// separating direction was found, which proves non-separability only
	// when Status is NotSeparable.
	Gamma float64
	// Lower <= gamma <= Upper: Lower = max(0, min_i (K a)_i) / sqrt(a^T K a)
	// is the margin of the direction built from Weights, Upper the smallest
	// norm sqrt(b^T K b) of a hull point b the solver visited.
	Lower, Upper float64
	Weights      []float64 // a, on the simplex: the direction of Lower
	Iterations   int       // Frank-Wolfe iterations plus active-set major cycles
	// Converged: Upper - Lower <= tol * Upper, or Upper below the zero
	// tolerance. When false the solver stopped at its iteration cap and
	// only the bounds are known.
	Converged bool
	Separable bool         // Lower > 0: a separating direction is certified
	Status    MarginStatus // what the bounds prove
}

// MarginStatus says what a Margin's certified bounds prove.
type MarginStatus int

const (
	// Certified: converged with Lower > 0; Gamma is gamma to the tolerance.
	Certified MarginStatus = iota
	// NotSeparable: Upper is below the zero tolerance, so the origin is in
	// the hull up to rounding; Gamma is 0.
	NotSeparable
	// SeparableNotConverged: Lower > 0 proves separability, but the gap
	// Upper - Lower exceeds the tolerance.
	SeparableNotConverged
	// Undecided: the solver stopped with Lower = 0 < Upper above the zero
	// tolerance; the data may or may not be separable.
	Undecided
)

// String names the status for tables and logs.
func (s MarginStatus) String() string {
	switch s {
	case Certified:
		return "certified"
	case NotSeparable:
		return "not separable"
	case SeparableNotConverged:
		return "separable, not converged"
	case Undecided:
		return "undecided (not converged)"
	}
	return fmt.Sprintf("MarginStatus(%d)", int(s))
}

// MarshalText writes the status name, for summary files.
func (s MarginStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

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
// the origin, given only their Gram matrix (n x n, row-major). It runs
// Frank-Wolfe with away steps and exact line search, which converges
// linearly but slowly when the vectors' norms differ by orders of
// magnitude; if that has not converged after 1000 (n + 10) iterations, it
// continues with Wolfe's active-set algorithm (exact minimization over
// affine hulls of supports, finite in exact arithmetic) from the
// Frank-Wolfe support. It stops when Upper - Lower <= tol * Upper (tol 0
// selects Tolerance), or when Upper falls below ZeroTolerance times the
// largest feature norm: then the origin is in the hull up to rounding and
// the data count as not separable. Without convergence it reports the best
// certified bounds it found and Converged false; it never reports "not
// separable" unless Upper is below the zero tolerance.
func MinNormPoint(gram []float64, n int, tol float64) Margin {
	return minNormPoint(gram, n, tol, 1000*(n+10), 50*(n+10))
}

// minNormPoint is MinNormPoint with explicit caps on Frank-Wolfe
// iterations and active-set major cycles (tests use small caps to see the
// unconverged report).
func minNormPoint(gram []float64, n int, tol float64, maxFW, maxMajor int) Margin {
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
	best := newBestBounds(gram, n)
	a, its, done := frankWolfe(gram, n, tol, zero, maxFW, best)
	if !done && maxMajor > 0 {
		more, _ := activeSet(gram, n, a, tol, zero, maxMajor, best)
		its += more
	}
	m := Margin{Lower: best.lower, Upper: best.upper, Weights: best.weights, Iterations: its}
	switch {
	case m.Upper <= zero:
		m.Converged, m.Status = true, NotSeparable
	case m.Upper-m.Lower <= tol*m.Upper:
		m.Converged, m.Status = true, Certified
	case m.Lower > 0:
		m.Status = SeparableNotConverged
	default:
		m.Status = Undecided
	}
	if m.Status == NotSeparable {
		m.Lower = 0
	}
	m.Separable = m.Lower > 0
	m.Gamma = m.Lower
	return m
}

// bestBounds keeps the best certified bounds seen: every simplex point a
// gives Upper = sqrt(a^T K a) and Lower = max(0, min_i (K a)_i) / Upper.
type bestBounds struct {
	gram    []float64
	n       int
	lower   float64
	upper   float64
	weights []float64
	g       []float64
}

func newBestBounds(gram []float64, n int) *bestBounds {
	return &bestBounds{gram: gram, n: n, upper: math.Inf(1), g: make([]float64, n)}
}

// offer recomputes K a exactly and keeps a's bounds where they improve.
func (b *bestBounds) offer(a []float64) (lower, upper float64) {
	n := b.n
	for i := range b.g {
		b.g[i] = dot2(b.gram[i*n:(i+1)*n], a)
	}
	quad := dot2(a, b.g)
	upper = math.Sqrt(math.Max(quad, 0))
	minG := b.g[0]
	for _, v := range b.g {
		minG = math.Min(minG, v)
	}
	if upper > 0 && minG > 0 {
		lower = minG / upper
	}
	if upper < b.upper {
		b.upper = upper
	}
	if lower > b.lower || b.weights == nil {
		b.lower = lower
		b.weights = append(b.weights[:0], a...)
	}
	return lower, upper
}

// converged reports whether the best bounds meet the stopping rule.
func (b *bestBounds) converged(tol, zero float64) bool {
	return b.upper <= zero || b.upper-b.lower <= tol*b.upper
}

// frankWolfe runs away-step Frank-Wolfe from the vertex of smallest norm
// and returns its last iterate, the iterations taken and whether the best
// bounds converged.
func frankWolfe(gram []float64, n int, tol, zero float64, maxIter int, best *bestBounds) ([]float64, int, bool) {
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
	it := 0
	for ; ; it++ {
		if it%64 == 63 {
			// Refresh g = K a exactly: the linear updates drift by rounding.
			// The refreshed point is also offered as a certificate.
			best.offer(a)
			copy(g, best.g)
			if best.converged(tol, zero) {
				return a, it, true
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
		upper := math.Sqrt(math.Max(quad, 0))
		lower := 0.0
		if upper > 0 && g[s] > 0 {
			lower = g[s] / upper
		}
		if upper <= zero || upper-lower <= tol*upper {
			// Confirm with exact K a before stopping.
			best.offer(a)
			if best.converged(tol, zero) {
				return a, it, true
			}
			copy(g, best.g) // not yet: keep stepping from exact K a
			quad = dot2(a, g)
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
				break // only vertex on the support; FW step was no better: stalled numerically
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
	best.offer(a)
	return a, it, best.converged(tol, zero)
}

// activeSet runs Wolfe's minimum-norm-point algorithm from the support of
// a (pruned to an affinely independent corral by its minor cycles): each
// major cycle adds the vertex minimizing (K a)_i, each minor cycle moves to
// the minimizer of the norm over the affine hull of the support, dropping
// vertices whose weights would turn negative. It returns the major cycles
// taken and whether the best bounds converged.
func activeSet(gram []float64, n int, a0 []float64, tol, zero float64, maxMajor int, best *bestBounds) (int, bool) {
	a := append([]float64(nil), a0...)
	var support []int
	for i, w := range a {
		if w > 0 {
			support = append(support, i)
		}
	}
	g := make([]float64, n)
	lastAdded, lastUpper := -1, math.Inf(1)
	for major := 0; major < maxMajor; major++ {
		// Minor cycles: reach the affine minimizer of the support with all
		// weights positive.
		for minor := 0; minor <= n+1; minor++ {
			w, ok := affineMinimizer(gram, n, support)
			if !ok {
				// Affinely dependent support: drop the smallest weight.
				drop := 0
				for k, i := range support {
					if a[i] < a[support[drop]] {
						drop = k
					}
				}
				a[support[drop]] = 0
				support = append(support[:drop], support[drop+1:]...)
				renormalize(a)
				continue
			}
			step := 1.0
			for k, i := range support {
				if w[k] <= 0 {
					step = math.Min(step, a[i]/(a[i]-w[k]))
				}
			}
			for k, i := range support {
				a[i] += step * (w[k] - a[i])
			}
			if step == 1 {
				break
			}
			kept := support[:0]
			for k, i := range support {
				if w[k] <= 0 && a[i] <= 1e-15 {
					a[i] = 0
					continue
				}
				if a[i] < 0 {
					a[i] = 0
					continue
				}
				kept = append(kept, i)
			}
			// Drop at least the vertex that hit zero first.
			if len(kept) == len(support) {
				drop := 0
				for k, i := range kept {
					if a[i] < a[kept[drop]] {
						drop = k
					}
				}
				a[kept[drop]] = 0
				kept = append(kept[:drop], kept[drop+1:]...)
			}
			support = kept
			renormalize(a)
		}
		best.offer(a)
		if best.converged(tol, zero) {
			return major + 1, true
		}
		copy(g, best.g)
		quad := dot2(a, g)
		j := 0
		for i := range g {
			if g[i] < g[j] {
				j = i
			}
		}
		if a[j] > 0 || quad-g[j] <= 1e-15*quad {
			return major + 1, false // no improving vertex: stalled at rounding level
		}
		if j == lastAdded && !(best.upper < lastUpper) {
			return major + 1, false // the vertex added last cycle was dropped again without progress
		}
		lastAdded, lastUpper = j, best.upper
		support = append(support, j)
	}
	return maxMajor, false
}

// affineMinimizer returns the weights w (summing to 1) of the point of
// smallest norm in the affine hull of the support, from the KKT system
// [K_S 1; 1^T 0] [w; mu] = [0; 1], with rows and columns scaled by
// 1/sqrt(K_ii) so badly scaled vertices stay well conditioned. ok is
// false when the system is singular.
func affineMinimizer(gram []float64, n int, support []int) ([]float64, bool) {
	k := len(support)
	d := make([]float64, k)
	for a, i := range support {
		d[a] = 1 / math.Sqrt(math.Max(gram[i*n+i], math.SmallestNonzeroFloat64))
	}
	sys := mat.NewDense(k+1, k+1, nil)
	rhs := mat.NewVecDense(k+1, nil)
	for a, i := range support {
		for b, j := range support {
			sys.Set(a, b, d[a]*gram[i*n+j]*d[b])
		}
		sys.Set(a, k, d[a])
		sys.Set(k, a, d[a])
	}
	rhs.SetVec(k, 1)
	var lu mat.LU
	lu.Factorize(sys)
	if _, sign := lu.LogDet(); sign == 0 {
		return nil, false
	}
	var sol mat.VecDense
	if err := lu.SolveVecTo(&sol, false, rhs); err != nil {
		var cond mat.Condition
		if !errors.As(err, &cond) || float64(cond) > 1e15 {
			return nil, false
		}
	}
	w := make([]float64, k)
	var sum float64
	for a := range w {
		w[a] = d[a] * sol.AtVec(a)
		sum += w[a]
	}
	if !(math.Abs(sum-1) < 1e-6) {
		return nil, false
	}
	for a := range w {
		w[a] /= sum
	}
	return w, true
}

// renormalize rescales nonnegative a to sum 1.
func renormalize(a []float64) {
	var s float64
	for _, v := range a {
		s += v
	}
	if s > 0 {
		scaleTo(a, 1/s)
	}
}
