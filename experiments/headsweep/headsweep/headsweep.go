// Package headsweep is the head-sweep experiment: GD on the paper's
// model for every head count H of the sweep (by default H = 1..64, five
// seeds, K = 300 steps of eta = 1 on gdpoint.DefaultData) on the same data
// from nested initializations, reporting losses, errors, the theory's step sizes and bounds, the
// distance travelled and the attention on relevant tokens.
//
// Its points are training points (gdpoint.Train); its command is
// experiments/headsweep. Any key of the config can be set and swept
// (runner): -sweep data.zeta=0.125,0.25 -heads 1,2 runs four points.
package headsweep

import (
	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/runner"
)

// Name is the experiment's name in config.json and summary.json.
const Name = "headsweep"

// Config is the head sweep's config: a training point's.
type Config = gdpoint.Config

// DefaultConfig sweeps heads over gdpoint.DefaultHeads and the seed over
// gdpoint.DefaultSeeds (35 points) with K = 300 steps of eta = 1 into
// results/headsweep.
func DefaultConfig() Config {
	c := gdpoint.DefaultConfig("results/" + Name)
	c.SweepHeads(gdpoint.DefaultHeads...)
	c.SweepAxis(gdpoint.SeedsAxis(gdpoint.DefaultSeeds...))
	return c
}

// Experiment is the head sweep for the runner.
var Experiment = gdpoint.Experiment(Name,
	"Trains single-layer multi-head attention with GD for every point of the sweep (default: H = 1..64) and writes losses, errors, the theory's step sizes and bounds, parameters and plots.",
	func() *gdpoint.Config { c := DefaultConfig(); return &c })

// Run runs the sweep of cfg quietly and writes its result directory.
func Run(cfg Config) (*runner.Result, error) { return RunWith(cfg, runner.Options{}) }

// RunWith is Run with options (log, progress, cancellation, shards).
func RunWith(cfg Config, opt runner.Options) (*runner.Result, error) {
	return runner.Run(Experiment, &cfg, opt)
}

// Load reads a head-sweep result directory.
func Load(dir string) (*runner.Result, error) { return runner.LoadResult(Experiment, dir) }
