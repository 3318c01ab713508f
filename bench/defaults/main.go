// Command defaults measures, for one tokenized-mixture configuration, the
// quantities that decide whether the paper's claims are testable there
// (issue 15, item 4), and prints them as markdown tables:
//
//   - mean: the test error of a linear classifier on the per-sequence mean
//     token (what uniform attention sees) against the same classifier on the
//     mean of the relevant tokens (what ideal attention sees). The classifier
//     is L2-regularized logistic regression with a bias, fitted exactly by
//     Newton's method (ridge -ridge on the weights, not the bias).
//   - count: the number P of NTK features (layers.NumTrainable) of each
//     query mode and head count against n.
//   - sweep: the head sweep: GD from the chosen initialization for every H
//     and seed (seed s draws the data and the initialization), recording
//     train and test loss and 0-1 error and the test attention mass on
//     relevant tokens at a few steps; mean and 95% t-interval over seeds.
//   - margin: NTK margins at several initializations (random, zero-W, first
//     steps that isolate the attention, the ideal attention) on the same
//     trainable blocks, raw and normalized by the mean feature norm, for
//     each zeta and H.
//
// Example (the defaults recommended in docs/defaults.md):
//
//	go run ./bench/defaults -parts mean,count,sweep
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory"
)

type options struct {
	mix      datasets.MixtureConfig
	query    string
	train    string
	scale    string
	initName string
	uNorm    float64
	wNorm    float64
	heads    []int
	seeds    int
	steps    int
	points   int
	rule     string
	eta      float64
	c        float64
	workers  int
	ridge    float64

	marginHeads []int
	zetas       []float64
	marginTrain string
	marginN     int
	firstEta    float64
	inits       []string
}

