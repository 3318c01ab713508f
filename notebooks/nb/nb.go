package nb

import (
	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory"
)

// The types a notebook names, so that one import serves it.
type (
	MixtureConfig = datasets.MixtureConfig
	Dataset       = datasets.Dataset
	Config        = layers.Config
	Init          = layers.Init
	Params        = layers.Params
	Model         = graph.Model
	Evaluator     = graph.Evaluator
	GD            = graph.GD
	Eval          = graph.Eval
	Progress      = graph.Progress
	StepSize      = theory.StepSize
)

// Choices of layers.Config and layers.Init, by the names the library uses.
const (
	AllToken     = layers.AllToken
	FirstToken   = layers.FirstToken
	InvSqrtHeads = layers.InvSqrtHeads
	InvHeads     = layers.InvHeads
	TrainUW      = layers.TrainUW
	TrainU       = layers.TrainU
	TrainW       = layers.TrainW
	InitRandom   = layers.InitRandom
	InitZeroW    = layers.InitZeroW
)

// DefaultMixture is datasets.DefaultMixture.
func DefaultMixture() MixtureConfig { return datasets.DefaultMixture() }

// DefaultInit is layers.DefaultInit.
func DefaultInit() Init { return layers.DefaultInit() }

// Generate draws the training and test sets of c (datasets.MixtureConfig.Generate).
func Generate(c MixtureConfig) (train, test *Dataset, err error) { return c.Generate() }

// model is the model of c (layers.New): notebooks name models by their
// Config.
func model(c Config) (layers.Model, error) { return layers.New(c) }

// NumTrainable is the number of trainable parameters of the model of c
// (layers.NumTrainable), 0 for a config no model is made from.
func NumTrainable(c Config) int {
	m, err := model(c)
	if err != nil {
		return 0
	}
	return layers.NumTrainable(m)
}

// NewParams is layers.NewParams for the model of c.
func NewParams(c Config, in Init) (*Params, error) {
	m, err := model(c)
	if err != nil {
		return nil, err
	}
	return layers.NewParams(m, in)
}

// NewModel is graph.NewModel for the model of c.
func NewModel(c Config, p *Params, data *Dataset) (*Model, error) {
	m, err := model(c)
	if err != nil {
		return nil, err
	}
	return graph.NewModel(m, p, data)
}

// NewEvaluator is graph.NewEvaluator for the model of c.
func NewEvaluator(c Config, data *Dataset) (*Evaluator, error) {
	m, err := model(c)
	if err != nil {
		return nil, err
	}
	return graph.NewEvaluator(m, data)
}

// TheoryStepSize is theory.TheoryStepSize: eta = 1/L over the ball that K
// steps of GD from p0 stay in.
func TheoryStepSize(c Config, p0 *Params, data *Dataset, steps int) (StepSize, error) {
	m, err := model(c)
	if err != nil {
		return StepSize{}, err
	}
	return theory.TheoryStepSize(m, p0, data, steps)
}
