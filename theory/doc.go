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
//   - TheoryStepSize: eta = 1/L over the ball that GD provably stays in.
//   - NewNTK, MinNormPoint: NTK features psi_i = y_i grad Phi(theta_0; X_i),
//     their Gram matrix and the margin gamma (distance from the origin to
//     their convex hull) with a certified gap.
//   - Realize: the realizability certificate theta* = theta_0 + lambda v.
//   - Prediction: the training and test bound curves as functions of K and n.
//   - Lanczos, Curvature: measured extreme eigenvalues of Hess F from
//     Hessian-vector products, to hold the bounds against reality.
//
// Parameter vectors use the trainable-vector layout of
// layers.Params.Trainable.
package theory
