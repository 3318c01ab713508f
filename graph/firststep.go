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
	gd := GD{StepSize: eta, Steps: 1}
	if err := gd.Validate(); err != nil {
		return nil, err
	}
	model, err := NewModel(m, p, data)
	if err != nil {
		return nil, err
	}
	if _, err := model.Step(eta); err != nil {
		return nil, err
	}
	return model.Params(), nil
}
