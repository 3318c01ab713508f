package graph

import (
	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
)

// FirstStep returns the parameters after one GD step of size eta from p on
// data, over the parameters m trains: the paper's "first-step"
// initialization when p is a zero-W initialization (uniform attention). p
// is not changed.
func FirstStep(m layers.Model, p *layers.Params, data *datasets.Dataset, eta float64) (*layers.Params, error) {
	return FirstStepOptions(m, p, data, eta, Options{})
}

// FirstStepOptions is FirstStep with options (the chunk size).
func FirstStepOptions(m layers.Model, p *layers.Params, data *datasets.Dataset, eta float64, o Options) (*layers.Params, error) {
	gd := GD{StepSize: eta, Steps: 1}
	if err := gd.Validate(); err != nil {
		return nil, err
	}
	model, err := NewModelOptions(m, p, data, o)
	if err != nil {
		return nil, err
	}
	if _, err := model.Step(eta); err != nil {
		return nil, err
	}
	return model.Params(), nil
}
