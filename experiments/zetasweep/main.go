// Command zetasweep trains the model at a fixed number of heads (H = 4)
// for a sweep of the fraction zeta of relevant tokens, and reports the
// training and test loss and error and the attention mass on relevant
// tokens, against uniform attention. An experiment written on the runner.
//
//	go run ./experiments/zetasweep
//	go run ./experiments/zetasweep -heads 1,4 -sweep data.seed=1,2,3 -steps 200
package main

import (
	"encoding/json"
	"os"

	"gonum.org/v1/plot"

	"github.com/mhattn/mha/experiments/figure"
	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/runner"
)

func defaults() *gdpoint.Config {
	c := gdpoint.DefaultConfig("results/zetasweep")
	c.Heads, c.Steps = 4, 500
	c.SweepAxis(runner.Axis{Key: "data.zeta", Values: []json.RawMessage{[]byte("0.125"), []byte("0.25"), []byte("0.5"), []byte("0.75"), []byte("1")}})
	return &c
}

// attention is the final attention mass on relevant tokens against zeta,
// with the mass of uniform attention for reference.
func attention(res *runner.Result) (*plot.Plot, error) {
	pts, err := gdpoint.Points(res)
	if err != nil {
		return nil, err
	}
	p := figure.New("Attention on relevant tokens after training", "fraction of relevant tokens ζ", "attention mass on relevant tokens")
	for i, s := range res.Series("data.zeta") {
		var final, uniform []runner.Stats
		for _, g := range s.Groups {
			var f, u []float64
			for _, j := range g.Records {
				f, u = append(f, float64(pts[j].RelevantAttention)), append(u, float64(pts[j].UniformAttention))
			}
			final, uniform = append(final, runner.NewStats(f)), append(uniform, runner.NewStats(u))
		}
		figure.AddStats(p, s.X, final, figure.Color(i), figure.Glyph(i), nil, s.Name+" trained", false, false)
		figure.AddStats(p, s.X, uniform, figure.Gray, figure.Glyph(i), figure.Dashed, s.Name+" uniform", false, false)
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p, nil
}

func experiment() runner.Experiment {
	e := gdpoint.Experiment("zetasweep", "Trains at H = 4 for zeta = 0.125..1: losses, errors and attention on relevant tokens.", defaults)
	e.Plots = figure.Plots(figure.Builder{Name: "test_vs_zeta", Build: gdpoint.TestPlot},
		figure.Builder{Name: "attention_vs_zeta", Build: attention}, figure.Builder{Name: "relevant_attention", Build: gdpoint.AttentionPlot})
	return e
}

func main() { os.Exit(runner.Command(experiment())) }
