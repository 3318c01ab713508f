package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mhattn/mha/datasets"
)

// On two Gaussian classes with means +-m e_0 the fitted classifier's error
// on fresh data is close to the Bayes error Phi(-m); with a bias the
// classes may be shifted off the origin.
func TestLogisticReachesBayesError(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	draw := func(n int, m, shift float64) ([][]float64, []float64) {
		x, y := make([][]float64, n), make([]float64, n)
		for i := range x {
			y[i] = float64(2*rng.IntN(2) - 1)
			x[i] = []float64{y[i]*m + shift + rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
		}
		return x, y
	}
	for _, tc := range []struct{ m, shift float64 }{{1, 0}, {1, 5}, {0.5, -2}} {
		x, y := draw(4000, tc.m, tc.shift)
		w := logistic(x, y, 1e-3*4000)
		xt, yt := draw(20000, tc.m, tc.shift)
		got := errorRate(w, xt, yt)
		bayes := 0.5 * math.Erfc(tc.m/math.Sqrt2)
		if math.Abs(got-bayes) > 0.015 {
			t.Errorf("means +-%v shifted %v: test error %.4f, Bayes error %.4f", tc.m, tc.shift, got, bayes)
		}
	}
}

// The interval of 5 values uses the t quantile 2.776 with 4 degrees of
// freedom; NaNs (failed seeds) are left out.
func TestSummarize(t *testing.T) {
	s := summarize([]float64{1, 2, 3, 4, 5, math.NaN()})
	want := 2.776445105 * math.Sqrt(2.5) / math.Sqrt(5)
	if s.mean != 3 || math.Abs(s.half-want) > 1e-6 || s.n != 5 {
		t.Errorf("summarize = %+v, want mean 3, half %.6f, n 5", s, want)
	}
	if one := summarize([]float64{7}); one.mean != 7 || one.n != 1 {
		t.Errorf("one value: %+v", one)
	}
	if !math.IsNaN(summarize([]float64{math.NaN()}).mean) {
		t.Error("all NaN gave a mean")
	}
}

func TestRecordSteps(t *testing.T) {
	for _, tc := range []struct {
		k, points int
		want      []int
	}{{300, 6, []int{0, 50, 100, 150, 200, 250, 300}}, {3, 6, []int{0, 1, 2, 3}}, {0, 4, []int{0}}} {
		if got := recordSteps(tc.k, tc.points); !slices.Equal(got, tc.want) {
			t.Errorf("recordSteps(%d, %d) = %v, want %v", tc.k, tc.points, got, tc.want)
		}
	}
}

// With decoys of weight 1/2 and one relevant token in 8, the mean token's
// label coordinate is y + (1/2) sum of 7 random signs, wrong with
// probability P(sum <= -3) = 29/128 (Bayes error 22.7%), while the mean of
// the relevant token is mu_y: the classifier on it makes no error.
func TestSummariesSeparateMeanFromRelevant(t *testing.T) {
	mix := datasets.DefaultMixture()
	mix.Dim, mix.Tokens, mix.Zeta, mix.Decoy, mix.Train, mix.Test = 8, 8, 0.125, 0.5, 2000, 4000
	train, test, err := mix.Generate()
	if err != nil {
		t.Fatal(err)
	}
	mTr, rTr := summaries(train)
	mTe, rTe := summaries(test)
	wm := logistic(mTr, train.Y, 1e-3*float64(train.N))
	wr := logistic(rTr, train.Y, 1e-3*float64(train.N))
	if got := errorRate(wm, mTe, test.Y); math.Abs(got-29.0/128) > 0.03 {
		t.Errorf("mean-token test error %.4f, want about %.4f", got, 29.0/128)
	}
	if got := errorRate(wr, rTe, test.Y); got != 0 {
		t.Errorf("relevant-mean test error %.4f, want 0", got)
	}
}
