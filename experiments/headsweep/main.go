// Command headsweep trains single-layer multi-head attention with GD for a
// sweep of head counts H and writes losses, errors, the theory's step sizes
// and bounds, parameters and plots to a result directory.
//
//	go run ./experiments/headsweep                 # the default sweep, H = 1..64
//	go run ./experiments/headsweep -heads 1,4 -steps 50 -out /tmp/hs
//	go run ./experiments/headsweep -help
//
// See package experiments for the flags, the layout of the result
// directory, resuming and the exit statuses.
package main

import (
	"os"

	"github.com/mhattn/mha/experiments"
)

func main() {
	os.Exit(experiments.Main("headsweep", experiments.HeadSweepWith, os.Args[1:], os.Stdout, os.Stderr))
}
