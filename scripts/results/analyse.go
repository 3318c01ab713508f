package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/mhattn/mha/experiments/convexity/convexity"
	"github.com/mhattn/mha/experiments/gdpoint"
	"github.com/mhattn/mha/experiments/generalization/generalization"
	"github.com/mhattn/mha/experiments/headsweep/headsweep"
	"github.com/mhattn/mha/experiments/margin/margin"
	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/experiments/stepsize/stepsize"
	"github.com/mhattn/mha/layers"
)

// gdExperiment reads any experiment whose config is a plain GD point's
// (zetasweep, and unknown experiments built on gdpoint.Experiment).
func gdExperiment(name string) runner.Experiment {
	return gdpoint.Experiment(name, "", func() *gdpoint.Config { c := gdpoint.DefaultConfig(""); return &c })
}

// analyse loads an experiment's result and states its claims as
// measured. An experiment it does not know is read as a GD point
// experiment if it can be, else it gets no claims (nil result).
func analyse(name, dir string) (*runner.Result, []string, error) {
	load := func(e runner.Experiment) (*runner.Result, error) { return runner.LoadResult(e, dir) }
	var res *runner.Result
	var claims []string
	var err error
	switch name {
	case "headsweep":
		if res, err = load(headsweep.Experiment); err == nil {
			claims, err = gdClaims(res, res.XAxis("heads"))
		}
	case "margin":
		if res, err = load(margin.Experiment); err == nil {
			claims, err = margin.Claims(res)
		}
	case "generalization":
		if res, err = load(generalization.Experiment); err == nil {
			claims, err = genClaims(res)
		}
	case "stepsize":
		if res, err = load(stepsize.Experiment); err == nil {
			claims, err = stepClaims(res)
		}
	case "convexity":
		if res, err = load(convexity.Experiment); err == nil {
			claims, err = convexityClaims(res)
		}
	default:
		if res, err = load(gdExperiment(name)); err == nil {
			claims, err = gdClaims(res, res.XAxis("heads", "data.zeta"))
		} else if !slices.Contains(known, name) {
			// Not a GD point experiment: table and plots only.
			return nil, []string{"(no claims: the generator does not know this experiment; its table and plots follow)"}, nil
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return res, claims, nil
}

func readJSONLoose(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// question says what an experiment asks.
func question(s section) string {
	switch s.Name {
	case "headsweep":
		return "how do training and test loss under GD change with the number of heads H?"
	case "zetasweep":
		return "does training move attention onto the relevant tokens, against the fraction zeta of them?"
	case "margin":
		return "does one initialization step make the data NTK separable, and how large is each initialization's normalized margin against the ideal attention's on the same features?"
	case "generalization":
		return "does the generalization gap fall like 1/n, and is the theory's term valid and above it?"
	case "stepsize":
		return "how conservative are the theory and curvature step sizes against the largest step that still decreases the loss?"
	case "convexity":
		return "does lambda_min(Hess F)/F along the GD path shrink like 1/sqrt(H), and do the theory's kappa and L bound the measured curvature?"
	}
	return ""
}

// describe is the config of a run in one paragraph: data, model, init, K,
// step rule and the swept keys with their values.
func describe(res *runner.Result) string {
	g, ok := res.Config.(interface{ GD() *gdpoint.Config })
	var parts []string
	if ok {
		c := g.GD()
		d := c.Data
		parts = append(parts, fmt.Sprintf("Data: tokenized mixture d = %d, T = %d, n = %d, n_test = %d, zeta = %g, sigma = %g, data seed %d.",
			d.Dim, d.Tokens, d.Train, d.Test, d.Zeta, d.Sigma, d.Seed))
		parts = append(parts, fmt.Sprintf("Model: kind %s, %s queries, scale %s, trained blocks %s; init %s (seed %d); K = %d; step rule %s (step.c = %g, eta = %g).",
			c.Model.Kind, c.Model.Query, c.Model.Scale, c.Model.Train, c.Init.Scheme, c.Init.Seed, c.Steps, c.StepRule(), c.Step.C, c.Eta))
	}
	var sweep []string
	for _, k := range res.Axes {
		var vals []string
		for _, r := range res.Records {
			if v, ok := r.Value(k); ok && !slices.Contains(vals, v.Text()) {
				vals = append(vals, v.Text())
			}
		}
		sweep = append(sweep, fmt.Sprintf("%s ∈ {%s}", k, strings.Join(vals, ", ")))
	}
	if len(sweep) > 0 {
		parts = append(parts, "Swept: "+strings.Join(sweep, "; ")+" (the swept values override the above).")
	}
	if n := res.SeedNote(); n != "" {
		parts = append(parts, "Tables and plots show the "+n+".")
	}
	return strings.Join(parts, " ")
}

func g3(x float64) string { return fmt.Sprintf("%.3g", x) }

// seriesName names a line of a plot ("all points" when only one).
func seriesName(s runner.Series) string {
	if s.Name == "" {
		return "all points"
	}
	return s.Name
}

// groupStats are the stats of f over a group's records.
func groupStats(g runner.Group, f func(i int) float64) runner.Stats {
	var v []float64
	for _, i := range g.Records {
		if x := f(i); !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	return runner.NewStats(v)
}

// flat is the relative change between a series' ends below which trend
// calls it flat.
const flat = 0.05

// trend states how a quantity changes along a series' x values: from its
// first to its last value, the log-log slope when both are positive
// (and x is), and whether the change exceeds the 95% intervals (with
// seeds) or is from one draw.
func trend(what, xname string, xs []float64, st []runner.Stats, logFit bool) string {
	if len(st) < 2 {
		if len(st) == 1 {
			return fmt.Sprintf("%s: %s at %s = %g (one value)", what, g3(st[0].Mean), xname, xs[0])
		}
		return what + ": no values"
	}
	first, last := st[0], st[len(st)-1]
	dir := "rises"
	if last.Mean < first.Mean {
		dir = "falls"
	}
	if math.Abs(last.Mean-first.Mean) <= flat*math.Max(math.Abs(first.Mean), math.Abs(last.Mean)) {
		dir = fmt.Sprintf("changes by at most %g%% (flat)", 100*flat)
	}
	up, down := 0, 0
	for i := 1; i < len(st); i++ {
		switch {
		case st[i].Mean > st[i-1].Mean:
			up++
		case st[i].Mean < st[i-1].Mean:
			down++
		}
	}
	s := fmt.Sprintf("%s %s: from %s (%s = %g) to %s (%s = %g); it falls at %d and rises at %d of %d steps along %s",
		what, dir, g3(first.Mean), xname, xs[0], g3(last.Mean), xname, xs[len(xs)-1], down, up, len(st)-1, xname)
	if logFit {
		var lx, ly []float64
		for i := range st {
			if xs[i] > 0 && st[i].Mean > 0 {
				lx, ly = append(lx, xs[i]), append(ly, st[i].Mean)
			}
		}
		if len(lx) == len(st) {
			slope, _ := runner.FitLogLog(lx, ly)
			s += fmt.Sprintf("; log-log slope %.3f", slope)
		}
	}
	switch {
	case first.N > 1 && last.N > 1 && !math.IsNaN(first.Lo):
		if last.Hi < first.Lo || last.Lo > first.Hi {
			s += fmt.Sprintf(" (the 95%% intervals at the ends, [%s, %s] and [%s, %s], do not overlap: the change is resolved over %d seeds)", g3(first.Lo), g3(first.Hi), g3(last.Lo), g3(last.Hi), first.N)
		} else {
			s += fmt.Sprintf(" (the 95%% intervals at the ends, [%s, %s] and [%s, %s], overlap: not resolved over %d seeds)", g3(first.Lo), g3(first.Hi), g3(last.Lo), g3(last.Hi), first.N)
		}
	default:
		s += " (one draw per value: no interval)"
	}
	return s
}

// xName is a swept key's short name for the text.
func xName(res *runner.Result, x string) string {
	switch x {
	case "heads":
		return "H"
	case "data.zeta":
		return "zeta"
	case "data.train":
		return "n"
	}
	return res.AxisName(x)
}

// counts formats a count map in first-seen order: "7 certified, 2 not separable".
type counter struct {
	n     map[string]int
	order []string
}

func (c *counter) add(k string) {
	if c.n == nil {
		c.n = map[string]int{}
	}
	if c.n[k] == 0 {
		c.order = append(c.order, k)
	}
	c.n[k]++
}

func (c *counter) String() string {
	var parts []string
	for _, k := range c.order {
		parts = append(parts, fmt.Sprintf("%d %s", c.n[k], k))
	}
	return strings.Join(parts, ", ")
}

// attentionMoved is the excess attention mass on relevant tokens over
// uniform attention's above which the text says attention moved.
const attentionMoved = 0.05

// gdClaims are the claims of a training experiment (gdpoint records)
// along x (heads, zeta, ...).
func gdClaims(res *runner.Result, x string) ([]string, error) {
	pts, err := gdpoint.Points(res)
	if err != nil {
		return nil, err
	}
	var out []string
	var rules, status counter
	var etaMin, etaMax = math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		rule := p.StepRule
		if rule == "" {
			rule = p.EtaRule // results written before step_rule
		}
		rules.add(rule)
		s := p.Status
		if p.DivergedStep != nil {
			s = fmt.Sprintf("diverged at step %d", *p.DivergedStep)
		}
		status.add(s)
		etaMin, etaMax = math.Min(etaMin, float64(p.Eta)), math.Max(etaMax, float64(p.Eta))
	}
	out = append(out, fmt.Sprintf("Runs: %s; step rule: %s; eta from %s to %s.", status.String(), rules.String(), g3(etaMin), g3(etaMax)))
	if x != "" {
		xn := xName(res, x)
		logFit := x == "heads" || x == "data.train"
		for _, s := range res.Series(x) {
			at := func(f func(gdpoint.PointResult) float64) []runner.Stats {
				var st []runner.Stats
				for _, g := range s.Groups {
					st = append(st, groupStats(g, func(i int) float64 { return f(pts[i]) }))
				}
				return st
			}
			name := seriesName(s)
			out = append(out,
				fmt.Sprintf("%s: %s.", name, trend("the final training loss", xn, s.X, at(func(p gdpoint.PointResult) float64 { return float64(p.TrainLoss) }), logFit)),
				fmt.Sprintf("%s: %s.", name, trend("the final test loss", xn, s.X, at(func(p gdpoint.PointResult) float64 { return float64(p.TestLoss) }), logFit)),
				fmt.Sprintf("%s: %s.", name, trend("the final test 0-1 error", xn, s.X, at(func(p gdpoint.PointResult) float64 { return float64(p.TestErr) }), false)))
			above, n := 0, 0
			var worst, best = math.Inf(1), math.Inf(-1)
			for _, g := range s.Groups {
				a := groupStats(g, func(i int) float64 { return float64(pts[i].RelevantAttention) })
				u := groupStats(g, func(i int) float64 { return float64(pts[i].UniformAttention) })
				if math.IsNaN(a.Mean) || u.Mean >= 1 { // every token relevant: nothing to move
					continue
				}
				n++
				if a.Mean > u.Mean+attentionMoved {
					above++
				}
				worst, best = math.Min(worst, a.Mean-u.Mean), math.Max(best, a.Mean-u.Mean)
			}
			if n > 0 {
				var verdict string
				switch {
				case worst > attentionMoved:
					verdict = fmt.Sprintf("attention moved onto the relevant tokens: the final attention mass on relevant test tokens exceeds uniform attention's by more than %g at every value of %s", attentionMoved, xn)
				case best <= attentionMoved:
					verdict = fmt.Sprintf("attention stays near uniform: the final attention mass on relevant test tokens is within %g of uniform attention's (or below it) at every value of %s", attentionMoved, xn)
				default:
					verdict = fmt.Sprintf("attention moved onto the relevant tokens by more than %g only at some values of %s", attentionMoved, xn)
				}
				out = append(out, fmt.Sprintf("%s: %s (more than %g above uniform at %d of %d values with some irrelevant tokens; excess over uniform from %s to %s).", name, verdict, attentionMoved, above, n, g3(worst), g3(best)))
			}
		}
	}
	out = append(out, boundClaims(pts)...)
	var ntk counter
	for _, p := range pts {
		if p.Theory.NTK.Status != "" {
			ntk.add(p.Theory.NTK.Status)
		}
	}
	if len(ntk.order) > 0 {
		out = append(out, fmt.Sprintf("NTK margin at theta_0 (training set): %s (of %d points).", ntk.String(), len(pts)))
	}
	return out, nil
}

// boundClaims say for how many points the training and test bounds are
// valid, which hypotheses fail how often, and whether valid bounds are
// above the measured loss.
func boundClaims(pts []gdpoint.PointResult) []string {
	var out []string
	total, trainValid, testValid, none := 0, 0, 0, 0
	var fails counter
	var first counter
	above, checked := 0, 0
	for _, p := range pts {
		if p.Status != runner.StatusOK && p.Status != runner.StatusDiverged {
			continue
		}
		total++
		b := p.Theory.Bound
		if b == nil {
			none++
			continue
		}
		if b.TrainValid {
			trainValid++
			checked++
			if float64(p.TrainLoss) <= b.TrainBound(b.Steps) {
				above++
			}
		} else {
			first.add("`" + b.FailingHypothesis("train") + "`")
		}
		if b.TestValid {
			testValid++
		}
		for _, h := range b.Hypotheses {
			if h.Holds != "holds" {
				fails.add(fmt.Sprintf("`%s` %s", h.Name, h.Holds))
			}
		}
	}
	if total == 0 {
		return nil
	}
	s := fmt.Sprintf("Theory bounds: the training bound is valid (every hypothesis holds, the path checked) for %d of %d points and the test bound for %d of %d",
		trainValid, total, testValid, total)
	if none > 0 {
		s += fmt.Sprintf("; %d points have no bound (no realizability certificate or model kind without the theory)", none)
	}
	s += "."
	out = append(out, s)
	if len(first.order) > 0 {
		out = append(out, "First failing hypothesis of the training bound, by points: "+first.String()+".")
	}
	if len(fails.order) > 0 {
		out = append(out, "Every hypothesis that does not hold, by points: "+fails.String()+".")
	}
	if checked > 0 {
		out = append(out, fmt.Sprintf("Where the training bound is valid, the measured final training loss is below it at %d of %d points.", above, checked))
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// genClaims: the gap's slope in n per line against 1/n, and the theory
// term's validity.
func genClaims(res *runner.Result) ([]string, error) {
	fits, err := generalization.Summary(res)
	if err != nil {
		return nil, err
	}
	pts, err := generalization.Points(res)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range fits {
		name := f.Name
		if name == "" {
			name = "all points"
		}
		verdict := "consistent with C/n"
		if math.Abs(f.Slope+1) > 0.25 {
			verdict = "not C/n"
		}
		if math.IsNaN(f.Slope) {
			verdict = "not fitted (a gap <= 0)"
		}
		var ns, nonpos []string
		for _, g := range f.Groups {
			ns = append(ns, fmt.Sprintf("n = %d: %s", g.N, g3(g.Gap.Mean)))
			if !(g.Gap.Mean > 0) {
				nonpos = append(nonpos, fmt.Sprint(g.N))
			}
		}
		if len(nonpos) > 0 {
			verdict += fmt.Sprintf("; the mean gap is <= 0 (test loss at or below training loss) at n = %s, which the log-log fit leaves out", strings.Join(nonpos, ", "))
		}
		out = append(out, fmt.Sprintf("%s: the gap at K falls with n with log-log slope %.3f (1/n is -1; within 0.25 counted as consistent): %s; least-squares C = %s. Mean gaps: %s.",
			name, f.Slope, verdict, g3(f.C), strings.Join(ns, ", ")))
	}
	valid, total, above := 0, 0, 0
	var why counter
	for _, p := range pts {
		if p.Status != runner.StatusOK {
			continue
		}
		total++
		if p.BoundValid {
			valid++
			if float64(p.BoundGap) >= float64(p.Gap) {
				above++
			}
		} else if p.Bound != nil {
			why.add("`" + p.Bound.FailingHypothesis("test") + "`")
		} else {
			why.add("no bound: " + p.BoundError)
		}
	}
	s := fmt.Sprintf("The theory's gap term is valid for %d of %d points", valid, total)
	if valid > 0 {
		s += fmt.Sprintf(" and above the measured gap at %d of them", above)
	}
	if len(why.order) > 0 {
		s += "; the first failing hypothesis elsewhere: " + why.String()
	}
	out = append(out, s+". The term bounds an expected gap over training draws; each point is one draw.")
	return out, nil
}

// stepClaims: how conservative the theory and curvature steps are.
func stepClaims(res *runner.Result) ([]string, error) {
	pts, err := stepsize.PointsOf(res)
	if err != nil {
		return nil, err
	}
	if len(pts) == 0 {
		return []string{"No finished point."}, nil
	}
	var out []string
	mono := 0
	var ratios, curv []float64
	var hs []float64
	var found []float64
	for _, p := range pts {
		if p.TheoryMonotone {
			mono++
		}
		ratios = append(ratios, float64(p.Ratio))
		curv = append(curv, float64(p.FoundEta)/float64(p.CurvatureRuleEta))
		hs, found = append(hs, float64(p.Heads)), append(found, float64(p.FoundEta))
	}
	out = append(out, fmt.Sprintf("The theory step decreases the loss at every step at %d of %d points (the descent lemma promises it).", mono, len(pts)))
	out = append(out, fmt.Sprintf("The largest monotone step is %s to %s times the theory step (K = %d): the theory step is that conservative here.",
		g3(minf(ratios)), g3(maxf(ratios)), pts[0].Steps))
	out = append(out, fmt.Sprintf("It is %s to %s times the curvature rule's c / lambda_max(Hess F(theta_0)) (c = %g).", g3(minf(curv)), g3(maxf(curv)), gdpoint.Of(res.Config).Step.C))
	if len(slices.Compact(slices.Sorted(slices.Values(hs)))) > 1 {
		slope, _ := runner.FitLogLog(hs, found)
		out = append(out, fmt.Sprintf("The largest monotone step against H: log-log slope %.3f.", slope))
	}
	return out, nil
}

func minf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		if !math.IsNaN(x) {
			m = math.Min(m, x)
		}
	}
	return m
}

func maxf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		if !math.IsNaN(x) {
			m = math.Max(m, x)
		}
	}
	return m
}

// convexityClaims read the records generically (by their JSON keys) so
// that the convexity experiment's own types can change: the slope of
// -min lambda_min/F in H per line against -1/2, and whether the theory's
// kappa and L bound the measured curvature.
func convexityClaims(res *runner.Result) ([]string, error) {
	recs := make([]map[string]any, len(res.Records))
	for i, r := range res.Records {
		if err := json.Unmarshal(r.JSON, &recs[i]); err != nil {
			return nil, err
		}
	}
	num := func(i int, key string) float64 {
		switch v := recs[i][key].(type) {
		case float64:
			return v
		case string:
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
		return math.NaN()
	}
	var out []string
	x := res.XAxis("heads")
	if x == "" {
		return nil, nil
	}
	for _, s := range res.Series(x) {
		var hs, worst []float64
		negative := 0
		for j, g := range s.Groups {
			w := groupStats(g, func(i int) float64 { return num(i, "worst_ratio") })
			if math.IsNaN(w.Mean) {
				continue
			}
			if w.Mean < 0 {
				negative++
				hs, worst = append(hs, s.X[j]), append(worst, -w.Mean)
			}
		}
		name := seriesName(s)
		switch {
		case negative == 0:
			out = append(out, fmt.Sprintf("%s: lambda_min(Hess F)/F stays >= 0 along every path: no negative curvature to scale.", name))
		case len(hs) >= 2:
			slope, _ := runner.FitLogLog(hs, worst)
			verdict := "consistent with 1/sqrt(H)"
			if math.Abs(slope+0.5) > 0.15 {
				verdict = "not 1/sqrt(H)"
			}
			out = append(out, fmt.Sprintf("%s: -min_k lambda_min/F along the path falls with H with log-log slope %.3f (1/sqrt(H) is -0.5; within 0.15 counted as consistent): %s; from %s to %s.",
				name, slope, verdict, g3(worst[0]), g3(worst[len(worst)-1])))
		default:
			out = append(out, fmt.Sprintf("%s: negative curvature at %d value(s) of H only.", name, negative))
		}
	}
	kOK, lOK, n := 0, 0, 0
	for i := range recs {
		w, k, lm, l := num(i, "worst_ratio"), num(i, "kappa"), num(i, "lambda_max"), num(i, "L")
		if math.IsNaN(w) || math.IsNaN(k) {
			continue
		}
		n++
		if w >= -k {
			kOK++
		}
		if !math.IsNaN(l) && lm <= l {
			lOK++
		}
	}
	if n > 0 {
		out = append(out, fmt.Sprintf("The theory's lambda_min >= -kappa F holds along the path at %d of %d points and lambda_max <= L at %d of %d (constants over the ball the path stayed in).", kOK, n, lOK, n))
	}
	return out, nil
}

// dimensionNote says when the NTK has at least as many features
// (trainable parameters P) as training samples n at some point of a
// series: there separability can follow from counting dimensions.
func dimensionNote(res *runner.Result, s runner.Series, x, xn string) string {
	c := gdpoint.Of(res.Config)
	var counted []string
	for j, g := range s.Groups {
		if len(g.Records) == 0 {
			continue
		}
		pc := *c
		// The point's heads and n when swept (other swept keys are not applied).
		if pg, ok := res.Records[g.Records[0]].Value(x); ok && x == "heads" {
			pc.Heads = int(pg.Float())
		}
		if v, ok := res.Records[g.Records[0]].Value("data.train"); ok {
			pc.Data.Train = int(v.Float())
		}
		m, err := pc.NewModel()
		if err != nil {
			continue
		}
		if p := layers.NumTrainable(m); p >= pc.Data.Train {
			counted = append(counted, fmt.Sprintf("%g (P = %d)", s.X[j], p))
		}
	}
	if len(counted) == 0 {
		return fmt.Sprintf(" The NTK has fewer features than the n = %d samples at every point, so separability is not a dimension count.", c.Data.Train)
	}
	return fmt.Sprintf(" At %s = %s the NTK has at least as many features P as the n = %d samples: there separability can follow from counting dimensions.",
		xn, strings.Join(counted, ", "), c.Data.Train)
}
