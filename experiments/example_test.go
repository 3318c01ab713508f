package experiments_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mhattn/mha/experiments"
)

// A head sweep called as a function, as from a notebook: a small config,
// then the per-point summary and a plot builder on the result.
func ExampleHeadSweep() {
	dir, err := os.MkdirTemp("", "headsweep-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	cfg := experiments.DefaultConfig()
	cfg.Data.Train, cfg.Data.Test = 32, 32
	cfg.Data.Tokens, cfg.Data.Dim, cfg.Data.Clusters = 4, 6, 2
	cfg.Heads = []int{1, 4}
	cfg.Steps = 20
	cfg.Out = filepath.Join(dir, "run")
	res, err := experiments.HeadSweep(cfg)
	if err != nil {
		panic(err)
	}
	for _, p := range res.Points {
		fmt.Printf("H=%d %s after %d steps, eta from the %s, training loss %.3f -> %.3f\n",
			p.Heads, p.Status, p.Step, p.EtaRule, p.Rows[0].TrainLoss, p.TrainLoss)
	}
	if _, err := experiments.LossPlot(res); err != nil {
		panic(err)
	}
	// Output:
	// H=1 ok after 20 steps, eta from the theory, training loss 0.600 -> 0.591
	// H=4 ok after 20 steps, eta from the theory, training loss 0.590 -> 0.573
}
