package convexity

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/mhattn/mha/experiments/runner"
	"github.com/mhattn/mha/graph"
	"github.com/mhattn/mha/internal/atomicfile"
	"github.com/mhattn/mha/layers"
	"github.com/mhattn/mha/theory/spectrum"
)

// SpectrumSettings say how the Hessian spectrum is measured at each
// measured step (package theory/spectrum), for any model kind. sigma and
// neg_tol are relative to the spectral width w = (largest - smallest SLQ
// node) of the measurement, so that they mean the same at every step and
// H whatever the scale of the Hessian.
type SpectrumSettings struct {
	// K is the number of eigenvalues at each end of the spectrum written
	// to eigs.csv (spectrum.Extremes from convexity.lanczos iterations);
	// in [1, number of trainable parameters].
	K int `json:"k"`
	// Starts is the number of random starts of stochastic Lanczos
	// quadrature; >= 1.
	Starts int `json:"starts"`
	// Iterations is the number of Lanczos steps per SLQ start (the number
	// of quadrature nodes per start); >= k.
	Iterations int `json:"iterations"`
	// Probes is the number of Rademacher probes of Hutchinson's trace
	// estimator; >= 1 (the standard error is NaN for one).
	Probes int `json:"probes"`
	// Sigma is the standard deviation of the Gaussian that broadens the
	// SLQ nodes into a density, relative to the spectral width w (the
	// broadening in eigenvalue units is sigma w); > 0.
	Sigma float64 `json:"sigma"`
	// NegTol is the threshold of the negative mass, relative to w: the
	// negative mass counts the eigenvalues below -neg_tol w. Finite, >= 0.
	NegTol float64 `json:"neg_tol"`
}

// DefaultSpectrum: the 3 largest and smallest eigenvalues, SLQ with 2
// starts of 20 steps, the trace from 4 probes, broadening 2% and the
// negative mass below -0.1% of the spectral width.
func DefaultSpectrum() SpectrumSettings {
	return SpectrumSettings{K: 3, Starts: 2, Iterations: 20, Probes: 4, Sigma: 0.02, NegTol: 1e-3}
}

// validate reports the spectrum settings out of range for a model with
// dim trainable parameters (dim < 1: unknown, k is then not checked
// against it), in the words of spectrum.Settings.Validate.
func (s SpectrumSettings) validate(dim int) []error {
	if dim < 1 {
		dim = math.MaxInt32
	}
	// Block belongs to the NTK Gram, which this experiment does not use.
	errs := runner.Unjoin(spectrum.Settings{K: s.K, Iterations: s.Iterations, Probes: s.Probes, Starts: s.Starts,
		Sigma: s.Sigma, Block: 1}.Validate(dim))
	if !(s.NegTol >= 0) || math.IsInf(s.NegTol, 1) {
		errs = append(errs, &runner.FieldError{Field: "spectrum.neg_tol", Value: s.NegTol, Want: "a finite value >= 0 (relative to the spectral width)"})
	}
	return errs
}

// numTrainable is the number of trainable parameters of the point's
// model, 0 if the model cannot be built (an error reported elsewhere).
func (c *Config) numTrainable() int {
	md, err := c.NewModel()
	if err != nil {
		return 0
	}
	return layers.NumTrainable(md)
}

// Measurement is the spectrum of Hess F at one step.
type Measurement struct {
	Ext   spectrum.Extremal
	Quad  *spectrum.Quadrature
	Trace spectrum.TraceEstimate
	Neg   spectrum.Negative
	Width float64 // largest minus smallest SLQ node
}

// Measure runs the instruments on the Hessian of m at its current
// parameters, every draw seeded by seed: Extremes with k and lanczos
// iterations, SLQ, Hutchinson's trace and the negative mass. Hessian-vector
// products overwrite the model's gradient: the caller re-evaluates.
func Measure(m *graph.Model, s SpectrumSettings, lanczos int, seed uint64) (Measurement, error) {
	op := spectrum.Operator{Dim: m.NumTrainable(), Apply: func(v, dst []float64) error {
		_, err := m.HessVec(v, dst)
		return err
	}}
	var r Measurement
	var err error
	if r.Ext, err = spectrum.Extremes(op, s.K, lanczos, seed); err != nil {
		return r, err
	}
	if r.Quad, err = spectrum.SLQ(op, s.Starts, s.Iterations, seed); err != nil {
		return r, err
	}
	if r.Trace, err = spectrum.Trace(op, s.Probes, seed); err != nil {
		return r, err
	}
	lo, hi := r.Quad.Range()
	r.Width = hi - lo
	r.Neg, err = r.Quad.Negative(s.NegTol * r.Width)
	return r, err
}

