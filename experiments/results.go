package experiments

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mhattn/mha/internal/atomicfile"
)

// MetricsHeader is the header line of every metrics.csv.
const MetricsHeader = "heads,step,train_loss,test_loss,train_err,test_err,grad_norm,dist_from_init,relevant_attention"

// Row is one line of metrics.csv: the state theta_k of one point at a
// logged step k. Losses are the mean logistic loss, errors the 0-1 error,
// GradNorm is ||grad F(theta_k)||, DistFromInit is ||theta_k - theta_0||
// over the trainable blocks, and RelevantAttention the mean attention mass
// on relevant tokens of the test set (graph.Evaluator.RelevantMass).
type Row struct {
	Heads             int
	Step              int
	TrainLoss         float64
	TestLoss          float64
	TrainErr          float64
	TestErr           float64
	GradNorm          float64
	DistFromInit      float64
	RelevantAttention float64
}

// csv formats r as a metrics.csv line without the newline.
func (r Row) csv() string {
	fs := []string{strconv.Itoa(r.Heads), strconv.Itoa(r.Step)}
	for _, x := range []float64{r.TrainLoss, r.TestLoss, r.TrainErr, r.TestErr, r.GradNorm, r.DistFromInit, r.RelevantAttention} {
		fs = append(fs, formatFloat(x))
	}
	return strings.Join(fs, ",")
}

func parseRow(line string) (Row, error) {
	f := strings.Split(line, ",")
	if len(f) != 9 {
		return Row{}, fmt.Errorf("metrics row %q: %d fields, want 9", line, len(f))
	}
	var r Row
	var err error
	if r.Heads, err = strconv.Atoi(f[0]); err != nil {
		return Row{}, err
	}
	if r.Step, err = strconv.Atoi(f[1]); err != nil {
		return Row{}, err
	}
	for i, dst := range []*float64{&r.TrainLoss, &r.TestLoss, &r.TrainErr, &r.TestErr, &r.GradNorm, &r.DistFromInit, &r.RelevantAttention} {
		if *dst, err = strconv.ParseFloat(f[2+i], 64); err != nil {
			return Row{}, fmt.Errorf("metrics row %q: %w", line, err)
		}
	}
	return r, nil
}

// ReadMetrics parses a metrics.csv.
func ReadMetrics(path string) ([]Row, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) == 0 || lines[0] != MetricsHeader {
		return nil, fmt.Errorf("%s: header is not %q", path, MetricsHeader)
	}
	rows := make([]Row, 0, len(lines)-1)
	for _, l := range lines[1:] {
		if l == "" {
			continue
		}
		r, err := parseRow(l)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// Point statuses.
const (
	StatusOK          = "ok"
	StatusDiverged    = "diverged"
	StatusInterrupted = "interrupted" // stopped by a signal after a checkpoint; the next run resumes it
	StatusPending     = "pending"     // not started when the run stopped
)

// PointResult is a point's entry in summary.json (and its
// points/<label>/result.json). Losses, errors, dist_from_init and
// relevant_attention are those of the last logged step: step K for status
// "ok", the last step before divergence for "diverged".
type PointResult struct {
	Index  int    `json:"index"`
	Label  string `json:"label"`
	Heads  int    `json:"heads"`
	Status string `json:"status"`
	// Step is the last step reached (K when ok).
	Step int `json:"step"`
	// DivergedStep is the step whose loss was NaN, infinite or above
	// max_loss (status "diverged" only); Divergence says which.
	DivergedStep *int   `json:"diverged_step,omitempty"`
	Divergence   string `json:"divergence,omitempty"`

	TrainLoss         Number `json:"train_loss"`
	TestLoss          Number `json:"test_loss"`
	TrainErr          Number `json:"train_err"`
	TestErr           Number `json:"test_err"`
	DistFromInit      Number `json:"dist_from_init"`
	RelevantAttention Number `json:"relevant_attention"`

	Eta Number `json:"eta"`
	// EtaRule is "theory" (theory.TheoryStepSize) or "fixed" (config eta);
	// EtaDerivation spells out the rule with its numbers.
	EtaRule       string `json:"eta_rule"`
	EtaDerivation string `json:"eta_derivation"`
	Theory        Theory `json:"theory"`

	// WallSeconds is the compute time of the point, summed over resumed
	// runs. It is the only non-reproducible field of a point.
	WallSeconds Number `json:"wall_seconds"`

	Rows []Row `json:"-"`
}

// Theory holds the theory's numbers for one point (package theory).
type Theory struct {
	InitialLoss Number `json:"initial_loss"` // F(theta_0)
	R           Number `json:"R"`            // largest token norm of the training set
	// Radius is the ball around theta_0 over which L, beta1 and beta2 hold:
	// r = sqrt(2 eta K F(theta_0)), which GD provably stays in.
	Radius Number `json:"radius"`
	L      Number `json:"L"`     // smoothness bound of F over the ball
	Beta1  Number `json:"beta1"` // max over heads of beta1 over the ball
	Beta2  Number `json:"beta2"` // max over heads of beta2 over the ball
	// WeakConvexity is kappa = scale(H) max_h beta2: lambda_min(Hess F) >= -kappa F.
	WeakConvexity Number  `json:"weak_convexity"`
	NTK           NTKInfo `json:"ntk"`
	// Certificate is nil when the NTK features are not separable;
	// CertificateError then says why.
	Certificate      *CertificateInfo `json:"certificate"`
	CertificateError string           `json:"certificate_error,omitempty"`
	// Bound is nil without a certificate.
	Bound *BoundInfo `json:"bound"`
}

// NTKInfo is the NTK margin at theta_0 on the training set, with its
// certified bracket Lower <= gamma <= Upper.
type NTKInfo struct {
	Gamma     Number `json:"gamma"`
	Lower     Number `json:"lower"`
	Upper     Number `json:"upper"`
	Gap       Number `json:"gap"`
	Separable bool   `json:"separable"`
	Converged bool   `json:"converged"`
}

// CertificateInfo is the realizability certificate theta* = theta_0 + lambda v.
type CertificateInfo struct {
	Eps       Number `json:"eps"`
	Lambda    Number `json:"lambda"`
	Distance  Number `json:"distance"`   // ||theta* - theta_0||
	Margin    Number `json:"margin"`     // achieved NTK margin of v
	Loss      Number `json:"loss"`       // F(theta*), measured
	LossBound Number `json:"loss_bound"` // F(theta*) from the second-order bound
	Attained  bool   `json:"attained"`   // loss_bound <= eps
}

// BoundInfo holds the training and test bounds (theory.Prediction) with
// the constants over the ball of radius 2 ||theta* - theta_0||. The
// training bound at step k is 2 f_star + distance^2 / (eta k).
type BoundInfo struct {
	FStar    Number `json:"f_star"`
	Distance Number `json:"distance"`
	Eta      Number `json:"eta"`
	// Valid says the bounds' condition kappa (2D)^2 <= 1 holds.
	Valid     bool   `json:"valid"`
	TrainAtK  Number `json:"train_at_K"`
	TestAtK   Number `json:"test_at_K"`
	Lipschitz Number `json:"lipschitz"`
}

// TrainBound is the training-loss bound at step k (+Inf at k = 0).
func (b *BoundInfo) TrainBound(k int) float64 {
	if k <= 0 {
		return math.Inf(1)
	}
	return 2*float64(b.FStar) + float64(b.Distance)*float64(b.Distance)/(float64(b.Eta)*float64(k))
}

// writeJSON writes v as indented JSON atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, append(b, '\n'))
}

