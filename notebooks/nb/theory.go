package nb

import (
	"fmt"
	"math"

	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory"
)

// The theory types a notebook names.
type (
	Margin    = theory.Margin
	Constants = theory.Constants
	Spectrum  = theory.Spectrum
)

// Initialization schemes of MarginRow.Init: the two of layers.Init and
// the paper's first step from zero-W.
const InitFirstStep = "first-step"

// TokenNorm is theory.TokenNorm: R, the largest token norm of data.
func TokenNorm(data *Dataset) float64 { return theory.TokenNorm(data) }

// ConstantsOverBall is theory.ConstantsOverBall: the theory's constants
// for parameters within radius of p, tokens of norm at most r.
func ConstantsOverBall(c Config, p *Params, r, radius float64) Constants {
	return theory.ConstantsOverBall(c, p, r, radius)
}

// NTKMargin is the NTK margin gamma of data at p over the blocks c trains
// (theory.NewNTK and NTK.Margin).
func NTKMargin(c Config, p *Params, data *Dataset) (Margin, error) {
	md, err := model(c)
	if err != nil {
		return Margin{}, err
	}
	k, err := theory.NewNTK(md, p, data)
	if err != nil {
		return Margin{}, err
	}
	return k.Margin(), nil
}

// IdealMargin is theory.IdealMargin: the margin of U-only features under
// attention that selects exactly the relevant tokens.
func IdealMargin(c Config, data *Dataset) (Margin, error) { return theory.IdealMargin(c, data) }

// FirstStep is graph.FirstStep: the parameters after one GD step of size
// eta from p over the blocks c trains.
func FirstStep(c Config, p *Params, data *Dataset, eta float64) (*Params, error) {
	md, err := model(c)
	if err != nil {
		return nil, err
	}
	return graph.FirstStep(md, p, data, eta)
}

// Curvature is theory.Curvature: lambda_min and lambda_max of Hess F at the
// model's parameters from iters Lanczos steps.
func Curvature(m *Model, iters int, seed uint64) (Spectrum, error) {
	return theory.Curvature(m, iters, seed)
}

// InitParams draws theta_0 for c under one of three schemes: InitRandom
// and InitZeroW as layers.Init (in.Scheme is overridden), or
// InitFirstStep: zero-W, then one GD step of size eta on data over the
// blocks c trains (graph.FirstStep). eta is used by InitFirstStep only.
func InitParams(c Config, in Init, scheme string, data *Dataset, eta float64) (*Params, error) {
	switch scheme {
	case InitRandom, InitZeroW:
		in.Scheme = scheme
		return NewParams(c, in)
	case InitFirstStep:
		in.Scheme = InitZeroW
		p, err := NewParams(c, in)
		if err != nil {
			return nil, err
		}
		return FirstStep(c, p, data, eta)
	}
	return nil, fmt.Errorf("nb: init scheme %q: must be %q, %q or %q", scheme, InitRandom, InitZeroW, InitFirstStep)
}

// MarginRow is the NTK margin at theta_0 for one head count and
// initialization, beside the ideal margin for that head count.
type MarginRow struct {
	Heads int
	Init  string  // InitRandom, InitZeroW or InitFirstStep
	Eta   float64 // the first-step size (InitFirstStep only)
	// Gamma is the certified margin over the blocks the config trains
	// (theory.Margin.Gamma), with its bracket Lower <= gamma <= Upper.
	Gamma, Upper float64
	Separable    bool
	// GammaU is the margin of the U-only features grad_U Phi at the same
	// theta_0: the like-for-like comparison with Ideal.
	GammaU float64
	// Ideal is the margin of the ideal attention's U-features for this
	// head count (theory.IdealNTK; the margin of theory.IdealMargin).
	Ideal float64
	// The margins in units of their features' mean norm, mean_i
	// ||psi_i|| (theory.NTK.MeanNorm, Margin.Normalize). The raw margin
	// grows with the size of the features (a first step that enlarges W
	// or U raises it without separating the data better); the normalized
	// one does not, so it is what compares initializations and the ideal
	// attention: NormalizedU against IdealNormalized, like for like.
	Normalized, NormalizedU, IdealNormalized float64
}

