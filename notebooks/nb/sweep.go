package nb

import (
	"bytes"

	"github.com/mhattn/mha/experiments"
	"gonum.org/v1/plot"
)

// The experiments types a notebook names.
type (
	SweepConfig = experiments.Config
	SweepResult = experiments.Result
	PointResult = experiments.PointResult
)

// DefaultSweep is experiments.DefaultConfig: the default head sweep.
func DefaultSweep() SweepConfig { return experiments.DefaultConfig() }

// HeadSweep is experiments.HeadSweep: it trains one model per head count of
// cfg.Heads and writes the result directory cfg.Out, quietly.
func HeadSweep(cfg SweepConfig) (*SweepResult, error) { return experiments.HeadSweep(cfg) }

// SweepTable is the per-point summary table of res (experiments.WriteTable)
// as text.
func SweepTable(res *SweepResult) (string, error) {
	var b bytes.Buffer
	err := experiments.WriteTable(&b, res)
	return b.String(), err
}

// The head sweep's plots (package experiments), by name.

// SweepLossPlot is experiments.LossPlot: training loss against the step
// per H, with the theory's training bound dashed.
func SweepLossPlot(res *SweepResult) (*plot.Plot, error) { return experiments.LossPlot(res) }

// SweepTestPlot is experiments.TestPlot: final test loss, test error and
// training loss against H.
func SweepTestPlot(res *SweepResult) (*plot.Plot, error) { return experiments.TestPlot(res) }

// SweepDistancePlot is experiments.DistancePlot: ||theta_K - theta_0||
// against H, with the certificate's ||theta* - theta_0||.
func SweepDistancePlot(res *SweepResult) (*plot.Plot, error) { return experiments.DistancePlot(res) }

// SweepAttentionPlot is experiments.AttentionPlot: attention mass on
// relevant test tokens against the step, per H.
func SweepAttentionPlot(res *SweepResult) (*plot.Plot, error) { return experiments.AttentionPlot(res) }
