// Package gdpoint is what the experiments that train the model share: the
// config of a GD point (data, model, init, heads, steps, step size; it
// embeds runner.Settings), its setup (data generated once per run and
// saved to data/<hash>/, theta_0, the step size from the theory or the
// config), a GD path that checkpoints and resumes, the theory's numbers of
// a point (constants, NTK margin, certificate, bounds), and the training
// point itself (Train: one metric row per logged step, a PointResult
// record) with its table and plots keyed by the sweep axes.
//
// params.go is the one place that knows how parameters are stored: the
// params/<point>/<stage>/ files and the checkpoint.
//
// Every graph of a point (the training Model, the evaluators of F(theta_0)
// and of the test set, the curvature rule's Hessian-vector products) is
// built with Config.GraphOptions: the setting chunk_samples (default
// graph.DefaultChunkSamples = 1024) is the most samples one run of a graph
// holds, so a point's graph memory grows with min(n, chunk_samples), not n
// (memory.go estimates it so; a chunk that alone exceeds max_memory is
// refused). The theory's own evaluators (theory.Realize) keep the default.
// Results do not depend on it while n <= chunk_samples; below, the mean is
// summed chunk by chunk and agrees to about 1e-15 relative.
//
// An experiment of training points is one call:
//
//	var Experiment = gdpoint.Experiment("headsweep", doc, defaults)
//
// and one that measures something else along the path supplies its own
// point function built on NewStart and Path (see experiments/convexity).
package gdpoint
