// Command margin measures the NTK margin gamma at initialization against
// H, the initialization and the data seed, beside the ideal attention's
// margin, and writes metrics, a summary and plots to a result directory.
//
//	go run ./experiments/margin                  # the default run, results/margin
//	go run ./experiments/margin -heads 8 -sweep data.zeta=0.125,0.25,0.5,0.75
//	go run ./experiments/margin -print-config    # its config, to edit and pass with -config
//
// See package runner for the flags, the result directory, resuming and
// the exit statuses, and package margin for the experiment.
package main

import (
	"os"

	"github.com/mhattn/mha/experiments/margin/margin"
	"github.com/mhattn/mha/experiments/runner"
)

func main() { os.Exit(runner.Main(margin.Experiment, os.Args[1:], os.Stdout, os.Stderr)) }