func main() {
	var o options
	mix := datasets.DefaultMixture()
	flag.IntVar(&mix.Dim, "d", 8, "token dimension d")
	flag.IntVar(&mix.Tokens, "T", 8, "tokens per sequence T")
	flag.IntVar(&mix.Train, "n", 512, "training sequences n")
	flag.IntVar(&mix.Test, "ntest", 1024, "test sequences n_test")
	flag.Float64Var(&mix.Zeta, "zeta", 0.125, "fraction of relevant tokens zeta")
	flag.Float64Var(&mix.Signal, "S", 1, "signal norm S")
	flag.Float64Var(&mix.Noise, "Z", 1, "noise-centre norm Z")
	flag.IntVar(&mix.Clusters, "M", 4, "noise centres M")
	flag.Float64Var(&mix.Sigma, "sigma", 0.1, "token jitter sigma")
	flag.BoolVar(&mix.Antipodal, "antipodal", false, "antipodal means mu_- = -mu_+ (default orthogonal)")
	flag.Float64Var(&mix.Decoy, "decoy", 0.5, "decoy weight D on noise tokens (datasets.MixtureConfig.Decoy; 0 = the paper's model)")
	seed0 := flag.Uint64("seed", 1, "first seed; repetition s uses seed+s for data and init")
	flag.StringVar(&o.query, "query", layers.AllToken, "query mode: all-token or first-token")
	flag.StringVar(&o.train, "train", layers.TrainUW, "trainable blocks of the sweep: UW, U or W")
	flag.StringVar(&o.scale, "scale", layers.InvSqrtHeads, "head scale: inv-sqrt or inv")
	flag.StringVar(&o.initName, "init", layers.InitRandom, "sweep initialization: random or zero-W")
	flag.Float64Var(&o.uNorm, "unorm", 1, "expected ||U_h||_F at init")
	flag.Float64Var(&o.wNorm, "wnorm", 1, "expected ||W_h||_F at random init")
	headsFlag := flag.String("heads", "1,4,16,64", "head counts of the sweep")
	flag.IntVar(&o.seeds, "seeds", 5, "seeds (repetitions), >= 1")
	flag.IntVar(&o.steps, "steps", 300, "GD steps K of the sweep")
	flag.IntVar(&o.points, "points", 4, "curve points recorded after step 0 (evenly spaced)")
	flag.StringVar(&o.rule, "rule", "fixed", "step rule: fixed (-eta), curvature (-c / lambda_max(Hess F(theta_0)), Lanczos) or theory (theory.TheoryStepSize for K steps)")
	flag.Float64Var(&o.eta, "eta", 1, "fixed step size eta")
	flag.Float64Var(&o.c, "c", 1, "factor c of the curvature rule")
	flag.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "points run in parallel")
	flag.Float64Var(&o.ridge, "ridge", 1e-3, "ridge of the mean-token logistic regression (times n)")
	marginHeads := flag.String("margin-heads", "1,4,16", "head counts of the margin part")
	zetas := flag.String("zetas", "", "zetas of the margin part (empty: -zeta)")
	flag.StringVar(&o.marginTrain, "margin-train", layers.TrainUW, "blocks whose NTK features the margins use: UW, U or W")
	flag.IntVar(&o.marginN, "margin-n", 0, "training sequences of the margin part (0: -n)")
	flag.Float64Var(&o.firstEta, "first-eta", 1, "step size of the first-step initializations")
	inits := flag.String("inits", "random,zero-W,step-W,step-U-W,step-UW,ideal", "initializations of the margin part")
	parts := flag.String("parts", "mean,count,sweep", "parts to run: mean, count, sweep, margin")
	flag.Parse()

	mix.Seed = *seed0
	o.mix = mix
	var err error
	if o.heads, err = ints(*headsFlag); err != nil {
		fail("heads", err)
	}
	if o.marginHeads, err = ints(*marginHeads); err != nil {
		fail("margin-heads", err)
	}
	if *zetas == "" {
		o.zetas = []float64{mix.Zeta}
	} else if o.zetas, err = floats(*zetas); err != nil {
		fail("zetas", err)
	}
	o.inits = strings.Split(*inits, ",")
	if o.marginN == 0 {
		o.marginN = mix.Train
	}
	if o.seeds < 1 {
		fail("seeds", fmt.Errorf("%d: must be >= 1", o.seeds))
	}
	if err := mix.Validate(); err != nil {
		fail("data", err)
	}
	if o.rule != "fixed" && o.rule != "curvature" && o.rule != "theory" {
		fail("rule", fmt.Errorf("%q: must be fixed, curvature or theory", o.rule))
	}

	fmt.Printf("# bench/defaults: %s, GOMAXPROCS=%d, workers=%d\n", runtime.Version(), runtime.GOMAXPROCS(0), o.workers)
	fmt.Printf("# data: d=%d T=%d n=%d n_test=%d zeta=%g (r=%d) S=%g Z=%g M=%d sigma=%g antipodal=%v decoy=%g seeds %d..%d\n",
		mix.Dim, mix.Tokens, mix.Train, mix.Test, mix.Zeta, mix.Relevant(), mix.Signal, mix.Noise, mix.Clusters, mix.Sigma,
		mix.Antipodal, mix.Decoy, mix.Seed, mix.Seed+uint64(o.seeds)-1)
	t0 := time.Now()
	for _, part := range strings.Split(*parts, ",") {
		start := time.Now()
		switch part {
		case "mean":
			meanToken(o)
		case "count":
			countFeatures(o)
		case "sweep":
			headSweep(o)
		case "margin":
			margins(o)
		default:
			fail("parts", fmt.Errorf("%q: must be mean, count, sweep or margin", part))
		}
		fmt.Printf("\n_part %s: %.1f s wall_\n", part, time.Since(start).Seconds())
	}
	fmt.Printf("\n_total: %.1f s wall_\n", time.Since(t0).Seconds())
}

func fail(field string, err error) {
	fmt.Fprintf(os.Stderr, "defaults: %s: %v\n", field, err)
	os.Exit(2)
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		out = append(out, v)
	}
	return out, nil
}

func floats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, fmt.Errorf("%q: want numbers separated by commas", s)
		}
		out = append(out, v)
	}
	return out, nil
}

// seedMix is the data config of repetition s.
func (o options) seedMix(s int) datasets.MixtureConfig {
	m := o.mix
	m.Seed = o.mix.Seed + uint64(s)
	return m
}

// stats is a mean and a 95% t-interval half-width over repetitions.
type stats struct {
	mean, half float64
	n          int
}

func summarize(v []float64) stats {
	var xs []float64
	for _, x := range v {
		if !math.IsNaN(x) {
			xs = append(xs, x)
		}
	}
	if len(xs) == 0 {
		return stats{mean: math.NaN()}
	}
	var m float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	if len(xs) < 2 {
		return stats{mean: m, n: 1}
	}
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	sd := math.Sqrt(ss / float64(len(xs)-1))
	q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(xs) - 1)}.Quantile(0.975)
	return stats{mean: m, half: q * sd / math.Sqrt(float64(len(xs))), n: len(xs)}
}

