// Command margin tests NTK separability after one initialization step:
// for each initialization (random, uniform attention, a W step, a U step
// then a W step, the ideal attention) it measures the NTK margin gamma on
// the same features, raw and normalized by the mean feature norm, with
// the attention mass on the relevant tokens, against H and the data, and
// writes metrics, a summary, a table and plots to a result directory.
//
//	go run ./experiments/margin                  # the default run, results/margin
//	go run ./experiments/margin -sweep data.zeta=0.125,0.25,0.5
//	go run ./experiments/margin -set margin.features=UW -set data.train=1024 -heads 1,2
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

func main() { os.Exit(runner.Command(margin.Experiment)) }
