package theory

import "math"

// MeanNorm returns the mean feature norm mean_i ||psi_i|| = mean_i
// sqrt(K_ii), the unit of a normalized margin (Normalize).
func (k *NTK) MeanNorm() float64 {
	var s float64
	for i := 0; i < k.N; i++ {
		s += math.Sqrt(math.Max(k.Gram[i*k.N+i], 0))
	}
	return s / float64(k.N)
}

// Normalize returns the margin gamma and its certified bounds Lower <=
// gamma <= Upper in units of scale, normally the mean feature norm
// (NTK.MeanNorm): gamma / mean_i ||psi_i||.
//
// The NTK margin is homogeneous of degree one in the features: scaling
// every psi_i by c > 0 scales gamma, both bounds and every ||psi_i|| by c.
// A larger readout U, another scale(H) or a longer first step therefore
// change gamma without changing how separable the data are; the
// normalized margin is free of that common scale, so it compares across
// initializations. It is the quantity the rates depend on: the training
// bound's gamma^2 / beta1^2, with beta1 bounding ||psi_i||. The mean is
// used rather than the maximum, which is one outlier's norm. (Normalizing
// each psi_i to unit norm instead reweights the samples and changes the
// hull: that is not the margin of any initialization.) The bounds stay
// certified: dividing by the same positive number keeps the order. A
// scale of 0 (all features 0: not separable) gives 0, 0, 0.
func (m Margin) Normalize(scale float64) (gamma, lower, upper float64) {
	if !(scale > 0) {
		return 0, 0, 0
	}
	return m.Gamma / scale, m.Lower / scale, m.Upper / scale
}