func (s stats) String() string {
	if math.IsNaN(s.mean) {
		return "n/a"
	}
	if s.n < 2 {
		return fmt.Sprintf("%.4g", s.mean)
	}
	return fmt.Sprintf("%.4g ± %.2g", s.mean, s.half)
}

// ---- part mean: linear classifiers on summaries of each sequence ----

// summaries returns, per sequence, the mean token and the mean of the
// relevant tokens.
func summaries(data *datasets.Dataset) (mean, rel [][]float64) {
	T, d := data.T, data.D
	mean, rel = make([][]float64, data.N), make([][]float64, data.N)
	for i := 0; i < data.N; i++ {
		mean[i], rel[i] = make([]float64, d), make([]float64, d)
		count := 0
		for t := 0; t < T; t++ {
			x := data.X[(i*T+t)*d : (i*T+t+1)*d]
			r := data.Mask[i*T+t]
			if r {
				count++
			}
			for k, v := range x {
				mean[i][k] += v / float64(T)
				if r {
					rel[i][k] += v
				}
			}
		}
		for k := range rel[i] {
			rel[i][k] /= float64(count)
		}
	}
	return mean, rel
}

// logistic fits w (d weights and a bias, last) minimizing
// sum_i log(1 + exp(-y_i (w.x_i + b))) + lambda/2 ||w||^2 by Newton's method.
func logistic(x [][]float64, y []float64, lambda float64) []float64 {
	d := len(x[0]) + 1
	w := make([]float64, d)
	feat := func(i int) []float64 { return append(slices.Clone(x[i]), 1) }
	for it := 0; it < 100; it++ {
		g := make([]float64, d)
		h := mat.NewSymDense(d, nil)
		for i := range x {
			f := feat(i)
			z := y[i] * dot(w, f)
			s := 1 / (1 + math.Exp(z)) // sigma(-z)
			for a := range f {
				g[a] -= y[i] * f[a] * s
				for b := a; b < d; b++ {
					h.SetSym(a, b, h.At(a, b)+f[a]*f[b]*s*(1-s))
				}
			}
		}
		for a := 0; a < d-1; a++ {
			g[a] += lambda * w[a]
			h.SetSym(a, a, h.At(a, a)+lambda)
		}
		h.SetSym(d-1, d-1, h.At(d-1, d-1)+1e-12*float64(len(x)))
		var ch mat.Cholesky
		if !ch.Factorize(h) {
			break
		}
		var step mat.VecDense
		if err := ch.SolveVecTo(&step, mat.NewVecDense(d, g)); err != nil {
			break
		}
		var sq float64
		for a := range w {
			w[a] -= step.AtVec(a)
			sq += step.AtVec(a) * step.AtVec(a)
		}
		if math.Sqrt(sq) < 1e-10*(1+norm(w)) {
			break
		}
	}
	return w
}

func errorRate(w []float64, x [][]float64, y []float64) float64 {
	wrong := 0
	for i := range x {
		if y[i]*(dot(w[:len(w)-1], x[i])+w[len(w)-1]) <= 0 {
			wrong++
		}
	}
	return float64(wrong) / float64(len(x))
}

