package graph

import (
	"testing"

	"math"

	"github.com/mhattn/mha/datasets"
	"github.com/mhattn/mha/layers"
)

// The reference model: the definition of PAPER.md written as plain loops,
// one sample and one head at a time, in the public parameter layout. It
// shares no code with the graph beyond the Params type.

// refSoftmax is softmax with the row maximum subtracted.
func refSoftmax(logits []float64) []float64 {
	peak := math.Inf(-1)
	for _, v := range logits {
		peak = math.Max(peak, v)
	}
	out := make([]float64, len(logits))
	var sum float64
	for i, v := range logits {
		out[i] = math.Exp(v - peak)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

func refLoss(z float64) float64 {
	if z > 0 {
		return math.Log1p(math.Exp(-z))
	}
	return -z + math.Log1p(math.Exp(z))
}

func refSlope(z float64) float64 { return -1 / (1 + math.Exp(z)) }

// token returns x_t of sequence i.
func token(data *datasets.Dataset, i, t int) []float64 {
	off := (i*data.T + t) * data.D
	return data.X[off : off+data.D]
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// bilinear is a^T W b for W d x d row-major.
func bilinear(a []float64, w []float64, b []float64) float64 {
	d := len(a)
	var s float64
	for j := 0; j < d; j++ {
		for k := 0; k < d; k++ {
			s += a[j] * w[j*d+k] * b[k]
		}
	}
	return s
}

// refPhiGrad returns Phi(theta; X_i) and its gradient with respect to U and
// W in public layout.
func refPhiGrad(c layers.Config, p *layers.Params, data *datasets.Dataset, i int) (phi float64, gU, gW []float64) {
	T, d, rows := c.Tokens, c.Dim, c.Rows()
	scale := 1 / math.Sqrt(float64(c.Heads))
	if c.Scale == layers.InvHeads {
		scale = 1 / float64(c.Heads)
	}
	gU = make([]float64, len(p.Get("U")))
	gW = make([]float64, len(p.Get("W")))
	for h := 0; h < c.Heads; h++ {
		W := p.Get("W")[h*d*d : (h+1)*d*d]
		for r := 0; r < rows; r++ {
			u := p.Get("U")[(h*rows+r)*d : (h*rows+r+1)*d]
			logits := make([]float64, T)
			for s := 0; s < T; s++ {
				if c.IsFirstToken() {
					logits[s] = bilinear(token(data, i, s), W, token(data, i, 0)) // x_s^T W x_1
				} else {
					logits[s] = bilinear(token(data, i, r), W, token(data, i, s)) // x_r^T W x_s
				}
			}
			a := refSoftmax(logits)
			// Phi contribution: sum_s a_s <u, x_s>.
			ux := make([]float64, T)
			var mean float64
			for s := 0; s < T; s++ {
				ux[s] = dot(u, token(data, i, s))
				phi += scale * a[s] * ux[s]
				mean += a[s] * ux[s]
				for k := 0; k < d; k++ {
					gU[(h*rows+r)*d+k] += scale * a[s] * token(data, i, s)[k]
				}
			}
			// dPhi/dlogit_s = scale a_s (ux_s - sum_s' a_s' ux_s').
			for s := 0; s < T; s++ {
				dl := scale * a[s] * (ux[s] - mean)
				var left, right []float64
				if c.IsFirstToken() {
					left, right = token(data, i, s), token(data, i, 0)
				} else {
					left, right = token(data, i, r), token(data, i, s)
				}
				for j := 0; j < d; j++ {
					for k := 0; k < d; k++ {
						gW[(h*d+j)*d+k] += dl * left[j] * right[k]
					}
				}
			}
		}
	}
	return phi, gU, gW
}

// refRisk returns F and grad F over the trainable vector.
func refRisk(c layers.Config, p *layers.Params, data *datasets.Dataset) (float64, []float64) {
	var loss float64
	grad := make([]float64, layers.NumTrainable(arch(nil, c)))
	for i := 0; i < data.N; i++ {
		phi, gU, gW := refPhiGrad(c, p, data, i)
		z := data.Y[i] * phi
		loss += refLoss(z) / float64(data.N)
		coef := refSlope(z) * data.Y[i] / float64(data.N)
		g := refTheta(c, gU, gW)
		for k := range grad {
			grad[k] += coef * g[k]
		}
	}
	return loss, grad
}

// arch makes the model of c; the configurations of these tests are valid.
func arch(_ testing.TB, c layers.Config) layers.Model {
	m, err := layers.New(c)
	if err != nil {
		panic(err)
	}
	return m
}

// refTheta lays out reference gradients of U and W as the trainable
// vector of c: U then W, the blocks that train.
func refTheta(c layers.Config, gU, gW []float64) []float64 {
	var theta []float64
	if c.TrainsU() {
		theta = append(theta, gU...)
	}
	if c.TrainsW() {
		theta = append(theta, gW...)
	}
	return theta
}
