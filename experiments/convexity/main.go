// Command convexity measures the Hessian spectrum along the GD path
// against H for any model kind: lambda_min(Hess F)/F and lambda_max beside
// the theory's -kappa and L, the top/bottom-k eigenvalues with residuals,
// Hutchinson's trace, the SLQ spectral density and its negative mass. It
// writes metrics, a summary, per-point slq.csv and eigs.csv, and plots to
// a result directory.
//
//	go run ./experiments/convexity                  # the default run, results/convexity
//	go run ./experiments/convexity -print-config    # its config, to edit and pass with -config
//	go run ./experiments/convexity -help
//	go run ./experiments/convexity -set spectrum.starts=4 -set spectrum.sigma=0.01
//
// See package runner for the flags, the result directory, resuming and
// the exit statuses, and package convexity for the experiment.
package main

import (
	"os"

	"github.com/mhattn/mha/experiments/convexity/convexity"
	"github.com/mhattn/mha/experiments/runner"
)

func main() { os.Exit(runner.Command(convexity.Experiment)) }
