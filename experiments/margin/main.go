// Command margin measures the NTK margin gamma at initialization against H, zeta and the initialization, beside the ideal attention's margin, and writes metrics, a summary and plots
// to a result directory.
//
//	go run ./experiments/margin                  # the default run, results/margin
//	go run ./experiments/margin -print-config    # its config, to edit and pass with -config
//	go run ./experiments/margin -help
//
// See package experiments for the flags, the layout of the result
// directory, resuming and the exit statuses.
package main

import (
	"os"

	"github.com/mhattn/mha/experiments"
)

func main() {
	os.Exit(experiments.Main("margin", experiments.MarginWith, os.Args[1:], os.Stdout, os.Stderr))
}
