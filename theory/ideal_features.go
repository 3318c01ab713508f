package theory

import (
	"errors"
	"fmt"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
)

// IdealNTK returns the NTK features and Gram matrix of the paper's model
// whose every attention row is the ideal one, uniform on the relevant tokens
// of its sequence (s*_t = 1_R / |R| for every query t), with the readout U
// of p, over the blocks m trains. It is the ideal counterpart of NewNTK on
// the same feature set, so that a margin at theta_0 and the ideal margin
// compare like for like (IdealMargin uses U features only).
//
// With q the query rows (T, or 1 for first-token), a_i = X_i^T s* the mean
// of sequence i's relevant tokens, J = diag(s*) - s* s*^T and scale(H) = c,
// the features of head h are
//
//	grad_{U_h} Phi_i = c (a_i for every row t)
//	grad_{W_h} Phi_i = c sum_t x_t (X_i^T J X_i u_{h,t})^T   (all-token: scores x_t^T W x_s)
//	grad_{W_h} Phi_i = c (X_i^T J X_i u_h) x_1^T             (first-token: scores x_s^T W x_1)
//
// (x_t the query tokens, u_{h,t} row t of U_h): the gradients of the model
// at any W whose attention rows equal s*. They do not depend on W, which no
// finite W attains exactly when the relevant and the other tokens differ;
// they are the limit along any W path whose attention tends to s*. The
// trainable-vector layout is that of layers.Params.Trainable. data must
// carry its relevance mask.
func IdealNTK(m layers.Model, p *layers.Params, data *datasets.Dataset) (*NTK, error) {
	c := m.Config()
	if err := Defined(c); err != nil {
		return nil, fmt.Errorf("ideal NTK: %w", err)
	}
	if err := p.Check(m); err != nil {
		return nil, err
	}
	if err := data.Validate(); err != nil {
		return nil, err
	}
	if data.Mask == nil {
		return nil, errors.New("theory: IdealNTK needs the data's relevance mask")
	}
	if data.T != c.Tokens || data.D != c.Dim {
		return nil, fmt.Errorf("theory: IdealNTK: data has T = %d, d = %d, model T = %d, d = %d", data.T, data.D, c.Tokens, c.Dim)
	}
	n, T, d, H, q := data.N, data.T, data.D, c.Heads, c.Rows()
	scale := c.ScaleFactor()
	u := p.Get("U")
	P := layers.NumTrainable(m)
	k := &NTK{N: n, P: P, Features: make([]float64, n*P), Gram: make([]float64, n*n)}
	s := make([]float64, T)
	a := make([]float64, d)
	xu := make([]float64, T) // X u
	jxu := make([]float64, T)
	g := make([]float64, d) // X^T J X u
	for i := 0; i < n; i++ {
		x := data.X[i*T*d : (i+1)*T*d]
		mask := data.Mask[i*T : (i+1)*T]
		rel := 0
		for _, r := range mask {
			if r {
				rel++
			}
		}
		if rel == 0 {
			return nil, fmt.Errorf("theory: IdealNTK: sequence %d has no relevant token", i)
		}
		clear(a)
		for t := 0; t < T; t++ {
			s[t] = 0
			if mask[t] {
				s[t] = 1 / float64(rel)
				axpy(a, s[t], x[t*d:(t+1)*d])
			}
		}
		row := k.Features[i*P : (i+1)*P]
		off := 0
		if c.TrainsU() {
			for h := 0; h < H; h++ {
				for t := 0; t < q; t++ {
					axpy(row[off+(h*q+t)*d:off+(h*q+t+1)*d], scale, a)
				}
			}
			off += H * q * d
		}
		if c.TrainsW() {
			for h := 0; h < H; h++ {
				wh := row[off+h*d*d : off+(h+1)*d*d]
				for t := 0; t < q; t++ {
					ut := u[(h*q+t)*d : (h*q+t+1)*d]
					// J X u = s .* (X u) - s (s^T X u).
					var sxu float64
					for r := 0; r < T; r++ {
						xu[r] = dot2(x[r*d:(r+1)*d], ut)
						sxu += s[r] * xu[r]
					}
					clear(g)
					for r := 0; r < T; r++ {
						jxu[r] = s[r] * (xu[r] - sxu)
						if jxu[r] != 0 {
							axpy(g, jxu[r], x[r*d:(r+1)*d])
						}
					}
					xt := x[t*d : (t+1)*d]
					if q == 1 {
						// first-token: scores x_s^T W x_1, so the gradient is g x_1^T.
						for a1 := 0; a1 < d; a1++ {
							axpy(wh[a1*d:(a1+1)*d], scale*g[a1], xt)
						}
						continue
					}
					// all-token: scores x_t^T W x_s, so the gradient is x_t g^T.
					for a1 := 0; a1 < d; a1++ {
						axpy(wh[a1*d:(a1+1)*d], scale*xt[a1], g)
					}
				}
			}
		}
		scaleTo(row, data.Y[i])
	}
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			v := dot2(k.row(i), k.row(j))
			k.Gram[i*n+j], k.Gram[j*n+i] = v, v
		}
	}
	return k, nil
}
