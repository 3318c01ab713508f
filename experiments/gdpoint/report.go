package gdpoint

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"

	"github.com/mhattn/mha/experiments/figure"
	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/theory"
)

// Table prints one row per group of points (the points that share every
// swept value but the seeds: with a seed axis, numbers are the mean and
// the half-width of the 95% interval over the seeds): the swept values,
// status, the step rule, eta and the L over its ball, the NTK margin
// gamma (its status when not certified), the final training loss beside
// the theory's bound at K ("n/a (<hypothesis>)" where a hypothesis of the
// bound does not hold for the run; below the table each failing
// hypothesis with its count and one point's reason), the
// training error, test loss and error, the distance travelled and the
// attention mass on relevant test tokens.
func Table(w io.Writer, res *runner.Result) error {
	pts, err := Points(res)
	if err != nil {
		return err
	}
	var axes []string
	for _, k := range res.Axes {
		if !runner.IsSeedKey(k) {
			axes = append(axes, k)
		}
	}
	seeds := len(res.SeedAxes()) > 0
	if note := res.SeedNote(); note != "" {
		fmt.Fprintf(w, "%s\n", note)
	}
	tw := runner.NewTable(w, len(res.GroupHeader()))
	var head []string
	for _, k := range axes {
		head = append(head, res.AxisName(k))
	}
	if seeds {
		head = append(head, "seeds")
	}
	head = append(head, "status", "step", "step_rule", "eta", "L", "gamma", "train loss", "bound", "train err", "test loss", "test err", "||theta_K-theta_0||", "rel. attn", "seconds")
	fmt.Fprintln(tw, join(head)+"\t")
	var notes [][2]string // first failing hypothesis, an example reason
	var diverged []PointResult
	noteCount := map[string]int{}
	for _, g := range res.Groups() {
		var cells []string
		for _, k := range axes {
			v, _ := g.Value(k)
			cells = append(cells, v.Text())
		}
		var all []int
		for i, r := range res.Records {
			if sameGroup(res, r, g) {
				all = append(all, i)
			}
		}
		if seeds {
			cells = append(cells, fmt.Sprint(len(g.Records)))
		}
		status, step := groupStatus(pts, all)
		stat := func(f func(PointResult) float64) string {
			var v []float64
			for _, i := range g.Records {
				v = append(v, f(pts[i]))
			}
			if len(v) == 0 {
				return "-"
			}
			return meanCI(runner.NewStats(v))
		}
		bound, why := boundCell(pts, g.Records, stat)
		for _, r := range why {
			if _, ok := noteCount[r[0]]; !ok {
				notes = append(notes, r)
			}
			noteCount[r[0]]++
		}
		for _, i := range g.Records {
			if pts[i].Status == runner.StatusDiverged {
				diverged = append(diverged, pts[i])
			}
		}
		cells = append(cells, status, step, ruleCell(pts, g.Records),
			stat(func(p PointResult) float64 { return float64(p.Eta) }),
			stat(func(p PointResult) float64 { return float64(p.Theory.L) }),
			gammaCell(pts, g.Records, stat),
			stat(func(p PointResult) float64 { return float64(p.TrainLoss) }), bound,
			stat(func(p PointResult) float64 { return float64(p.TrainErr) }),
			stat(func(p PointResult) float64 { return float64(p.TestLoss) }),
			stat(func(p PointResult) float64 { return float64(p.TestErr) }),
			distCell(pts, g.Records, stat),
			stat(func(p PointResult) float64 { return float64(p.RelevantAttention) }),
			stat(func(p PointResult) float64 { return float64(p.WallSeconds) }))
		fmt.Fprintln(tw, join(cells)+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(diverged) > 0 {
		note := fmt.Sprintf("GD diverged at %d points, so theta_K does not exist", len(diverged))
		if d := diverged[0]; d.LastFinite != nil && d.DivergedStep != nil {
			note += fmt.Sprintf("; the first of them reached ||theta_k-theta_0|| = %s at step %d, the last step before its divergence at step %d",
				g4(float64(d.LastFinite.DistFromInit)), d.LastFinite.Step, *d.DivergedStep)
		}
		runner.WriteNote(w, "||theta_K-theta_0|| n/a:", "  ", note+" (summary.json: last_finite).")
	}
	if len(notes) > 0 {
		runner.WriteNote(w, "bound n/a:", "  ", "the training bound at K is printed only where every hypothesis it needs holds; the first that does not (summary.json: theory.bound.hypotheses):")
		for _, n := range notes {
			if strings.HasPrefix(n[1], strings.SplitN(n[0], ":", 2)[0]) {
				runner.WriteNote(w, "  -", "    ", fmt.Sprintf("at %d points: %s (numbers of the first)", noteCount[n[0]], n[1]))
			} else {
				runner.WriteNote(w, "  -", "    ", fmt.Sprintf("%s at %d points: %s (the first)", n[0], noteCount[n[0]], n[1]))
			}
		}
	}
	return nil
}

// distCell is the table's ||theta_K - theta_0|| over a group's points:
// the stats where no point diverged, else "n/a (diverged)" (with how many
// points diverged when not all): a diverged point has no theta_K.
func distCell(pts []PointResult, idx []int, stat func(func(PointResult) float64) string) string {
	bad := 0
	for _, i := range idx {
		if pts[i].Status == runner.StatusDiverged {
			bad++
		}
	}
	switch {
	case len(idx) == 0:
		return "-"
	case bad == 0:
		return stat(func(p PointResult) float64 { return float64(p.DistFromInit) })
	case bad == len(idx):
		return "n/a (diverged)"
	}
	return fmt.Sprintf("n/a for %d of %d (diverged)", bad, len(idx))
}

// boundCell is the table's training bound at K over a group's points:
// the stats where it is valid for every point, else "n/a (<hypothesis>:
// <verdict>)" (with how many points it fails for when not all), and the
// failing hypotheses' reasons for the table's notes.
func boundCell(pts []PointResult, idx []int, stat func(func(PointResult) float64) string) (string, [][2]string) {
	bad := 0
	var first string
	var why [][2]string
	for _, i := range idx {
		b := pts[i].Theory.Bound
		if b != nil && b.TrainValid {
			continue
		}
		bad++
		var name, reason string
		switch {
		case b == nil && pts[i].Theory.NotDefined != "":
			name, reason = "not defined", pts[i].Theory.NotDefined
		case b == nil:
			name, reason = "no certificate", pts[i].Theory.CertificateError
		default:
			name, reason = b.FailingHypothesis(theory.ForTrain), b.TrainReason
			name += ": " + verdictOf(b, name)
		}
		if first == "" {
			first = name
		}
		why = append(why, [2]string{name, reason})
	}
	switch {
	case len(idx) == 0:
		return "-", nil
	case bad == 0:
		return stat(func(p PointResult) float64 { return p.Theory.Bound.TrainBound(p.Theory.Bound.Steps) }), nil
	case bad == len(idx):
		return "n/a (" + first + ")", why
	}
	return fmt.Sprintf("n/a for %d of %d (%s)", bad, len(idx), first), why
}

func verdictOf(b *BoundInfo, name string) string {
	for _, h := range b.Hypotheses {
		if h.Name == name {
			return h.Holds
		}
	}
	return "?"
}

// ruleCell is the step rule of a group's points (they share it unless
// it is swept with a seed).
func ruleCell(pts []PointResult, idx []int) string {
	var rules []string
	for _, i := range idx {
		r := pts[i].StepRule
		if r == "" {
			r = pts[i].EtaRule
		}
		if r != "" && !slices.Contains(rules, r) {
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		return "-"
	}
	return strings.Join(rules, ",")
}

// gammaCell is the NTK margin of a group's points: the stats of gamma
// when every point's margin is certified or proved 0, else the first
// point's status and bracket (NTKInfo.Text).
func gammaCell(pts []PointResult, idx []int, stat func(func(PointResult) float64) string) string {
	for _, i := range idx {
		n := pts[i].Theory.NTK
		if n.Status != "" && n.Status != theory.Certified.String() && n.Status != theory.NotSeparable.String() {
			return n.Text()
		}
	}
	notSep := 0
	for _, i := range idx {
		if pts[i].Theory.NTK.Status == theory.NotSeparable.String() {
			notSep++
		}
	}
	if notSep > 0 && notSep == len(idx) {
		return "not separable"
	}
	cell := stat(func(p PointResult) float64 { return float64(p.Theory.NTK.Gamma) })
	if notSep > 0 {
		cell += fmt.Sprintf(" (%d not separable)", notSep)
	}
	return cell
}

func sameGroup(res *runner.Result, r runner.Record, g runner.Group) bool {
	for _, v := range g.Values {
		x, ok := r.Value(v.Key)
		if !ok || string(x.JSON) != string(v.JSON) {
			return false
		}
	}
	return true
}

// groupStatus is the status of a group ("ok", "diverged@k", "3 ok, 1
// diverged", ...) and its last step.
func groupStatus(pts []PointResult, idx []int) (string, string) {
	count := map[string]int{}
	var order []string
	step := 0
	for _, i := range idx {
		p := pts[i]
		s := p.Status
		if p.DivergedStep != nil {
			s = fmt.Sprintf("diverged@%d", *p.DivergedStep)
		}
		if count[s] == 0 {
			order = append(order, s)
		}
		count[s]++
		step = max(step, p.Step)
	}
	if len(order) == 1 {
		return order[0], fmt.Sprint(step)
	}
	var parts []string
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%d %s", count[s], s))
	}
	return strings.Join(parts, ", "), fmt.Sprint(step)
}

// Plots draws loss_vs_step, test_vs_<x>, distance_vs_<x> (x: heads if
// swept, else the first numeric swept key; none without one) and
// relevant_attention.
func Plots(res *runner.Result) ([]runner.NamedPlot, error) {
	x := res.XAxis("heads")
	bs := []figure.Builder{{Name: "loss_vs_step", Build: LossPlot}}
	if x != "" {
		n := res.AxisName(x)
		bs = append(bs, figure.Builder{Name: "test_vs_" + n, Build: TestPlot}, figure.Builder{Name: "distance_vs_" + n, Build: DistancePlot})
	}
	bs = append(bs, figure.Builder{Name: "relevant_attention", Build: AttentionPlot})
	return figure.Plots(bs...)(res)
}

// legend names a group in a legend.
func legend(g runner.Group, fallback string) string {
	if g.Name == "" {
		return fallback
	}
	return g.Name
}

// seedTitle appends the aggregation note to a title.
func seedTitle(res *runner.Result, title string) string {
	if n := res.SeedNote(); n != "" {
		return title + "\n(" + n + ")"
	}
	return title
}

// byStep averages f over the group's points per logged step.
func byStep(pts []PointResult, g runner.Group, f func(PointResult, Row) float64) plotter.XYs {
	vals := map[int][]float64{}
	var steps []int
	for _, i := range g.Records {
		for _, r := range pts[i].Rows {
			if _, ok := vals[r.Step]; !ok {
				steps = append(steps, r.Step)
			}
			vals[r.Step] = append(vals[r.Step], f(pts[i], r))
		}
	}
	slices.Sort(steps)
	var xy plotter.XYs
	for _, k := range steps {
		xy = append(xy, plotter.XY{X: float64(k), Y: runner.NewStats(vals[k]).Mean})
	}
	return xy
}

// LossPlot is the training loss against the step, log-log, one solid
// curve per group and, dashed in the same colour, the theory's training
// bound TrainA + TrainC / k (theory.Prediction.Train) where it is valid for
// every point of the group. Groups whose bound is not valid get no dashed
// curve; the legend says "bound not valid: <hypothesis>".
func LossPlot(res *runner.Result) (*plot.Plot, error) {
	pts, err := Points(res)
	if err != nil {
		return nil, err
	}
	p := figure.New(seedTitle(res, "Training loss under GD (dashed: theory bound where valid)"), "step k", "training loss F(θ_k)")
	figure.LogAxis(&p.X)
	figure.LogAxis(&p.Y)
	p.Legend.Top = false
	p.Legend.Left = true
	var invalid []string
	for i, g := range res.Groups() {
		c := figure.Color(i)
		loss := byStep(pts, g, func(_ PointResult, r Row) float64 { return r.TrainLoss })
		valid := len(g.Records) > 0
		for _, j := range g.Records {
			if b := pts[j].Theory.Bound; b == nil || !b.TrainValid {
				valid = false
				h := "no certificate"
				switch {
				case pts[j].Theory.NotDefined != "":
					h = "not defined for the model kind"
				case b != nil:
					h = b.FailingHypothesis(theory.ForTrain)
				}
				if !slices.Contains(invalid, h) {
					invalid = append(invalid, h)
				}
			}
		}
		if err := figure.AddLine(p, figure.Positive(loss, true, true), c, nil, legend(g, "training loss")); err != nil {
			return nil, err
		}
		if !valid {
			continue
		}
		bound := byStep(pts, g, func(pt PointResult, r Row) float64 {
			if r.Step <= 0 {
				return math.NaN()
			}
			return pt.Theory.Bound.Train(r.Step)
		})
		if err := figure.AddLine(p, finite(figure.Positive(bound, true, true)), c, figure.Dashed, ""); err != nil {
			return nil, err
		}
	}
	for _, h := range invalid {
		figure.LegendEntry(p, figure.Dashed, "bound not valid: "+h+" (not drawn)")
	}
	return p, nil
}

// finite drops points with a non-finite y: a bound of +Inf is never drawn.
func finite(xy plotter.XYs) plotter.XYs {
	var out plotter.XYs
	for _, q := range xy {
		if !math.IsNaN(q.Y) && !math.IsInf(q.Y, 0) {
			out = append(out, q)
		}
	}
	return out
}

// statsAt are, per group of a series, the stats of f over its points.
func statsAt(pts []PointResult, s runner.Series, f func(PointResult) float64) []runner.Stats {
	out := make([]runner.Stats, len(s.Groups))
	for j, g := range s.Groups {
		var v []float64
		for _, i := range g.Records {
			v = append(v, f(pts[i]))
		}
		out[j] = runner.NewStats(v)
	}
	return out
}

// xValues are the distinct values of the plot's x axis.
func xValues(res *runner.Result, x string) []float64 {
	var out []float64
	for _, r := range res.Records {
		if v, ok := r.Value(x); ok && !slices.Contains(out, v.Float()) {
			out = append(out, v.Float())
		}
	}
	return out
}

func xLabel(res *runner.Result, x string) string {
	switch x {
	case "heads":
		return "number of heads H"
	case "data.zeta":
		return "fraction of relevant tokens ζ"
	case "data.train":
		return "training-set size n"
	}
	return x
}

func seriesName(s runner.Series, metric string) string {
	if s.Name == "" {
		return metric
	}
	return s.Name + ": " + metric
}

// TestPlot is the final test loss, test 0-1 error and training loss
// against the plot's swept key (heads, else the first numeric one), one
// colour per other swept value.
func TestPlot(res *runner.Result) (*plot.Plot, error) {
	pts, err := Points(res)
	if err != nil {
		return nil, err
	}
	x := res.XAxis("heads")
	if x == "" {
		return nil, nil
	}
	p := figure.New(seedTitle(res, fmt.Sprintf("Test risk after K = %d steps", Of(res.Config).Steps)), xLabel(res, x), "loss / error")
	figure.ValueAxis(&p.X, xValues(res, x))
	_, logX := p.X.Scale.(plot.LogScale)
	p.Y.Min = 0
	series := res.Series(x)
	for si, s := range series {
		for mi, m := range []struct {
			name  string
			f     func(PointResult) float64
			shape draw.GlyphDrawer
		}{
			{"test loss", func(p PointResult) float64 { return float64(p.TestLoss) }, draw.CircleGlyph{}},
			{"test 0-1 error", func(p PointResult) float64 { return float64(p.TestErr) }, draw.BoxGlyph{}},
			{"training loss", func(p PointResult) float64 { return float64(p.TrainLoss) }, draw.TriangleGlyph{}},
		} {
			c := figure.Color(mi)
			if len(series) > 1 {
				c = figure.Color(si*3 + mi)
			}
			if err := figure.AddStats(p, s.X, statsAt(pts, s, m.f), c, m.shape, nil, seriesName(s, m.name), logX, false); err != nil {
				return nil, err
			}
		}
	}
	figure.Headroom(p, 3*len(series))
	return p, nil
}

// DistancePlot is ||theta_K - theta_0|| against the plot's swept key, with
// the certificate's distance ||theta* - theta_0|| for comparison.
func DistancePlot(res *runner.Result) (*plot.Plot, error) {
	pts, err := Points(res)
	if err != nil {
		return nil, err
	}
	x := res.XAxis("heads")
	if x == "" {
		return nil, nil
	}
	p := figure.New(seedTitle(res, "Distance travelled by GD"), xLabel(res, x), "‖θ_K − θ_0‖")
	figure.ValueAxis(&p.X, xValues(res, x))
	_, logX := p.X.Scale.(plot.LogScale)
	p.Y.Min = 0
	for si, s := range res.Series(x) {
		gd := statsAt(pts, s, func(p PointResult) float64 { return float64(p.DistFromInit) })
		cert := statsAt(pts, s, func(p PointResult) float64 {
			if p.Theory.Certificate == nil {
				return math.NaN()
			}
			return float64(p.Theory.Certificate.Distance)
		})
		if err := figure.AddStats(p, s.X, gd, figure.Color(2*si), draw.CircleGlyph{}, nil, seriesName(s, "GD: ‖θ_K − θ_0‖"), logX, false); err != nil {
			return nil, err
		}
		if err := figure.AddStats(p, s.X, cert, figure.Color(2*si+1), draw.BoxGlyph{}, figure.Dashed, seriesName(s, "certificate: ‖θ* − θ_0‖"), logX, false); err != nil {
			return nil, err
		}
	}
	figure.Headroom(p, 2*len(res.Series(x)))
	return p, nil
}

// AttentionPlot is the mean attention mass on relevant tokens of the test
// set against the step, one curve per group, with the mass of uniform
// attention (the fraction of relevant tokens of each group's data)
// dashed: gray if it is the same for every group, else in the group's
// colour.
func AttentionPlot(res *runner.Result) (*plot.Plot, error) {
	pts, err := Points(res)
	if err != nil {
		return nil, err
	}
	p := figure.New(seedTitle(res, "Attention on relevant tokens (test set)"), "step k", "mean attention mass on relevant tokens")
	p.Legend.Top = true
	p.Legend.Left = true
	groups := res.Groups()
	maxStep := 0.0
	uniform := map[float64]bool{}
	for _, g := range groups {
		for _, i := range g.Records {
			uniform[float64(pts[i].UniformAttention)] = true
			for _, r := range pts[i].Rows {
				maxStep = max(maxStep, float64(r.Step))
			}
		}
	}
	maxStep = max(maxStep, 1)
	for i, g := range groups {
		xy := byStep(pts, g, func(_ PointResult, r Row) float64 { return r.RelevantAttention })
		if err := figure.AddLine(p, figure.Positive(xy, false, false), figure.Color(i), nil, legend(g, "attention on relevant tokens")); err != nil {
			return nil, err
		}
		if len(uniform) > 1 && len(g.Records) > 0 {
			u := float64(pts[g.Records[0]].UniformAttention)
			if err := figure.AddLine(p, plotter.XYs{{X: 0, Y: u}, {X: maxStep, Y: u}}, figure.Color(i), figure.Dashed, ""); err != nil {
				return nil, err
			}
		}
	}
	switch {
	case len(uniform) == 1:
		for u := range uniform {
			if err := figure.AddLine(p, plotter.XYs{{X: 0, Y: u}, {X: maxStep, Y: u}}, figure.Gray, figure.Dashed,
				fmt.Sprintf("uniform attention (%.3g)", u)); err != nil {
				return nil, err
			}
		}
	case len(uniform) > 1:
		figure.LegendEntry(p, figure.Dashed, "uniform attention (dashed, per curve)")
	}
	figure.Headroom(p, len(groups)+1)
	return p, nil
}
