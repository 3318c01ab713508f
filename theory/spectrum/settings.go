package spectrum

import (
	"errors"
	"fmt"
	"math"
)

// Settings gathers the instruments' knobs for a caller, such as an
// experiment's configuration, that validates them all before any work.
type Settings struct {
	K          int     // Extremes: eigenvalues at each end, in [1, dim]
	Iterations int     // Extremes and SLQ: Lanczos steps, >= K (and >= 1)
	Probes     int     // Trace: Rademacher probes, >= 1
	Starts     int     // SLQ: random starts, >= 1
	Sigma      float64 // SLQ density: Gaussian broadening, > 0
	Block      int     // Gram: samples per block, >= 1
}

// Validate reports every field out of range for an operator on R^dim,
// joined with errors.Join, in the words the instruments use.
func (s Settings) Validate(dim int) error {
	return errors.Join(
		checkK(s.K, dim),
		checkIterations(s.Iterations, max(s.K, 1), dim),
		checkCount("probes", s.Probes),
		checkCount("starts", s.Starts),
		checkSigma(s.Sigma),
		checkCount("block", s.Block),
	)
}

func checkK(k, dim int) error {
	if k < 1 || k > dim {
		return fmt.Errorf("spectrum.k = %d: must be in [1, dim=%d]", k, dim)
	}
	return nil
}

func checkIterations(iterations, least, dim int) error {
	if iterations >= least {
		return nil
	}
	if least == 1 {
		return fmt.Errorf("spectrum.iterations = %d: must be >= 1 (steps beyond dim = %d are not taken)", iterations, dim)
	}
	return fmt.Errorf("spectrum.iterations = %d: must be >= k = %d (steps beyond dim = %d are not taken)", iterations, least, dim)
}

func checkCount(field string, v int) error {
	if v < 1 {
		return fmt.Errorf("spectrum.%s = %d: must be >= 1", field, v)
	}
	return nil
}

func checkSigma(sigma float64) error {
	if !(sigma > 0) || math.IsInf(sigma, 1) {
		return fmt.Errorf("spectrum.sigma = %v: must be in (0, inf)", sigma)
	}
	return nil
}
