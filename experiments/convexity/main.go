// Command convexity measures lambda_min(Hess F)/F and lambda_max along the GD path against H, beside the theory's -kappa and L, and writes metrics, a summary and plots
// to a result directory.
//
//	go run ./experiments/convexity                  # the default run, results/convexity
//	go run ./experiments/convexity -print-config    # its config, to edit and pass with -config
//	go run ./experiments/convexity -help
//
// See package runner for the flags, the result directory, resuming and
// the exit statuses, and package convexity for the experiment.
package main

import (
	"os"

	"github.com/mhattn/mha/experiments/convexity/convexity"
	"github.com/mhattn/mha/experiments/runner"
)

func main() { os.Exit(runner.Main(convexity.Experiment, os.Args[1:], os.Stdout, os.Stderr)) }
