package theory

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Verdict says whether a hypothesis of a bound holds for a run.
type Verdict int

const (
	// Unknown: not decidable from what is known yet (for example a
	// condition on the GD path before the path is measured).
	Unknown Verdict = iota
	// Holds: checked, and true.
	Holds
	// Fails: checked, and false.
	Fails
)

// String is "unknown", "holds" or "fails".
func (v Verdict) String() string {
	switch v {
	case Unknown:
		return "unknown"
	case Holds:
		return "holds"
	case Fails:
		return "fails"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// MarshalText writes the verdict's name, for summary files.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

func verdict(ok bool) Verdict {
	if ok {
		return Holds
	}
	return Fails
}

// Which bound a hypothesis is needed for.
const (
	ForTrain = "train" // the training bound, and so the test bound too
	ForTest  = "test"  // the generalization (test) bound only
)

// Hypothesis is one condition a bound rests on, evaluated for a run:
// Value is the left-hand side as computed, Required the right-hand side of
// Name's inequality.
type Hypothesis struct {
	Name     string  // the inequality, as in docs/theory.md
	For      string  // ForTrain or ForTest
	Holds    Verdict // whether it holds here
	Value    float64
	Required float64
	Reason   string // why it holds, fails or is unknown, with the numbers that decide
}

// String is "name: verdict (reason)".
func (h Hypothesis) String() string {
	return fmt.Sprintf("%s: %v (%s)", h.Name, h.Holds, h.Reason)
}

// MarshalJSON writes the hypothesis with lower-case keys and non-finite
// numbers (unknown values) as null, which encoding/json cannot write.
func (h Hypothesis) MarshalJSON() ([]byte, error) {
	num := func(x float64) *float64 {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return &x
	}
	return json.Marshal(struct {
		Name     string   `json:"name"`
		For      string   `json:"for"`
		Holds    Verdict  `json:"holds"`
		Value    *float64 `json:"value"`
		Required *float64 `json:"required"`
		Reason   string   `json:"reason"`
	}{h.Name, h.For, h.Holds, num(h.Value), num(h.Required), h.Reason})
}

// Hypotheses is the list of conditions of a bound.
type Hypotheses []Hypothesis

// Valid reports whether every hypothesis needed for the bound named by
// which (ForTrain or ForTest) holds; the test bound needs all of them.
func (hs Hypotheses) Valid(which string) bool { return hs.firstFailing(which) < 0 }

// Reason names the first hypothesis for the bound which that does not
// hold, with its verdict and reason; "" when the bound is valid.
func (hs Hypotheses) Reason(which string) string {
	i := hs.firstFailing(which)
	if i < 0 {
		return ""
	}
	return hs[i].String()
}

// Failing lists the hypotheses for the bound which that do not hold
// (failing or unknown), as "name: verdict (reason)" strings for summaries.
func (hs Hypotheses) Failing(which string) []string {
	var out []string
	for _, h := range hs {
		if needed(h, which) && h.Holds != Holds {
			out = append(out, h.String())
		}
	}
	return out
}

func (hs Hypotheses) firstFailing(which string) int {
	for i, h := range hs {
		if needed(h, which) && h.Holds != Holds {
			return i
		}
	}
	return -1
}

func needed(h Hypothesis, which string) bool { return which == ForTest || h.For == ForTrain }

// String lists every hypothesis, one a line.
func (hs Hypotheses) String() string {
	lines := make([]string, len(hs))
	for i, h := range hs {
		lines[i] = h.String()
	}
	return strings.Join(lines, "\n")
}

// LogisticInverse is the margin z with l(z) = log(1 + e^-z) = eps, for
// eps > 0: z = -log(e^eps - 1).
func LogisticInverse(eps float64) float64 { return -math.Log(math.Expm1(eps)) }

// CertificateGain is the largest margin gain lambda gamma - lambda^2
// kappa / 2 over lambda >= 0, gamma^2 / (2 kappa), for a direction of
// margin gamma and a curvature bound kappa held fixed at its value at
// theta_0. Realize's kappa(lambda) only grows with lambda, so no
// certificate along that direction gains more (docs/theory.md,
// "Certificate"). +Inf when kappa is 0 (Phi linear in the trained blocks).
func CertificateGain(gamma, kappa float64) float64 {
	if kappa == 0 {
		return math.Inf(1)
	}
	return gamma * gamma / (2 * kappa)
}

// NeededGain is the smallest margin gain with which the certificate's
// bound mean_i l(z_i + gain) can reach eps from the initial margins z_i =
// y_i Phi(theta_0; X_i): below it even the best sample's loss stays above
// eps. A certificate is attainable only if CertificateGain >= NeededGain.
func NeededGain(eps float64, margins0 []float64) float64 {
	best := math.Inf(-1)
	for _, z := range margins0 {
		best = math.Max(best, z)
	}
	return LogisticInverse(eps) - best
}
