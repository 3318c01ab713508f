// Package experiments is the shared runner of the project's experiments:
// one Config type, seeding, a worker pool over sweep points, logging and
// progress, checkpoints and resumption, and the result directory. Each
// experiment is a plain function (Config in, *Result out), such as
// HeadSweep, and a main under experiments/<name> that calls Main.
//
// # Sweeps and points
//
// A sweep is an ordered list of Points, each with its own per-point
// Config, and a PointFunc that computes one point and returns its metric
// rows and its summary record (Sweep, Outcome). The runner (Run) owns the
// rest: the output directory, parallelism, per-point files written
// atomically, skipping finished points and resuming checkpointed ones,
// assembly in point order, progress, logging and exit statuses. HeadSweep's
// points are GD runs (GDPoint, RunSweep), one per head count H, labelled
// "H<h>". The other experiments (Margin, Convexity, Generalization,
// StepSize) supply their own PointFunc and columns; their labels name
// every swept value, e.g. "H4-zeta0.25-random-seed2". Points run in
// parallel on Config.Workers goroutines, most expensive first, and every
// point writes only its own files, so results never depend on the number
// of workers or on the order in which points finish: metrics.csv and
// summary.json are assembled from the per-point files in point order.
//
// # Seeds
//
// All randomness comes from explicit seeds: the data from
// Config.Data.Seed (datasets.MixtureConfig), the initialization from
// Config.Init.Seed (layers.Init). Every head count uses the same init seed,
// so the first h heads of the model with H > h heads are the heads of the
// model with h heads. GD itself is deterministic, so the same config gives
// byte-identical metrics.csv and summary.json (wall times aside) on every
// run on the same machine.
//
// # Result directory
//
//	config.json            {"experiment", "program": version info, "config": resolved Config}
//	metrics.csv            heads,step,train_loss,test_loss,train_err,test_err,grad_norm,dist_from_init,relevant_attention
//	summary.json           {"experiment", "status", "points": [PointResult...]}
//	data/                  {train,test}_{X,y,mask}.npy and dataset.json (datasets.Save)
//	params/H<h>/init/      U.npy, W.npy: theta_0 (graph.SaveParams)
//	params/H<h>/final/     U.npy, W.npy: theta_K (theta at divergence for a diverged point, if finite)
//	plots/*.png            loss_vs_step, test_vs_heads, distance_vs_heads, relevant_attention
//	points/H<h>/           the point's own metrics.csv and result.json (written last:
//	                       the point is finished), or checkpoint.json while it runs
//
// That is the head sweep's layout; the other experiments write the same
// config.json, data/ (the base config's data), metrics.csv (their own
// columns, starting with the point's label), summary.json ({"experiment",
// "status", "points": [their records]}), points/<label>/ and plots/.
//
// metrics.csv has one row per point and logged step k (every
// Config.LogEvery steps and the last step), in point order; floats are
// written with strconv.FormatFloat(x, 'g', -1, 64), which reads back
// exactly. The test columns and relevant_attention are measured on the
// test set. summary.json holds per point the final losses and errors, eta
// and how it was derived, the theory's L, R, beta1, beta2, NTK margin gamma
// with its certified gap, the realizability certificate, the predicted
// training and test bounds at K, the wall time ("wall_seconds", the only
// field that differs between identical runs) and the status.
//
// Every file is written to a temporary file and renamed into place, so a
// reader never sees half a file.
//
// # When things go wrong
//
// Bad input: unknown or mistyped config fields, malformed JSON, values out
// of range and bad flags are reported with the field, its value and the
// allowed range; the program exits with status 2 and writes nothing. So it
// does for an output directory that cannot be created or written, and for
// one that holds a run with a different config (unless -force, which
// deletes that run's files first) or unrelated files.
//
// Divergence: a point whose training loss becomes NaN, infinite or larger
// than Config.MaxLoss (default graph.DefaultMaxLoss = 1000; the loss at
// Phi = 0 is log 2) stops; summary.json records status "diverged" and
// diverged_step, its rows up to then stay in metrics.csv, the other points
// go on, and the exit status is 3.
//
// Interruption: on SIGINT or SIGTERM every running point writes a
// checkpoint (theta_k, k and its rows so far) and the program writes a
// partial metrics.csv and summary.json (points "interrupted" or "pending")
// and exits with status 130; a second signal kills at once. Running points
// also checkpoint every Config.CheckpointEvery steps, so a process killed
// outright (SIGKILL, power loss) loses at most that many steps per point.
// Running the same command again skips finished points, resumes the others
// from their checkpoints, and produces metrics.csv and summary.json
// byte-identical to an uninterrupted run (wall times aside).
//
// # Shards, merge and SLURM
//
// A sweep too large for one machine runs as N shards into one shared
// directory: -shard i/N (Options.Shard) runs only the points whose position
// k in the sweep has k mod N = i (round robin, so each shard gets cheap and
// dear points alike) and writes only their files, under points/, params/
// and the shared data/ and config.json, which every shard of a run writes
// with the same bytes, atomically. A shard never writes metrics.csv,
// summary.json or plots/, never removes another shard's temporary files
// (only those under its own points), and refuses -force. Once every shard
// is done, -merge (Options.Merge) runs no point: it checks that config.json
// is this config's and that every point has its result.json, then writes
// metrics.csv, summary.json and plots/ byte-identical to those of one
// unsharded run (wall times aside). If some point is not finished it exits
// 2 naming each one and what it found (a checkpoint at step k, or nothing),
// and writes nothing. A shard killed or interrupted is rerun with the same
// command: it resumes like any run. Every experiment that runs through Run
// (RunSweep, Main) can be sharded.
//
// -slurm N writes <out>/slurm/ for a SLURM cluster and exits: bin/<name>, a
// copy of the running program (so go run works too, and every job runs the
// same build); sweep.json, the resolved config as a -config file with an
// absolute out and workers = -slurm-cpus; shards.sbatch, a job array of N
// tasks, task i running -shard i/N with --cpus-per-task, --mem, --time and
// --partition from -slurm-cpus, -slurm-mem, -slurm-time, -slurm-partition;
// merge.sbatch, running -merge; submit.sh [TASKS], which submits the array
// (or only TASKS, e.g. "1,3") and the merge with
// --dependency=afterok:<array> --kill-on-invalid-dep=yes; and logs/. It
// checks and prepares the directory like a run (and only it honours
// -force). -submit also runs submit.sh. A shard task maps exit status 3
// (diverged points, a result) to 0 so the merge still runs and reports
// them; a task that fails or is killed makes SLURM cancel the merge, and
// "bash <out>/slurm/submit.sh i" reruns shard i and queues a new merge.
// The result directory must be on a file system every node sees; the
// program name given to Main must be the experiment's name.
//
// # Exit statuses
//
//	0    every point finished (a shard: its points; -slurm: scripts written or submitted)
//	1    unexpected failure (I/O error, bug, sbatch failed): see the log
//	2    bad config, flag or output directory, or -merge with unfinished points (named); nothing written
//	3    some points diverged; the others finished
//	130  interrupted by SIGINT/SIGTERM after a checkpoint; rerun to resume
package experiments