func meanToken(o options) {
	fmt.Printf("\n## Linear classifier (logistic regression with bias, ridge %g n, Newton) on sequence summaries\n\n", o.ridge)
	var meanTrain, meanTest, relTrain, relTest []float64
	for s := 0; s < o.seeds; s++ {
		train, test, err := o.seedMix(s).Generate()
		if err != nil {
			fail("data", err)
		}
		mTr, rTr := summaries(train)
		mTe, rTe := summaries(test)
		lam := o.ridge * float64(train.N)
		wm := logistic(mTr, train.Y, lam)
		wr := logistic(rTr, train.Y, lam)
		meanTrain = append(meanTrain, errorRate(wm, mTr, train.Y))
		meanTest = append(meanTest, errorRate(wm, mTe, test.Y))
		relTrain = append(relTrain, errorRate(wr, rTr, train.Y))
		relTest = append(relTest, errorRate(wr, rTe, test.Y))
	}
	fmt.Println("| input | train error | test error |")
	fmt.Println("| --- | --- | --- |")
	fmt.Printf("| mean token (uniform attention) | %v | %v |\n", summarize(meanTrain), summarize(meanTest))
	fmt.Printf("| mean of relevant tokens (ideal attention) | %v | %v |\n", summarize(relTrain), summarize(relTest))
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func norm(a []float64) float64 { return math.Sqrt(dot(a, a)) }

// ---- part count ----

func countFeatures(o options) {
	fmt.Printf("\n## NTK features P (layers.NumTrainable, blocks %s) against n = %d\n\n", o.marginTrain, o.mix.Train)
	hs := append(slices.Clone(o.heads), o.marginHeads...)
	slices.Sort(hs)
	hs = slices.Compact(hs)
	fmt.Println("| H | P all-token | n/P all-token | P first-token | n/P first-token |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	for _, h := range hs {
		row := fmt.Sprintf("| %d", h)
		for _, q := range []string{layers.AllToken, layers.FirstToken} {
			m, err := layers.New(layers.Config{Heads: h, Tokens: o.mix.Tokens, Dim: o.mix.Dim, Query: q, Train: o.marginTrain})
			if err != nil {
				fail("model", err)
			}
			p := layers.NumTrainable(m)
			row += fmt.Sprintf(" | %d | %.2f", p, float64(o.mix.Train)/float64(p))
		}
		fmt.Println(row + " |")
	}
}

// ---- part sweep ----

type curvePoint struct {
	step                                            int
	trainLoss, trainErr, testLoss, testErr, relMass float64
}

type sweepResult struct {
	eta     float64
	curve   []curvePoint
	seconds float64
	stepSec float64
	err     error
}

func (o options) modelConfig(h int, train string) layers.Config {
	return layers.Config{Heads: h, Tokens: o.mix.Tokens, Dim: o.mix.Dim, Query: o.query, Train: train, Scale: o.scale}
}

func recordSteps(k, points int) []int {
	out := []int{0}
	for j := 1; j <= points; j++ {
		s := k * j / points
		if s > out[len(out)-1] {
			out = append(out, s)
		}
	}
	return out
}

func sweepPoint(o options, h, s int) sweepResult {
	t0 := time.Now()
	train, test, err := o.seedMix(s).Generate()
	if err != nil {
		return sweepResult{err: err}
	}
	m, err := layers.New(o.modelConfig(h, o.train))
	if err != nil {
		return sweepResult{err: err}
	}
	p, err := layers.NewParams(m, layers.Init{Scheme: o.initName, UNorm: o.uNorm, WNorm: o.wNorm, Seed: o.mix.Seed + uint64(s)})
	if err != nil {
		return sweepResult{err: err}
	}
	gm, err := graph.NewModel(m, p, train)
	if err != nil {
		return sweepResult{err: err}
	}
	ev, err := graph.NewEvaluator(m, test)
	if err != nil {
		return sweepResult{err: err}
	}
	eta := o.eta
	if o.rule == "theory" {
		ts, err := theory.TheoryStepSize(m, p, train, o.steps)
		if err != nil {
			return sweepResult{err: err}
		}
		eta = ts.Eta
	}
	if o.rule == "curvature" {
		cs, err := theory.CurvatureStepSize(gm.NumTrainable(), func(v, dst []float64) error {
			_, err := gm.HessVec(v, dst)
			return err
		}, o.c, 20, o.mix.Seed+uint64(s))
		if err != nil {
			return sweepResult{err: err}
		}
		eta = cs.Eta
	}
	res := sweepResult{eta: eta}
	want := recordSteps(o.steps, o.points)
	next := 0
	stepStart := time.Now()
	_, err = graph.GD{StepSize: eta, Steps: o.steps}.Run(gm, graph.RecorderFunc(func(pr graph.Progress) error {
		if next >= len(want) || pr.Step != want[next] {
			return nil
		}
		next++
		te, err := ev.Evaluate(gm.Params())
		if err != nil {
			return err
		}
		res.curve = append(res.curve, curvePoint{pr.Step, pr.Loss, pr.Error, te.Loss, te.Error, ev.RelevantMass()})
		return nil
	}))
	res.stepSec = time.Since(stepStart).Seconds() / float64(max(o.steps, 1))
	res.seconds = time.Since(t0).Seconds()
	res.err = err
	return res
}

// parallel runs f(0..n-1) on o.workers goroutines.
func parallel(workers, n int, f func(int)) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < max(workers, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				f(j)
			}
		}()
	}
	for j := 0; j < n; j++ {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
}

