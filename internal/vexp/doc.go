// Package vexp exponentiates float64 slices four lanes at a time, for the
// softmax rows of attention: a step of the reference model takes millions
// of exponentials, and math.Exp one at a time would cost as much as all of
// its matrix products.
//
// Exp reduces x = k ln2 + r with |r| <= ln2/2 (Cody-Waite, two-part ln2),
// evaluates the degree-13 Taylor polynomial of e^r (truncation below
// 1e-17 relative) by Horner's rule with fused multiply-adds, and scales by
// 2^k through the exponent bits. The result is within a few ulps of
// math.Exp for -708 <= x <= 709; below -708 it returns 0 (the true value is
// under 3.3e-308), above 709 it returns e^709 (softmax arguments are
// x - max <= 0, so neither end matters there), NaN stays NaN.
//
// On amd64 with AVX2 and FMA the multiple-of-4 prefix of a slice runs in
// assembly. The rest, and everything with MHA_KERNEL=portable or on other
// CPUs (see internal/kernel), runs a Go version of one lane that performs
// the same operations with math.FMA and math.RoundToEven, so every element
// is the same bits whichever kernel ran and wherever it sat in the slice.
package vexp