// readJSON decodes path into v, rejecting unknown fields.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

// Summary is summary.json.
type Summary struct {
	Experiment string `json:"experiment"`
	// Status is "ok", "diverged" (some points diverged, the others
	// finished) or "interrupted".
	Status string        `json:"status"`
	Points []PointResult `json:"points"`
}

// ReadSummary reads a summary.json.
func ReadSummary(path string) (*Summary, error) {
	var s Summary
	if err := readJSON(path, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func pointDir(out, label string) string { return filepath.Join(out, "points", label) }

// LoadResult reads a result directory written by a run (finished or not):
// config.json, summary.json and each point's rows from metrics.csv, as
// Records (and, for the head sweep, Points with their rows). A notebook can
// pass it to the plot builders.
func LoadResult(dir string) (*Result, error) {
	var rf RunFile
	if err := readRunFile(filepath.Join(dir, "config.json"), &rf); err != nil {
		return nil, err
	}
	var raw rawSummary
	if err := readJSON(filepath.Join(dir, "summary.json"), &raw); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "metrics.csv")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	header, _, _ := strings.Cut(string(b), "\n")
	lines, err := readLines(path, header)
	if err != nil {
		return nil, err
	}
	res := &Result{Experiment: rf.Experiment, Dir: dir, Config: rf.Config}
	res.Summary.Experiment, res.Status = raw.Experiment, raw.Status
	gd := header == MetricsHeader
	// Rows belong to the point named by their first field: the label, or
	// for the head sweep the head count.
	byKey := map[string][]string{}
	for _, l := range lines {
		k, _, _ := strings.Cut(l, ",")
		byKey[k] = append(byKey[k], l)
	}
	for i, js := range raw.Points {
		var head struct {
			Index  int    `json:"index"`
			Label  string `json:"label"`
			Status string `json:"status"`
			Heads  int    `json:"heads"`
		}
		if err := json.Unmarshal(js, &head); err != nil {
			return nil, fmt.Errorf("summary.json point %d: %w", i, err)
		}
		key := head.Label
		if gd {
			key = strconv.Itoa(head.Heads)
		}
		var ind bytes.Buffer
		if err := json.Indent(&ind, js, "", "  "); err != nil {
			return nil, err
		}
		res.Records = append(res.Records, Record{Index: head.Index, Label: head.Label, Status: head.Status, JSON: ind.Bytes(), Rows: byKey[key]})
	}
	if gd {
		if err := res.decodeGD(); err != nil {
			return nil, err
		}
	}
	return res, nil
}
