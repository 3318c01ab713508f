// Command stepsize measures the theory step size against the largest step that decreases the loss monotonically over K steps, and writes metrics, a summary and plots
// to a result directory.
//
//	go run ./experiments/stepsize                  # the default run, results/stepsize
//	go run ./experiments/stepsize -print-config    # its config, to edit and pass with -config
//	go run ./experiments/stepsize -help
//
// See package runner for the flags, the result directory, resuming and
// the exit statuses, and package stepsize for the experiment.
package main

import (
	"os"

	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/experiments/stepsize/stepsize"
)

func main() { os.Exit(runner.Command(stepsize.Experiment)) }
