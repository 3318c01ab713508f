package graph_test

import (
	"fmt"
	"math"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	G "gorgonia.org/gorgonia"
)

// sigmoidAttention is a new attention variant written as a user would:
// every head scores the tokens with a merged key-query matrix, weights them
// with a sigmoid instead of a softmax, and reads out through U.
type sigmoidAttention struct{ cfg layers.Config }

func (m sigmoidAttention) Config() layers.Config { return m.cfg }

// Specs lists the parameters: names, shapes and seeded initializations.
func (m sigmoidAttention) Specs() []layers.ParamSpec {
	h, t, d := m.cfg.Heads, m.cfg.Tokens, m.cfg.Dim
	return []layers.ParamSpec{
		{Name: "U", Shape: []int{h, t, d}, Init: func(dst []float64, in layers.Init) {
			layers.FillGaussian(dst, in.UNorm/math.Sqrt(float64(t*d)), in.Seed, 1)
		}},
		{Name: "W", Shape: []int{h, d, d}, Init: func(dst []float64, in layers.Init) {
			layers.FillGaussian(dst, in.WNorm/float64(d), in.Seed, 2)
		}},
	}
}

// Build composes Phi from the blocks of package layers and Gorgonia's ops.
func (m sigmoidAttention) Build(x *G.Node, params []*G.Node) (*layers.Outputs, error) {
	u, w := params[0], params[1]
	xq, err := layers.QueryTokens(x, false)
	if err != nil {
		return nil, err
	}
	q, err := layers.Queries(xq, w, x.Shape()[0], false)
	if err != nil {
		return nil, err
	}
	s, err := layers.Scores(q, x)
	if err != nil {
		return nil, err
	}
	a, err := G.Sigmoid(s)
	if err != nil {
		return nil, err
	}
	mixed, err := layers.Mix(a, x)
	if err != nil {
		return nil, err
	}
	raw, err := layers.Readout(mixed, u)
	if err != nil {
		return nil, err
	}
	phi, err := layers.ScaleHeads(raw, m.cfg.ScaleFactor())
	return &layers.Outputs{Phi: phi, Weights: a}, err
}

// A new model in a few dozen lines: define its parameters and its graph,
// register it (so that "model": {"kind": "sigmoid"} selects it in any
// experiment's config), and train it with the framework's GD.
func Example_newModel() {
	layers.Register("sigmoid", func(c layers.Config) (layers.Model, error) { return sigmoidAttention{c}, nil })

	mix := datasets.DefaultMixture()
	mix.Train, mix.Test = 128, 128
	train, test, err := mix.Generate()
	if err != nil {
		panic(err)
	}
	model, err := layers.New(layers.Config{Kind: "sigmoid", Heads: 4, Tokens: mix.Tokens, Dim: mix.Dim})
	if err != nil {
		panic(err)
	}
	p0, err := layers.NewParams(model, layers.DefaultInit())
	if err != nil {
		panic(err)
	}
	m, err := graph.NewModel(model, p0, train)
	if err != nil {
		panic(err)
	}
	first, err := m.Evaluate()
	if err != nil {
		panic(err)
	}
	last, err := graph.GD{StepSize: 0.5, Steps: 200}.Run(m, nil)
	if err != nil {
		panic(err)
	}
	ev, err := graph.NewEvaluator(model, test)
	if err != nil {
		panic(err)
	}
	e, err := ev.Evaluate(m.Params())
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d trainable parameters\n", m.NumTrainable())
	fmt.Printf("train loss %.4f -> %.4f, test loss %.4f, test error %.3f\n", first.Loss, last.Loss, e.Loss, e.Error)
	// Output:
	// 1536 trainable parameters
	// train loss 0.6867 -> 0.0030, test loss 0.0048, test error 0.000
}