func headSweep(o options) {
	rule := fmt.Sprintf("fixed eta = %g", o.eta)
	if o.rule == "curvature" {
		rule = fmt.Sprintf("curvature eta = %g / lambda_max(Hess F(theta_0)) (Lanczos, 20 iterations)", o.c)
	}
	if o.rule == "theory" {
		rule = "theory step size (theory.TheoryStepSize for K steps)"
	}
	fmt.Printf("\n## Head sweep: %s, train %s, scale %s, init %s (u_norm %g, w_norm %g), K = %d, %s, %d seeds\n\n",
		o.query, o.train, o.scale, o.initName, o.uNorm, o.wNorm, o.steps, rule, o.seeds)
	results := make([][]sweepResult, len(o.heads))
	for i := range results {
		results[i] = make([]sweepResult, o.seeds)
	}
	// Largest H first so the slowest points do not finish last.
	order := make([]int, 0, len(o.heads)*o.seeds)
	for i := len(o.heads) - 1; i >= 0; i-- {
		for s := 0; s < o.seeds; s++ {
			order = append(order, i*o.seeds+s)
		}
	}
	t0 := time.Now()
	parallel(o.workers, len(order), func(j int) {
		i, s := order[j]/o.seeds, order[j]%o.seeds
		results[i][s] = sweepPoint(o, o.heads[i], s)
	})
	wall := time.Since(t0).Seconds()
	fmt.Println("| H | P | eta | step | train loss | train error | test loss | test error | relevant mass (test) |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	var timing []string
	for i, h := range o.heads {
		m, _ := layers.New(o.modelConfig(h, o.train))
		var etas, secs, stepSecs []float64
		failed := 0
		for _, r := range results[i] {
			if r.err != nil {
				failed++
				fmt.Fprintf(os.Stderr, "H=%d: %v\n", h, r.err)
			}
			etas = append(etas, r.eta)
			secs = append(secs, r.seconds)
			stepSecs = append(stepSecs, r.stepSec)
		}
		for j, k := range recordSteps(o.steps, o.points) {
			var tl, te, vl, ve, rm []float64
			for _, r := range results[i] {
				if j < len(r.curve) && r.err == nil {
					c := r.curve[j]
					tl, te, vl, ve, rm = append(tl, c.trainLoss), append(te, c.trainErr), append(vl, c.testLoss), append(ve, c.testErr), append(rm, c.relMass)
				}
			}
			fmt.Printf("| %d | %d | %v | %d | %v | %v | %v | %v | %v |\n", h, layers.NumTrainable(m), summarize(etas), k,
				summarize(tl), summarize(te), summarize(vl), summarize(ve), summarize(rm))
		}
		timing = append(timing, fmt.Sprintf("| %d | %v | %.3g | %d |", h, summarize(secs), summarize(stepSecs).mean*1e3, failed))
	}
	fmt.Printf("\nSweep wall time %.1f s for %d points on %d workers.\n\n", wall, len(order), o.workers)
	fmt.Println("| H | seconds per point | ms per GD step (incl. recording) | failed/diverged seeds |")
	fmt.Println("| --- | --- | --- | --- |")
	for _, t := range timing {
		fmt.Println(t)
	}
}

// ---- part margin ----

type marginResult struct {
	gamma, normalized, meanNorm, relMass float64
	separable                            bool
	status                               string
	err                                  error
}

// initParams returns the parameters of initialization name, and the
// parameters whose U the ideal features use.
func initParams(o options, name string, h int, seed uint64, data *datasets.Dataset) (*layers.Params, error) {
	cfg := func(train string) layers.Model {
		m, err := layers.New(o.modelConfig(h, train))
		if err != nil {
			fail("model", err)
		}
		return m
	}
	zero, err := layers.NewParams(cfg(layers.TrainUW), layers.Init{Scheme: layers.InitZeroW, UNorm: o.uNorm, Seed: seed})
	if err != nil {
		return nil, err
	}
	switch name {
	case "random":
		return layers.NewParams(cfg(layers.TrainUW), layers.Init{Scheme: layers.InitRandom, UNorm: o.uNorm, WNorm: o.wNorm, Seed: seed})
	case "zero-W", "ideal":
		return zero, nil
	case "step-W":
		return graph.FirstStep(cfg(layers.TrainW), zero, data, o.firstEta)
	case "step-U", "step-U-W", "ideal-U1":
		p, err := graph.FirstStep(cfg(layers.TrainU), zero, data, o.firstEta)
		if err != nil || name != "step-U-W" {
			return p, err
		}
		return graph.FirstStep(cfg(layers.TrainW), p, data, o.firstEta)
	case "step-UW":
		return graph.FirstStep(cfg(layers.TrainUW), zero, data, o.firstEta)
	}
	return nil, fmt.Errorf("init %q: must be random, zero-W, step-W, step-U, step-U-W, step-UW, ideal or ideal-U1", name)
}

func marginPoint(o options, name string, h int, zeta float64, s int) marginResult {
	mix := o.seedMix(s)
	mix.Zeta = zeta
	data, err := mix.Sample(o.marginN, datasets.TrainStream)
	if err != nil {
		return marginResult{err: err}
	}
	p, err := initParams(o, name, h, mix.Seed, data)
	if err != nil {
		return marginResult{err: err}
	}
	m, err := layers.New(o.modelConfig(h, o.marginTrain))
	if err != nil {
		return marginResult{err: err}
	}
	var k *theory.NTK
	res := marginResult{relMass: 1}
	if strings.HasPrefix(name, "ideal") {
		k, err = theory.IdealNTK(m, p, data)
	} else {
		k, err = theory.NewNTK(m, p, data)
		if err == nil {
			ev, err2 := graph.NewEvaluator(m, data)
			if err2 != nil {
				return marginResult{err: err2}
			}
			if _, err2 = ev.Evaluate(p); err2 != nil {
				return marginResult{err: err2}
			}
			res.relMass = ev.RelevantMass()
		}
	}
	if err != nil {
		return marginResult{err: err}
	}
	mg := k.Margin()
	for i := 0; i < k.N; i++ {
		res.meanNorm += math.Sqrt(k.Gram[i*k.N+i]) / float64(k.N)
	}
	res.gamma, res.separable, res.status = mg.Gamma, mg.Separable, mg.Status.String()
	res.normalized = mg.Gamma / res.meanNorm
	return res
}

func margins(o options) {
	fmt.Printf("\n## NTK margins on blocks %s (%s, n = %d), first steps of size %g; normalized = gamma / mean_i ||psi_i||\n\n",
		o.marginTrain, o.query, o.marginN, o.firstEta)
	type key struct {
		z, h, init, s int
	}
	var keys []key
	for zi := range o.zetas {
		for hi := range o.marginHeads {
			for ii := range o.inits {
				for s := 0; s < o.seeds; s++ {
					keys = append(keys, key{zi, hi, ii, s})
				}
			}
		}
	}
	res := make([]marginResult, len(keys))
	times := make([]float64, len(keys))
	fmt.Println("| zeta | H | P | init | relevant mass | gamma | mean norm | gamma / mean norm | separable seeds | statuses | s per point |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	// One row at a time (its seeds in parallel), printed as it completes.
	for j := 0; j < len(keys); j += o.seeds {
		k := keys[j]
		parallel(o.workers, o.seeds, func(s int) {
			t0 := time.Now()
			res[j+s] = marginPoint(o, o.inits[k.init], o.marginHeads[k.h], o.zetas[k.z], s)
			times[j+s] = time.Since(t0).Seconds()
		})
		m, _ := layers.New(o.modelConfig(o.marginHeads[k.h], o.marginTrain))
		var g, nrm, gn, rm, ts []float64
		sep := 0
		statuses := map[string]int{}
		for s := 0; s < o.seeds; s++ {
			r := res[j+s]
			ts = append(ts, times[j+s])
			if r.err != nil {
				fmt.Fprintf(os.Stderr, "margin %v: %v\n", k, r.err)
				statuses["error"]++
				continue
			}
			g, nrm, gn, rm = append(g, r.gamma), append(nrm, r.meanNorm), append(gn, r.normalized), append(rm, r.relMass)
			if r.separable {
				sep++
			}
			statuses[r.status]++
		}
		var st []string
		for name, c := range statuses {
			st = append(st, fmt.Sprintf("%s %d", name, c))
		}
		slices.Sort(st)
		fmt.Printf("| %g | %d | %d | %s | %v | %v | %v | %v | %d/%d | %s | %.2g |\n", o.zetas[k.z], o.marginHeads[k.h], layers.NumTrainable(m),
			o.inits[k.init], summarize(rm), summarize(g), summarize(nrm), summarize(gn), sep, o.seeds, strings.Join(st, ", "), summarize(ts).mean)
	}
}
