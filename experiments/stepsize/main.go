// Command stepsize measures the theory step size against the largest step that decreases the loss monotonically over K steps, and writes metrics, a summary and plots
// to a result directory.
//
//	go run ./experiments/stepsize                  # the default run, results/stepsize
//	go run ./experiments/stepsize -print-config    # its config, to edit and pass with -config
//	go run ./experiments/stepsize -help
//
// See package experiments for the flags, the layout of the result
// directory, resuming and the exit statuses.
package main

import (
	"os"

	"github.com/mhattn/mha/experiments"
)

func main() {
	os.Exit(experiments.Main("stepsize", experiments.StepSizeWith, os.Args[1:], os.Stdout, os.Stderr))
}
