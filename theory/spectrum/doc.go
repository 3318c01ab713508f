// Package spectrum measures the curvature of a risk through the only thing
// a large model offers cheaply, its Hessian-vector products, and the
// empirical NTK through per-sample gradients. It knows no model: it works
// on an Operator (v -> H v on R^Dim) and on a Gradients writer, so the same
// instruments serve the paper's attention model and any composition of
// layers.
//
// The instruments, each seeded and reproducible bit for bit (given a
// deterministic operator: every draw comes from a PCG stream of the
// explicit seed and every sum runs in a fixed order on one goroutine,
// except Gram's block products, whose order is fixed per entry):
//
//   - Extremes: the k largest and k smallest eigenvalues by Lanczos with full
//     reorthogonalization (restarted with a fresh random vector orthogonal
//     to the basis when the Krylov space becomes invariant), each with its
//     residual ||H y - theta y|| measured by one more product. For a
//     symmetric H some eigenvalue lies within the residual of each Ritz
//     value theta.
//
//   - Trace: Hutchinson's estimator tr H = E[z^T H z] over Rademacher
//     probes z, with the standard error of the mean over probes.
//
//   - SLQ: stochastic Lanczos quadrature. Each of several Rademacher starts
//     v (normalized) runs m Lanczos steps; the eigenpairs (theta_j, s_j) of
//     the m x m tridiagonal give nodes theta_j and weights tau_j = s_j[0]^2
//     (summing to 1) of a Gauss quadrature for the spectral measure
//     v^T delta(t - H) v, whose expectation is the spectral density divided
//     by Dim. Quadrature.Density broadens the nodes with a Gaussian of
//     standard deviation sigma (in eigenvalue units, chosen by the caller:
//     PyHessian-like pictures use about 1% of the spectral width) and
//     averages over starts:
//
//     density(t) = Dim / starts * sum_l sum_j tau_lj N(t; theta_lj, sigma^2),
//
//     so the density integrates to Dim, the number of eigenvalues (divide
//     by Dim for a probability density). Quadrature.Negative gives the
//     fraction of eigenvalues below -tol (and their sum) from the
//     unbroadened nodes, with standard errors over starts.
//
//   - Gram: the empirical NTK Gram K_ij = <g_i, g_j> (optionally times
//     y_i y_j) of per-sample gradients g_i in R^P, computed in blocks of B
//     samples so that at most two blocks, 2 B P numbers, are held at once,
//     never n P. The price is recomputing gradients: blocks are written
//     1 + nb (nb - 1) / 2 times for nb = ceil(n / B) blocks (7 writes of
//     128 samples, 896 gradients, for n = 512 against 512 one-shot). The dot
//     products run on internal/gemm's packed 8 x 16 kernel (AVX-512 where
//     the CPU has it) over the lower triangle. The NTK margin on top of it
//     is theory.MinNormPoint(K, n, 0).
//
// Costs are counted in operator products (HVPs): Extremes takes
// min(iterations, Dim) + (distinct returned pairs), Trace takes probes and
// SLQ starts x min(iterations, Dim). Full reorthogonalization keeps the
// whole Krylov basis, iterations x Dim numbers, and costs O(iterations^2
// Dim) flops, small beside the products for the models here.
//
// Bad settings are returned errors naming the field and its range, as in
// "spectrum.k = 0: must be in [1, dim=40]". A non-finite product is an
// error too.
package spectrum
