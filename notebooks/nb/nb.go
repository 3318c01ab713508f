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

// NewParams is layers.NewParams.
func NewParams(c Config, in Init) (*Params, error) { return layers.NewParams(c, in) }

// NewModel is graph.NewModel.
func NewModel(c Config, p *Params, data *Dataset) (*Model, error) { return graph.NewModel(c, p, data) }

// NewEvaluator is graph.NewEvaluator.
func NewEvaluator(c Config, data *Dataset) (*Evaluator, error) { return graph.NewEvaluator(c, data) }

// TheoryStepSize is theory.TheoryStepSize: eta = 1/L over the ball that K
// steps of GD from p0 stay in.
func TheoryStepSize(c Config, p0 *Params, data *Dataset, steps int) (StepSize, error) {
	return theory.TheoryStepSize(c, p0, data, steps)
}
