package theory

import (
	"errors"
	"fmt"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
)

// IdealMargin is the NTK margin the model would have if every head and
// query attended uniformly to the relevant tokens of each sequence and only
// U trained: the features are psi_i = y_i grad_U Phi = y_i c (A* X_i) for
// every head, where each row of A* X_i is r_i, the mean of sequence i's
// relevant tokens. Their Gram matrix is K_ij = c^2 H q y_i y_j <r_i, r_j>
// (q query rows per head). Comparing it with the margin at theta_0 shows
// how much attention must move for the data to become as separable as the
// relevant tokens make them. data must carry its relevance mask.
func IdealMargin(c layers.Config, data *datasets.Dataset) (Margin, error) {
	if err := Defined(c); err != nil {
		return Margin{}, fmt.Errorf("ideal margin: %w", err)
	}
	if err := data.Validate(); err != nil {
		return Margin{}, err
	}
	if data.Mask == nil {
		return Margin{}, errors.New("theory: IdealMargin needs the data's relevance mask")
	}
	n, T, d := data.N, data.T, data.D
	means := make([]float64, n*d)
	for i := 0; i < n; i++ {
		r := means[i*d : (i+1)*d]
		count := 0
		for t := 0; t < T; t++ {
			if data.Mask[i*T+t] {
				axpy(r, 1, data.X[(i*T+t)*d:(i*T+t+1)*d])
				count++
			}
		}
		if count == 0 {
			return Margin{}, errors.New("theory: IdealMargin: a sequence has no relevant token")
		}
		scaleTo(r, data.Y[i]/float64(count))
	}
	s := c.ScaleFactor()
	factor := s * s * float64(c.Heads*c.Rows())
	gram := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			g := factor * dot2(means[i*d:(i+1)*d], means[j*d:(j+1)*d])
			gram[i*n+j], gram[j*n+i] = g, g
		}
	}
	return MinNormPoint(gram, n, 0), nil
}
