package spectrum

import "math"

// TraceEstimate is Hutchinson's estimate of tr H.
type TraceEstimate struct {
	Trace   float64   // mean of Samples
	StdErr  float64   // standard deviation of Samples / sqrt(probes); NaN for one probe
	Samples []float64 // z_l^T H z_l for each probe, in draw order
}

// Trace estimates tr H by Hutchinson's estimator: the mean of z^T H z over
// probes independent Rademacher vectors z (entries +-1), drawn from seed.
// Each sample is unbiased with variance 2 sum_{i != j} H_ij^2, so the
// error shrinks like 1/sqrt(probes); StdErr estimates it from the spread of
// the samples. Costs probes operator products.
func Trace(op Operator, probes int, seed uint64) (TraceEstimate, error) {
	if err := op.check(); err != nil {
		return TraceEstimate{}, err
	}
	if err := checkCount("probes", probes); err != nil {
		return TraceEstimate{}, err
	}
	rng := newRand(seed, streamTrace)
	z, hz := make([]float64, op.Dim), make([]float64, op.Dim)
	est := TraceEstimate{Samples: make([]float64, probes)}
	for l := range est.Samples {
		rademacher(rng, z)
		if err := op.apply(z, hz); err != nil {
			return TraceEstimate{}, err
		}
		est.Samples[l] = dot(z, hz)
	}
	est.Trace, est.StdErr = meanStdErr(est.Samples)
	return est, nil
}

// meanStdErr returns the mean of x and the standard error of that mean
// (sample standard deviation / sqrt(len x)); NaN for a single value.
func meanStdErr(x []float64) (mean, stdErr float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(x)-1) / float64(len(x)))
}
