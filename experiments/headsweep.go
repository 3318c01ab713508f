package experiments

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// HeadSweepName is the experiment name recorded in config.json and
// summary.json.
const HeadSweepName = "headsweep"

// HeadSweepPoints returns one point per head count of cfg.Heads, in that
// order, labelled "H<h>", with cost proportional to H (a GD step costs
// about linearly in the number of heads).
func HeadSweepPoints(cfg Config) []Point {
	pts := make([]Point, len(cfg.Heads))
	for i, h := range cfg.Heads {
		c := cfg
		c.Heads = []int{h}
		pts[i] = Point{Index: i, Label: fmt.Sprintf("H%d", h), Cost: float64(h) + 1, Config: c}
	}
	return pts
}

// HeadSweep trains the model for every head count of cfg.Heads on the
// same data from nested initializations, with the theory step size per H
// (or cfg.Eta), and writes the result directory cfg.Out. It runs quietly;
// use HeadSweepWith for logs, progress and cancellation.
func HeadSweep(cfg Config) (*Result, error) { return HeadSweepWith(cfg, Options{}) }

// HeadSweepWith is HeadSweep with options.
func HeadSweepWith(cfg Config, opt Options) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &InputError{Err: err}
	}
	return RunSweep(HeadSweepName, cfg, HeadSweepPoints(cfg.Resolve()), HeadSweepPlots, opt)
}

// WriteTable prints the per-point summary as an aligned text table.
// Experiments other than headsweep print their own table
// (WriteExperimentTable).
func WriteTable(w io.Writer, res *Result) error {
	if res.Experiment != HeadSweepName && len(res.Points) == 0 {
		return WriteExperimentTable(w, res)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "H\tstatus\tstep\teta\tL\tgamma\ttrain loss\tbound\ttest loss\ttest err\t||theta_K-theta_0||\trel. attn\tseconds\t")
	g := func(x Number) string { return fmt.Sprintf("%.4g", float64(x)) }
	for _, p := range res.Points {
		bound := "-"
		if b := p.Theory.Bound; b != nil {
			bound = g(b.TrainAtK)
		}
		status := p.Status
		if p.DivergedStep != nil {
			status = fmt.Sprintf("diverged@%d", *p.DivergedStep)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t\n", p.Heads, status, p.Step, g(p.Eta), g(p.Theory.L),
			g(p.Theory.NTK.Gamma), g(p.TrainLoss), bound, g(p.TestLoss), g(p.TestErr), g(p.DistFromInit), g(p.RelevantAttention), float64(p.WallSeconds))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeWhere(w, res)
}