// Margins computes a MarginRow for every head count in heads and every
// scheme in schemes, with base giving everything of the config but Heads,
// on data (which needs its relevance mask). in seeds the initialization;
// eta is the first-step size.
func Margins(base Config, heads []int, schemes []string, in Init, data *Dataset, eta float64) ([]MarginRow, error) {
	var rows []MarginRow
	for _, h := range heads {
		c := base
		c.Heads = h
		cu := c
		cu.Train = TrainU
		mc, err := model(c)
		if err != nil {
			return nil, err
		}
		mu, err := model(cu)
		if err != nil {
			return nil, err
		}
		// The ideal U-features do not depend on U or W: any parameters
		// of the model serve.
		p0, err := NewParams(c, in)
		if err != nil {
			return nil, err
		}
		ki, err := theory.IdealNTK(mu, p0, data)
		if err != nil {
			return nil, fmt.Errorf("nb: H = %d: %w", h, err)
		}
		ideal := ki.Margin()
		idealNorm, _, _ := ideal.Normalize(ki.MeanNorm())
		for _, s := range schemes {
			p, err := InitParams(c, in, s, data, eta)
			if err != nil {
				return nil, fmt.Errorf("nb: H = %d, %s: %w", h, s, err)
			}
			k, err := theory.NewNTK(mc, p, data)
			if err != nil {
				return nil, fmt.Errorf("nb: H = %d, %s: %w", h, s, err)
			}
			ku, err := theory.NewNTK(mu, p, data)
			if err != nil {
				return nil, fmt.Errorf("nb: H = %d, %s: %w", h, s, err)
			}
			m, m2 := k.Margin(), ku.Margin()
			g, _, _ := m.Normalize(k.MeanNorm())
			gu, _, _ := m2.Normalize(ku.MeanNorm())
			eta := eta
			if s != InitFirstStep {
				eta = 0
			}
			rows = append(rows, MarginRow{Heads: h, Init: s, Eta: eta, Gamma: m.Gamma, Upper: m.Upper, Separable: m.Separable,
				GammaU: m2.Gamma, Ideal: ideal.Gamma, Normalized: g, NormalizedU: gu, IdealNormalized: idealNorm})
		}
	}
	return rows, nil
}

// Label names the row's initialization, with the step size for first-step.
func (r MarginRow) Label() string {
	if r.Init == InitFirstStep {
		return fmt.Sprintf("%s (eta = %g)", r.Init, r.Eta)
	}
	return r.Init
}

// BoundRow holds, at one parameter point, what the theory bounds and what
// it bounds, measured (docs/theory.md).
type BoundRow struct {
	Heads int
	Loss  float64 // F(theta)
	R     float64 // largest token norm

	// GradMax is max_i ||grad_theta Phi(theta; X_i)||, measured
	// (graph.SampleGradients); Lipschitz is its bound G.
	GradMax, Lipschitz float64
	// LambdaMax and LambdaMin are the extreme eigenvalues of Hess F,
	// measured (theory.Curvature), with the Lanczos residuals.
	LambdaMax, LambdaMin float64
	MaxResid, MinResid   float64
	// Smoothness is L >= ||Hess F||.
	Smoothness float64
	// Kappa is the weak-convexity constant: lambda_min(Hess F) >= -Kappa F.
	Kappa float64
}

// Ratio is the measured weak-convexity ratio lambda_min / F, which the
// theory bounds below by -Kappa.
func (b BoundRow) Ratio() float64 { return b.LambdaMin / b.Loss }

// Holds reports whether every measured quantity is within its bound, with
// the Lanczos residuals as slack.
func (b BoundRow) Holds() bool {
	return b.GradMax <= b.Lipschitz*(1+1e-9) &&
		math.Abs(b.LambdaMax)-b.MaxResid <= b.Smoothness &&
		math.Abs(b.LambdaMin)-b.MinResid <= b.Smoothness &&
		b.LambdaMin+b.MinResid >= -b.Kappa*b.Loss
}

// MeasureBounds evaluates the theory's constants at p (radius 0) on data
// and measures what they bound: the per-sample gradient norms of Phi and
// the extreme eigenvalues of Hess F from iters Lanczos steps seeded by seed.
func MeasureBounds(c Config, p *Params, data *Dataset, iters int, seed uint64) (BoundRow, error) {
	r := theory.TokenNorm(data)
	k := theory.ConstantsOverBall(c, p, r, 0)
	row := BoundRow{Heads: c.Heads, R: r, Lipschitz: k.Lipschitz, Smoothness: k.Smoothness, Kappa: k.WeakConvexity}

	md, err := model(c)
	if err != nil {
		return row, err
	}
	sg, err := graph.NewSampleGradients(md)
	if err != nil {
		return row, err
	}
	grads, err := sg.Compute(p, data, nil)
	if err != nil {
		return row, err
	}
	width := layers.NumTrainable(md)
	for i := 0; i < data.N; i++ {
		var sq float64
		for _, g := range grads[i*width : (i+1)*width] {
			sq += g * g
		}
		row.GradMax = math.Max(row.GradMax, math.Sqrt(sq))
	}

	m, err := graph.NewModel(md, p, data)
	if err != nil {
		return row, err
	}
	e, err := m.Evaluate()
	if err != nil {
		return row, err
	}
	row.Loss = e.Loss
	s, err := theory.Curvature(m, iters, seed)
	if err != nil {
		return row, err
	}
	row.LambdaMax, row.LambdaMin, row.MaxResid, row.MinResid = s.Max, s.Min, s.MaxResid, s.MinResid
	return row, nil
}

// WeakConvexitySlope is the least-squares slope of log(-lambda_min/F)
// against log H over rows: about -1/2 when the measured weak convexity
// shrinks like kappa ~ 1/sqrt(H). It is NaN when fewer than two distinct
// head counts have lambda_min < 0.
func WeakConvexitySlope(rows []BoundRow) float64 {
	var heads, ratios []float64
	for _, r := range rows {
		if r.LambdaMin < 0 && r.Loss > 0 {
			heads = append(heads, float64(r.Heads))
			ratios = append(ratios, -r.Ratio())
		}
	}
	slope, _ := runner.FitLogLog(heads, ratios)
	return slope
}
