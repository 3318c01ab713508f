// Command generalization measures the test loss and generalization gap against the training-set size n for a few H, beside C/n, and writes metrics, a summary and plots
// to a result directory.
//
//	go run ./experiments/generalization                  # the default run, results/generalization
//	go run ./experiments/generalization -print-config    # its config, to edit and pass with -config
//	go run ./experiments/generalization -help
//
// See package experiments for the flags, the layout of the result
// directory, resuming and the exit statuses.
package main

import (
	"os"

	"github.com/mhattn/mha/experiments"
)

func main() {
	os.Exit(experiments.Main("generalization", experiments.GeneralizationWith, os.Args[1:], os.Stdout, os.Stderr))
}
