// Package margin is the NTK margin experiment: it tests the paper's
// tokenized-mixture claims as stated, that the data become NTK separable
// after one initialization step, with margins that depend on the data,
// and that some margins are unattainable from some initializations. No GD
// runs: every point is, for each initialization, an NTK Gram matrix and
// its minimum-norm point (theory.MinNormPoint). Its command is
// experiments/margin.
//
// Features. margin.features "U" (default) uses psi_i = y_i grad_U
// Phi(X_i) = y_i scale(H) (A_i X_i for every head): they depend on the
// attention weights A_i only, so their margin measures how separable the
// attention makes the data, with P = H d features for the first-token
// model (n/P = 64, 16, 4 at H = 1, 4, 16 with n = 512). "UW" uses
// every parameter (P = H (d + d^2) for first-token); where n <= P the
// table flags that separability is a dimension count.
//
// Initializations (margin.inits, all measured at every point on the same
// features): random; zero-W (uniform attention); first-step (one step on
// model.train's blocks from zero-W); step-W (a W-only step from zero-W
// with U fixed); step-U-W (a U-only step from zero-W, then a W-only step:
// the attention's step acts on a readout that already reads the signal);
// ideal (theory.IdealNTK: attention uniform on the relevant tokens, on the
// same blocks, zero-W's U as readout). The steps have size
// margin.first_step_eta; see Start.
//
// Margins are reported raw (gamma, with its certified bracket and status:
// "not separable" only when proved) and normalized, gamma / mean_i
// ||psi_i|| (theory.Margin.Normalize), which a common scale of the
// features (a larger U, scale(H), the first step's size) leaves unchanged
// and so compares across initializations; the attention mass on the
// relevant tokens says how far each initialization moved the attention.
//
// Repetitions sweep seed (gdpoint.Config.Seed: the data and init seeds
// together), so U0 varies with the data as in docs/defaults.md. Package theory proves
// no order between the ideal margin and the others: that the ideal
// attention's normalized margin is the largest is a measurement.
//
// The defaults (DefaultConfig) are the recommended configuration of
// docs/defaults.md, Section 6: d = 8, T = 8, n = 512, zeta = 1/8, decoy
// 0.5 (uniform attention fails: a classifier on the mean token has 24%
// test error), first-token, H = 1, 4, 16, zeta = 1/8, 1/4, 1/2 (a runner
// sweep of data.zeta), seeds 1..5, first steps of size 1000:
//
//	go run ./experiments/margin
//	go run ./experiments/margin -set data.zeta=0.125   # H only
//	go run ./experiments/margin -set margin.features=UW -set data.train=1024 -heads 1,2
//
// The first takes about 3 times the default run; the UW one is slower
// (points whose features are not separable run MinNormPoint to its zero
// tolerance: minutes per point at n = 1024).
package margin
