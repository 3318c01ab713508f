package headsweep_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/headsweep/headsweep"
)

// A head sweep called as a function, as from a notebook: a small config
// sweeping H = 1, 4, then each point's label, status and losses, and a
// plot builder on the result.
func ExampleRun() {
	dir, err := os.MkdirTemp("", "headsweep-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	cfg := headsweep.DefaultConfig()
	cfg.Data.Train, cfg.Data.Test = 32, 32
	cfg.Data.Tokens, cfg.Data.Dim, cfg.Data.Clusters = 4, 6, 2
	cfg.Sweep = nil // one seed
	cfg.SweepHeads(1, 4)
	cfg.Steps = 20
	cfg.Out = filepath.Join(dir, "run")
	res, err := headsweep.Run(cfg)
	if err != nil {
		panic(err)
	}
	pts, err := gdpoint.Points(res)
	if err != nil {
		panic(err)
	}
	for i, p := range pts {
		fmt.Printf("%s: %s after %d steps, step rule %s, training loss %.3f -> %.3f\n",
			res.Records[i].Label, p.Status, p.Step, p.EtaRule, p.Rows[0].TrainLoss, p.TrainLoss)
	}
	if _, err := gdpoint.LossPlot(res); err != nil {
		panic(err)
	}
	// Output:
	// heads1: ok after 20 steps, step rule fixed, training loss 0.623 -> 0.175
	// heads4: ok after 20 steps, step rule fixed, training loss 0.584 -> 0.324
}
