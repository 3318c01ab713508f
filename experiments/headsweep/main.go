// Command headsweep trains single-layer multi-head attention with GD for a
// sweep of head counts H (or any other config key) and writes losses,
// errors, the theory's step sizes and bounds, parameters and plots to a
// result directory.
//
//	go run ./experiments/headsweep                 # the default sweep, H = 1..64, 5 seeds
//	go run ./experiments/headsweep -heads 1,4 -steps 50 -out /tmp/hs
//	go run ./experiments/headsweep -sweep data.zeta=0.125,0.25 -heads 1,2 -set data.sigma=0.2
//	go run ./experiments/headsweep -help
//
// See package runner for the flags, the result directory, resuming and
// the exit statuses, and package headsweep for the experiment.
package main

import (
	"os"

	"github.com/mhattn/mha/experiments/headsweep/headsweep"
	"github.com/mhattn/mha/experiments/runner"
)

func main() { os.Exit(runner.Command(headsweep.Experiment)) }
