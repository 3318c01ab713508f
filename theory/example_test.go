package theory_test

import (
	"fmt"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory"
)

// Train a small model with the theory step size, then look at its NTK
// margin at initialization.
func Example() {
	mix := datasets.DefaultMixture()
	mix.Train, mix.Test = 64, 64
	train, test, err := mix.Generate()
	if err != nil {
		panic(err)
	}
	model0, err := layers.New(layers.Config{Heads: 4, Tokens: mix.Tokens, Dim: mix.Dim})
	if err != nil {
		panic(err)
	}
	p0, err := layers.NewParams(model0, layers.DefaultInit())
	if err != nil {
		panic(err)
	}
	const steps = 100
	step, err := theory.TheoryStepSize(model0, p0, train, steps)
	if err != nil {
		panic(err)
	}
	model, err := graph.NewModel(model0, p0, train)
	if err != nil {
		panic(err)
	}
	first, err := model.Evaluate()
	if err != nil {
		panic(err)
	}
	last, err := graph.GD{StepSize: step.Eta, Steps: steps}.Run(model, nil)
	if err != nil {
		panic(err)
	}
	ev, err := graph.NewEvaluator(model0, test)
	if err != nil {
		panic(err)
	}
	e, err := ev.Evaluate(model.Params())
	if err != nil {
		panic(err)
	}
	fmt.Printf("eta = %.4f within radius %.3f\n", step.Eta, step.Radius)
	fmt.Printf("train loss %.4f -> %.4f, test loss %.4f\n", first.Loss, last.Loss, e.Loss)

	ntk, err := theory.NewNTK(model0, p0, train)
	if err != nil {
		panic(err)
	}
	m := ntk.Margin()
	fmt.Printf("NTK margin %.4f, certified to %v\n", m.Gamma, m.Gap() <= theory.Tolerance*m.Upper)
	// Output:
	// eta = 0.0089 within radius 1.145
	// train loss 0.7405 -> 0.6688, test loss 0.6732
	// NTK margin 0.4064, certified to true
}
