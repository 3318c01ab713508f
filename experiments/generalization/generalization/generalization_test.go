package generalization

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/mhattn/mha/experiments/internal/exptest"
	"github.com/mhattn/mha/experiments/runner"
)

func TestEndToEnd(t *testing.T) {
	cfg := DefaultConfig()
	exptest.Tiny(&cfg, filepath.Join(t.TempDir(), "run"))
	cfg.Sweep, cfg.Eta = nil, 0 // the theory step, whose validity is checked
	cfg.SweepHeads(1, 2)
	cfg.SweepAxis(runner.Axis{Key: SizeKey, Values: raw("8", "16", "32")})
	cfg.SweepAxis(runner.Axis{Key: "data.seed", Values: raw("1", "2")})
	cfg.Steps = 30
	cfg.LogEvery = 10
	res, err := Run(cfg, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 2*3*2 || res.Records[3].Label != "heads1-train16-seed2" {
		t.Fatalf("%d points, fourth %q", len(res.Records), res.Records[3].Label)
	}
	exptest.CheckRun(t, Experiment, res, []string{"gap_vs_n", "test_loss_vs_n"})
	pts, err := Points(res)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pts {
		if p.Step != cfg.Steps || math.Abs(float64(p.Gap)-float64(p.TestLoss-p.TrainLoss)) > 1e-12 {
			t.Errorf("%s: step %d, gap %v, losses %v %v", res.Records[i].Label, p.Step, p.Gap, p.TestLoss, p.TrainLoss)
		}
		// The theory term's validity is decided with the measured path.
		if p.StepRule != "theory" || (p.Bound == nil) != (p.BoundError != "") {
			t.Fatalf("%s: rule %q, bound %v, error %q", res.Records[i].Label, p.StepRule, p.Bound, p.BoundError)
		}
		if b := p.Bound; b != nil && (p.BoundValid != b.TestValid || (p.BoundReason == "") != b.TestValid || math.IsNaN(float64(b.MaxDistance))) {
			t.Errorf("%s: valid %v (%q), bound %+v", res.Records[i].Label, p.BoundValid, p.BoundReason, b)
		}
	}
	fits, err := Summary(res)
	if err != nil {
		t.Fatal(err)
	}
	if len(fits) != 2 || len(fits[0].Groups) != 3 || fits[0].Groups[2].N != 32 || fits[0].Groups[0].Gap.N != 2 || math.IsNaN(fits[0].C) {
		t.Errorf("fits %+v", fits)
	}
}
