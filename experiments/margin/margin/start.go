package margin

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
)

// Initializations of margin.inits. Every step starts at zero-W (W = 0,
// uniform attention) with the readout U0 drawn by init (u_norm, seed); the
// step size is margin.first_step_eta. From W = 0 a W step sets W to
// -eta grad_W F, so eta only sets ||W1|| along a direction fixed by the
// data and U.
const (
	// InitRandom: U and W Gaussian (init.u_norm, init.w_norm, init.seed).
	InitRandom = layers.InitRandom
	// InitZeroW: W = 0, uniform attention; U as for random.
	InitZeroW = layers.InitZeroW
	// InitFirstStep: one GD step from zero-W on the blocks model.train
	// names (jointly for "UW").
	InitFirstStep = "first-step"
	// InitStepW: one W-only GD step from zero-W with U fixed at U0:
	// W1 = -eta grad_W F(U0, 0).
	InitStepW = "step-W"
	// InitStepUW: a U-only step from zero-W, U1 = U0 - eta grad_U F(U0, 0)
	// (at W = 0 every head's U moves alike, toward the labelled mean
	// tokens), then a W-only step at (U1, 0): W1 = -eta grad_W F(U1, 0).
	// The attention's step then acts on a readout that already reads the
	// signal.
	InitStepUW = "step-U-W"
	// InitIdeal: the attention uniform on the relevant tokens of each
	// sequence (theory.IdealNTK), with zero-W's U0 as readout; not
	// attained by any finite W, the limit of those that approach it.
	InitIdeal = "ideal"
)

// Inits are the allowed values of margin.inits, in a canonical order.
var Inits = []string{InitRandom, InitZeroW, InitFirstStep, InitStepW, InitStepUW, InitIdeal}

// Feature blocks of margin.features.
const (
	// FeaturesU: psi_i = y_i grad_U Phi(X_i) = y_i scale(H) (A_i X_i, every
	// head): they depend on the attention weights A_i only, not on U or
	// directly on W, so their margin measures how separable the attention
	// makes the data. P = H q d (q query rows: 1 for first-token).
	FeaturesU = layers.TrainU
	// FeaturesUW: all of the paper's model's parameters, U and W; W
	// features are quadratic in the tokens and P = H (q d + d^2).
	FeaturesUW = layers.TrainUW
)

// Features are the allowed values of margin.features.
var Features = []string{FeaturesU, FeaturesUW}

func quoted(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// Start returns the parameters of initialization name (one of Inits) of
// the paper's model c (c.Train is the blocks of "first-step"): in draws
// U0 (and W for "random"); the steps are GD steps of size eta on data.
// For "ideal" it returns zero-W's parameters, the readout IdealNTK uses.
func Start(c layers.Config, in layers.Init, name string, data *datasets.Dataset, eta float64, opt graph.Options) (*layers.Params, error) {
	if !slices.Contains(Inits, name) {
		return nil, fmt.Errorf("margin: initialization %q: want one of %s", name, quoted(Inits))
	}
	model := func(train string) (layers.Model, error) {
		c := c
		c.Train = train
		return layers.New(c)
	}
	m, err := model(layers.TrainUW)
	if err != nil {
		return nil, err
	}
	if name == InitRandom {
		in.Scheme = layers.InitRandom
		return layers.NewParams(m, in)
	}
	in.Scheme = layers.InitZeroW
	p0, err := layers.NewParams(m, in)
	if err != nil {
		return nil, err
	}
	step := func(train string, p *layers.Params) (*layers.Params, error) {
		m, err := model(train)
		if err != nil {
			return nil, err
		}
		q, err := graph.FirstStepOptions(m, p, data, eta, opt)
		if err != nil {
			return nil, fmt.Errorf("%s: %s step: %w", name, train, err)
		}
		return q, nil
	}
	switch name {
	case InitFirstStep:
		return step(c.Train, p0)
	case InitStepW:
		return step(layers.TrainW, p0)
	case InitStepUW:
		p1, err := step(layers.TrainU, p0)
		if err != nil {
			return nil, err
		}
		return step(layers.TrainW, p1)
	}
	return p0, nil // zero-W, ideal
}
