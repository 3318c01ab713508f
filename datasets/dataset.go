package datasets

import (
	"errors"
	"fmt"
	"math"
)

// Dataset is a set of N labelled sequences of T tokens in R^D.
type Dataset struct {
	N, T, D int
	// X holds the tokens, row-major with shape [N, T, D]: coordinate k of
	// token t of sequence i is X[(i*T+t)*D+k].
	X []float64
	// Y holds the labels, each -1 or +1.
	Y []float64
	// Mask has shape [N, T]: Mask[i*T+t] is true where token t of sequence
	// i is relevant (a signal token). It is nil when unknown, as for data
	// loaded with LoadXY.
	Mask []bool
}

// Validate checks shapes, that X is finite and that labels are -1 or +1.
// Errors name the field and the first offending index.
func (d *Dataset) Validate() error {
	if d == nil {
		return errors.New("dataset is nil")
	}
	var errs []error
	if d.N < 1 || d.T < 1 || d.D < 1 {
		return fmt.Errorf("dataset: N, T, D = %d, %d, %d, want each >= 1", d.N, d.T, d.D)
	}
	if d.N > math.MaxInt/d.T/d.D {
		return fmt.Errorf("dataset: N*T*D = %d*%d*%d overflows", d.N, d.T, d.D)
	}
	if len(d.X) != d.N*d.T*d.D {
		errs = append(errs, fmt.Errorf("dataset: len(X) = %d, want N*T*D = %d*%d*%d = %d", len(d.X), d.N, d.T, d.D, d.N*d.T*d.D))
	} else if err := checkFinite("X", d.X, d.T, d.D); err != nil {
		errs = append(errs, fmt.Errorf("dataset: %w", err))
	}
	if len(d.Y) != d.N {
		errs = append(errs, fmt.Errorf("dataset: len(Y) = %d, want N = %d", len(d.Y), d.N))
	} else if err := checkLabels("Y", d.Y); err != nil {
		errs = append(errs, fmt.Errorf("dataset: %w", err))
	}
	if d.Mask != nil && len(d.Mask) != d.N*d.T {
		errs = append(errs, fmt.Errorf("dataset: len(Mask) = %d, want N*T = %d*%d = %d (or nil)", len(d.Mask), d.N, d.T, d.N*d.T))
	}
	return errors.Join(errs...)
}

// checkFinite reports the first non-finite value of x, read as [n, T, D],
// and how many there are.
func checkFinite(name string, x []float64, T, D int) error {
	first, count := -1, 0
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			if first < 0 {
				first = i
			}
			count++
		}
	}
	if first < 0 {
		return nil
	}
	i, t, k := first/(T*D), first/D%T, first%D
	return fmt.Errorf("%s[%d] (sequence %d, token %d, coordinate %d) = %v, want a finite value (%d non-finite values in all)",
		name, first, i, t, k, x[first], count)
}

// checkLabels reports the first label not in {-1, +1}, with a hint when the
// labels look like {0, 1}.
func checkLabels(name string, y []float64) error {
	first, zeroOne := -1, true
	for i, v := range y {
		if v != 1 && v != -1 && first < 0 {
			first = i
		}
		if v != 0 && v != 1 {
			zeroOne = false
		}
	}
	if first < 0 {
		return nil
	}
	err := fmt.Errorf("%s[%d] = %v, want -1 or +1", name, first, y[first])
	if zeroOne {
		err = fmt.Errorf("%w: labels are in {0, 1}; convert them with y = 2*y - 1", err)
	}
	return err
}
