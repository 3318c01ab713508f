package nb

import (
	"bytes"

	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/headsweep/headsweep"
	"github.com/mhattn/mha/experiments/runner"
	"gonum.org/v1/plot"
)

// The experiment types a notebook names.
type (
	SweepConfig = headsweep.Config
	SweepResult = runner.Result
	PointResult = gdpoint.PointResult
)

// DefaultSweep is headsweep.DefaultConfig: the default head sweep. Its
// grid is its sweep: cfg.SweepHeads(1, 2, 4) sets the head counts, and
// cfg.SweepAxis any other key (see package runner).
func DefaultSweep() SweepConfig { return headsweep.DefaultConfig() }

// HeadSweep runs the sweep of cfg (headsweep.Run) and writes the result
// directory cfg.Out, quietly.
func HeadSweep(cfg SweepConfig) (*SweepResult, error) { return headsweep.Run(cfg) }

// LoadSweep reads a head-sweep result directory back.
func LoadSweep(dir string) (*SweepResult, error) { return headsweep.Load(dir) }

// SweepPoints are the records of res's points, in grid order, each with
// its rows; res.Records[i] holds point i's label and swept values.
func SweepPoints(res *SweepResult) ([]PointResult, error) { return gdpoint.Points(res) }

// SweepTable is the per-point summary table of res as text (one row per
// group of swept values; with a seed axis, mean and 95% interval).
func SweepTable(res *SweepResult) (string, error) {
	var b bytes.Buffer
	err := runner.WriteTable(&b, headsweep.Experiment, res)
	return b.String(), err
}

// The head sweep's plots (package gdpoint), by name.

// SweepLossPlot is gdpoint.LossPlot: training loss against the step per
// point, with the theory's training bound dashed.
func SweepLossPlot(res *SweepResult) (*plot.Plot, error) { return gdpoint.LossPlot(res) }

// SweepTestPlot is gdpoint.TestPlot: final test loss, test error and
// training loss against heads (or the first numeric swept key).
func SweepTestPlot(res *SweepResult) (*plot.Plot, error) { return gdpoint.TestPlot(res) }

// SweepDistancePlot is gdpoint.DistancePlot: ||theta_K - theta_0||
// against heads, with the certificate's ||theta* - theta_0||.
func SweepDistancePlot(res *SweepResult) (*plot.Plot, error) { return gdpoint.DistancePlot(res) }

// SweepAttentionPlot is gdpoint.AttentionPlot: attention mass on
// relevant test tokens against the step, per point.
func SweepAttentionPlot(res *SweepResult) (*plot.Plot, error) { return gdpoint.AttentionPlot(res) }
