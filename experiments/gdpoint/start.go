package gdpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory"
)

// Data returns the training and test sets of a mixture config, generated
// once per run however many points ask, and saved once to
// data/<hash of the mixture config>/ (datasets.Save). dir is that
// directory relative to the result directory.
func Data(w *runner.Work, c datasets.MixtureConfig) (train, test *datasets.Dataset, dir string, err error) {
	b, _ := json.Marshal(c)
	h := sha256.Sum256(b)
	dir = filepath.Join("data", hex.EncodeToString(h[:])[:12])
	v, err := w.Shared(string(b), func() (any, error) {
		train, test, err := c.Generate()
		if err != nil {
			return nil, err
		}
		if err := datasets.Save(filepath.Join(w.Out, dir), train, test, &c); err != nil {
			return nil, err
		}
		if err := w.Record(dir); err != nil { // for -force
			return nil, err
		}
		return [2]*datasets.Dataset{train, test}, nil
	})
	if err != nil {
		return nil, nil, "", err
	}
	d := v.([2]*datasets.Dataset)
	return d[0], d[1], dir, nil
}

// Start is what every GD point begins with: its model config, data,
// theta_0, the token norm R, F(theta_0) and its step size.
type Start struct {
	Config      *Config
	Layer       layers.Config
	Model       layers.Model
	Train, Test *datasets.Dataset
	DataDir     string // data/<hash>, relative to the result directory
	P0          *layers.Params
	R, F0       float64
	Eta         float64
	Rule        string           // the step rule: "theory", "curvature" or "fixed" (theory.StepRule)
	Derivation  string           // how eta was derived, for summaries
	Constants   theory.Constants // over the ball GD with eta stays in (the paper's model only)
}

// NewStart sets a point up from its config: the model, the data, theta_0
// from Config.Init, and eta by the step rule (Config.StepRule): the
// theory step size for Config.Steps steps, c / lambda_max(Hess F(theta_0))
// or the config's eta.
func NewStart(w *runner.Work) (*Start, error) {
	c := Of(w.Config)
	s := &Start{Config: c, Layer: c.Layer()}
	var err error
	if s.Model, err = c.NewModel(); err != nil {
		return nil, err
	}
	if s.Train, s.Test, s.DataDir, err = Data(w, c.Data); err != nil {
		return nil, err
	}
	if s.P0, err = layers.NewParams(s.Model, c.Init); err != nil {
		return nil, err
	}
	ev, err := graph.NewEvaluatorOptions(s.Model, s.Train, c.GraphOptions())
	if err != nil {
		return nil, err
	}
	e0, err := ev.Evaluate(s.P0)
	if err != nil {
		return nil, err
	}
	s.R, s.F0 = theory.TokenNorm(s.Train), e0.Loss
	rule := c.StepRule()
	s.Rule = string(rule)
	switch rule {
	case theory.RuleFixed:
		s.Eta = c.Eta
		s.Derivation = fmt.Sprintf("fixed by config eta = %s", runner.FormatFloat(c.Eta))
	case theory.RuleCurvature:
		gm, err := graph.NewModelOptions(s.Model, s.P0, s.Train, c.GraphOptions())
		if err != nil {
			return nil, err
		}
		cs, err := theory.CurvatureStepSize(gm.NumTrainable(), func(v, dst []float64) error {
			_, err := gm.HessVec(v, dst)
			return err
		}, c.Step.C, CurvatureLanczos, 1)
		if err != nil {
			return nil, fmt.Errorf("step size: %w", err)
		}
		s.Eta, s.Derivation = cs.Eta, cs.Rule()
	case theory.RuleTheory:
		st, err := theory.StepSizeFor(s.Layer, s.P0, s.R, s.F0, c.Steps)
		if err != nil {
			return nil, fmt.Errorf("step size: %w", err)
		}
		s.Eta, s.Derivation, s.Constants = st.Eta, st.Rule(), st.Constants
		return s, nil
	default:
		return nil, fmt.Errorf("step.rule = %q: not a rule", rule)
	}
	if !c.IsPaper() {
		s.Derivation += fmt.Sprintf("; the theory's constants are not defined for model kind %q", c.Model.Kind)
		return s, nil
	}
	radius := math.Sqrt(2 * s.Eta * float64(c.Steps) * s.F0)
	s.Constants = theory.ConstantsOverBall(s.Layer, s.P0, s.R, radius)
	s.Derivation += fmt.Sprintf("; the theory's L over the ball of radius sqrt(2 eta K F0) = %.4g is %.4g (eta L = %.3g)",
		radius, s.Constants.Smoothness, s.Eta*s.Constants.Smoothness)
	return s, nil
}

// CurvatureLanczos is the number of Lanczos iterations of the curvature
// step rule's lambda_max(Hess F(theta_0)).
const CurvatureLanczos = 25

// Distance is the Euclidean distance between two parameter vectors.
func Distance(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return math.Sqrt(s)
}