// Rows of a point other than its metric rows travel with them through
// the GD path and its checkpoint, marked by a prefix, so that a resumed
// point writes the same files as an uninterrupted one.
const (
	slqMark = "slq,"
	eigMark = "eig,"
)

// SLQHeader and EigsHeader are the headers of a point's slq.csv and
// eigs.csv.
const (
	SLQHeader  = "label,step,start,node,weight"
	EigsHeader = "label,step,end,rank,value,residual"
)

// extraRows are the marked slq.csv and eigs.csv rows of a measurement at
// step k.
func (r Measurement) extraRows(k int) []string {
	var out []string
	for l, nodes := range r.Quad.Nodes {
		for j, theta := range nodes {
			out = append(out, slqMark+runner.CSVLine(k, l, theta, r.Quad.Weights[l][j]))
		}
	}
	for _, e := range []struct {
		name  string
		pairs []spectrum.Pair
	}{{"top", r.Ext.Top}, {"bottom", r.Ext.Bottom}} {
		for i, p := range e.pairs {
			out = append(out, eigMark+runner.CSVLine(k, e.name, i+1, p.Value, p.Residual))
		}
	}
	return out
}

// splitRows separates a path's rows into metric rows and the bodies of
// slq.csv and eigs.csv, each line led by the point's label.
func splitRows(label string, rows []string) (metrics, slq, eigs []string) {
	for _, r := range rows {
		switch {
		case strings.HasPrefix(r, slqMark):
			slq = append(slq, label+","+strings.TrimPrefix(r, slqMark))
		case strings.HasPrefix(r, eigMark):
			eigs = append(eigs, label+","+strings.TrimPrefix(r, eigMark))
		default:
			metrics = append(metrics, r)
		}
	}
	return metrics, slq, eigs
}

// writeCSV writes header and lines to path atomically.
func writeCSV(path, header string, lines []string) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		bw.WriteString(header + "\n")
		for _, l := range lines {
			bw.WriteString(l + "\n")
		}
		return bw.Flush()
	})
}

// SLQRow is a row of slq.csv: node theta_lj and weight tau_lj of start l
// of the quadrature at step Step.
type SLQRow struct {
	Label        string
	Step, Start  int
	Node, Weight float64
}

// ReadSLQ reads a point's slq.csv.
func ReadSLQ(path string) ([]SLQRow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) == 0 || lines[0] != SLQHeader {
		return nil, fmt.Errorf("%s: header is not %q", path, SLQHeader)
	}
	out := make([]SLQRow, 0, len(lines)-1)
	for _, l := range lines[1:] {
		var r SLQRow
		if err := runner.ParseCSV(l, &r.Label, &r.Step, &r.Start, &r.Node, &r.Weight); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Quadratures groups slq.csv rows by step, in order of first appearance,
// into the quadratures of a model with dim trainable parameters.
func Quadratures(rows []SLQRow, dim int) (steps []int, quads []*spectrum.Quadrature, err error) {
	idx := map[int]int{}
	for _, r := range rows {
		i, ok := idx[r.Step]
		if !ok {
			i = len(steps)
			idx[r.Step] = i
			steps = append(steps, r.Step)
			quads = append(quads, &spectrum.Quadrature{Dim: dim})
		}
		q := quads[i]
		switch {
		case r.Start == len(q.Nodes):
			q.Nodes, q.Weights = append(q.Nodes, nil), append(q.Weights, nil)
		case r.Start != len(q.Nodes)-1:
			return nil, nil, fmt.Errorf("slq rows of step %d: start %d out of order", r.Step, r.Start)
		}
		q.Nodes[r.Start] = append(q.Nodes[r.Start], r.Node)
		q.Weights[r.Start] = append(q.Weights[r.Start], r.Weight)
	}
	if len(steps) == 0 {
		return nil, nil, errors.New("no slq rows")
	}
	return steps, quads, nil
}
