package margin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory"
)

// InitMargin is the NTK margin of one initialization on the point's
// features.
type InitMargin struct {
	// Init is the initialization (one of Inits).
	Init string `json:"init"`
	// NTK is the margin gamma with its certified bracket and status
	// (theory.MarginStatus: "not separable" only when proved, else the
	// bracket says what is known).
	NTK gdpoint.NTKInfo `json:"ntk"`
	// MeanNorm is mean_i ||psi_i||; Normalized, NormalizedLower and
	// NormalizedUpper are gamma and its bracket divided by it
	// (theory.Margin.Normalize): comparable across initializations.
	MeanNorm        runner.Number `json:"mean_norm"`
	Normalized      runner.Number `json:"normalized"`
	NormalizedLower runner.Number `json:"normalized_lower"`
	NormalizedUpper runner.Number `json:"normalized_upper"`
	// RelevantAttention is the mean attention mass on the relevant tokens
	// over the training set at this initialization (uniform: the fraction
	// of relevant tokens; 1 for ideal).
	RelevantAttention runner.Number `json:"relevant_attention"`
	// Loss is F at this initialization on the training set; null for
	// ideal, which no finite W attains.
	Loss    runner.Number `json:"loss"`
	Seconds runner.Number `json:"wall_seconds"`
}

// Measurement is what Measure returns: the feature count and the margin
// of every initialization, in the order asked for.
type Measurement struct {
	// N is the number of training sequences, P the number of features
	// (layers.NumTrainable of the feature blocks).
	N, P int
	// DimensionCount is N <= P: n generic feature vectors in P >= n
	// dimensions are linearly independent, hence separable, so
	// separability then says nothing about the attention; only the size
	// of the normalized margin does.
	DimensionCount bool
	Inits          []InitMargin
}

// Measure computes, for each initialization in inits (Inits), the NTK
// features on the blocks features (FeaturesU or FeaturesUW) of the paper's
// model c at that initialization on data, their minimum-norm point
// (theory.MinNormPoint), mean norm and normalized margin, and the
// attention mass on relevant tokens. "ideal" uses theory.IdealNTK on the
// same blocks. in draws U0 (and W for "random"); eta is the step size of
// the step initializations (Start). done, if not nil, is called after
// each initialization with how many are done. Measure stops with ctx's
// error between initializations when ctx is cancelled.
func Measure(ctx context.Context, c layers.Config, in layers.Init, features string, inits []string, eta float64, data *datasets.Dataset, opt graph.Options, done func(int)) (*Measurement, error) {
	fc := c
	fc.Train = features
	fm, err := layers.New(fc)
	if err != nil {
		return nil, err
	}
	if err := theory.Defined(fc); err != nil {
		return nil, fmt.Errorf("margin: %w", err)
	}
	out := &Measurement{N: data.N, P: layers.NumTrainable(fm)}
	out.DimensionCount = out.N <= out.P
	var ev *graph.Evaluator
	for k, name := range inits {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		p, err := Start(c, in, name, data, eta, opt)
		if err != nil {
			return nil, err
		}
		r := InitMargin{Init: name, RelevantAttention: 1, Loss: runner.NaN}
		var ntk *theory.NTK
		if name == InitIdeal {
			ntk, err = theory.IdealNTK(fm, p, data)
		} else {
			if ev == nil {
				if ev, err = graph.NewEvaluatorOptions(fm, data, opt); err != nil {
					return nil, err
				}
			}
			e, err := ev.Evaluate(p)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			r.RelevantAttention, r.Loss = runner.Number(ev.RelevantMass()), runner.Number(e.Loss)
			ntk, err = theory.NewNTK(fm, p, data)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		m := ntk.Margin()
		r.NTK = gdpoint.NTKInfoOf(m)
		norm := ntk.MeanNorm()
		g, lo, hi := m.Normalize(norm)
		r.MeanNorm, r.Normalized, r.NormalizedLower, r.NormalizedUpper = runner.Number(norm), runner.Number(g), runner.Number(lo), runner.Number(hi)
		r.Seconds = runner.Number(time.Since(t0).Seconds())
		out.Inits = append(out.Inits, r)
		if done != nil {
			done(k + 1)
		}
	}
	return out, nil
}

// statusWord is a margin status as one CSV-safe word.
func statusWord(s string) string {
	return strings.NewReplacer(", ", "-", " ", "-", "(", "", ")", "").Replace(s)
}
