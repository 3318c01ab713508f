// Command generalization measures the test loss and generalization gap against the training-set size n for a few H, beside C/n, and writes metrics, a summary and plots
// to a result directory.
//
//	go run ./experiments/generalization                  # the default run, results/generalization
//	go run ./experiments/generalization -print-config    # its config, to edit and pass with -config
//	go run ./experiments/generalization -help
//
// See package runner for the flags, the result directory, resuming and
// the exit statuses, and package generalization for the experiment.
package main

import (
	"os"

	"github.com/mhattn/mha/experiments/generalization/generalization"
	"github.com/mhattn/mha/experiments/runner"
)

func main() { os.Exit(runner.Command(generalization.Experiment)) }
