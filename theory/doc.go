// Package theory turns the bounds of arXiv 2310.12680 into numbers for a
// concrete model, dataset and parameter point, and measures what they bound.
//
// The derivations are in docs/theory.md; each function names the section it
// implements. In brief, for tokens of norm at most R and per-head readout
// norms ||U_h||_F:
//
//   - Beta1, Beta2: per-head bounds on the gradient and Hessian of a head's
//     output; ConstantsOverBall combines them into the Lipschitz constant G
//     of Phi, its curvature bound, the weak-convexity constant kappa
//     (lambda_min(Hess F) >= -kappa F) and the smoothness L of F, at a point
//     or over a ball around it.
//   - TheoryBall, TheoryStepSize: the ball GD provably stays in, and
//     eta = 1/L over it (shrinking like K^(-1/2) when U and W train);
//     CurvatureStepSize: eta = c / lambda_max(Hess F(theta_0)); StepRule
//     names the rule a run used.
//   - NewNTK, MinNormPoint: NTK features psi_i = y_i grad Phi(theta_0; X_i),
//     their Gram matrix and the margin gamma (distance from the origin to
//     their convex hull) with certified bounds and a Status that never
//     claims "not separable" without proof.
//   - Realize: the realizability certificate theta* = theta_0 + lambda v;
//     CertificateGain and NeededGain say when it cannot be attained.
//   - NewBounds, NewPrediction: the training and test bound curves as
//     functions of K and n, with their Hypotheses evaluated for the run
//     (Verdict holds, fails or unknown); a bound is valid only when all of
//     its hypotheses hold, and CheckPath decides the one only the measured
//     GD path can.
//   - Lanczos, Curvature: measured extreme eigenvalues of Hess F from
//     Hessian-vector products, to hold the bounds against reality.
//
// Parameter vectors use the trainable-vector layout of
// layers.Params.Trainable.
package theory
