// Package runner runs experiments and knows none of them. An experiment
// is a value (Experiment): its name, a function returning its default
// config, the columns of its metric rows, a point function, and its table
// and plots. The runner owns the rest: reading the config and its
// overrides, the flags, the sweep grid, the workers, the per-point
// directories, checkpoints and resumption, shards, merge and SLURM,
// progress, the result files and the exit statuses. A program is a few
// lines:
//
//	func main() { os.Exit(runner.Command(myexp.Experiment)) }
//
// Command runs the experiment in a child process under a small monitor,
// so that a crash (Go exits with status 2 on a fatal error or panic, the
// status of bad input) gets a status of its own: 4 for out of memory, 1
// for any other crash. Main runs an experiment in the calling process
// (tests, benchmarks), as does Command with MHA_MONITOR=off.
//
// # Configs, -set and -sweep
//
// A config is a pointer to the experiment's struct, which embeds Settings
// (out, workers, threads, checkpoint_every, max_memory, sweep) and is
// plain JSON. The runner reads and changes it only through its JSON
// form, so every field, also one added later, can be set and swept by
// its dotted key:
//
//	-config FILE          a JSON object over the defaults; unknown keys are refused by their dotted path
//	-set key=value        one value, e.g. -set data.zeta=0.125 -set model.query=first-token (repeatable)
//	-sweep key=v1,v2,...  one axis, e.g. -sweep data.seed=1,2,3 (repeatable)
//	"sweep": {"heads": [1, 2], "data.zeta": [0.125, 0.25]}   the same axes in the file
//
// A value is read as JSON, or as a string if it is not JSON; -sweep splits
// its values at commas outside brackets and quotes. The grid is
// the product of the axes, the first outermost: the file's axes (or the
// defaults' if the file has none), then those of -sweep in command-line
// order (a -sweep replaces the axis of its key). An experiment's shorthand
// flags are -set or -sweep of one key: -steps 50 is -set steps=50, -heads
// 1,4 is -sweep heads=1,4. A -set of a key the defaults sweep removes that
// axis (-set heads=4 runs H = 4 only).
//
// Refused with exit status 2, naming the key, and nothing written: an
// unknown key (with the nearest valid ones), a value of the wrong type or
// out of range (the key, the value and the allowed range), an empty axis,
// a value twice in an axis, a key both set and swept or given twice, a
// runner setting swept, and a grid of more than MaxPoints points unless
// -allow-large-grid.
//
// # Points and their identity
//
// Every point of the grid has its own config (the base config with the
// point's values, resolved), a label naming its values ("zeta0.125-heads2";
// "base" without axes) and an identity: the SHA-256 of its config without
// the runner's settings, the experiment's name and the code version
// (Program.Code: the module version, else the git commit with "+dirty"
// for uncommitted changes, read from the build or, under go run and go
// test (or GOFLAGS=-buildvcs=false), from git in the module's checkout when
// the program starts; "unknown" if neither works; $MHA_CODE_VERSION, which
// the SLURM scripts set to the version of the program that wrote them,
// overrides the checkout).
// Its files are under points/<label>-<first 12 hex of the identity>/:
// config.json (the identity spelled out), metrics.csv and result.json
// (written last: the point is finished), or checkpoint.json while it
// runs; and params/<same>/. A rerun skips finished points of the same
// identity and resumes checkpointed ones; a point whose identity changed
// (config or code) is computed anew, never reused. Point directories that
// belong to no point of the grid (an earlier grid, an older identity) are
// kept, listed in the log and left out of metrics.csv and summary.json. A
// directory holding a run of another experiment is refused (unless
// -force, which deletes the earlier run's files first: only files listed
// in manifest.json or in the points it lists; anything else makes it
// refuse). Each finished point's points/<dir>/files.json holds the
// SHA-256 of its files, checked on resume and merge: a damaged point is
// logged and computed again. Checkpoints carry their own SHA-256; a
// damaged one is logged, deleted and its point starts over.
//
// # Locks and memory
//
// A run holds flock(2) on <out>/.mha-lock for its whole life, exclusive
// for a whole run and shared for shards and merges, and records itself
// in <out>/.mha-holders/ (pid, host, start, config hash): a process with
// another config is refused (*LockedError, exit 2) naming the holder; one
// with the same config waits. Each point is computed under a flock on
// points/<dir>/.mha-lock (lock.go). Before the lock, Experiment.Memory
// estimates each point's peak memory and a run that would not fit in
// MemAvailable or max_memory is refused (memory.go).
//
// # Result directory
//
//	config.json     {"experiment", "program": version info, "config": the config with its sweep}
//	metrics.csv     label, one column per swept key, then the experiment's columns; the points' rows in grid order
//	summary.json    {"experiment", "status", "axes", "points": [{"index", "label", "dir", "point": {key: value}, "status", "result": the experiment's record}]}
//	points/<dir>/   per point, as above
//	params/<dir>/   per point, what the experiment saves (theta_0 and theta_K for GD points)
//	data/           what the experiment saves (e.g. its datasets)
//	plots/*.png     the experiment's plots, each also as *.svg beside it
//	manifest.json   every file the program wrote with its SHA-256 (what -force may delete)
//	.mha-lock, .mha-guard, .mha-holders/   the directory lock and its holders
//
// Points run on Settings.Workers goroutines, dearest first, each op of a
// point on Settings.Threads goroutines (0: max(1, CPUs / workers), so
// that workers x threads does not exceed the CPUs), and every point
// writes only its own files, so metrics.csv and summary.json are
// byte-identical whatever the number of workers or threads or the order
// in which points finish (wall times aside). Floats are written with
// strconv.FormatFloat(x, 'g', -1, 64), which reads back exactly. A value
// that does not exist (a point not finished, a quantity undefined for the
// point's model or not valid, a loss that overflowed: NaN or infinite in
// memory) is null in JSON, with the record's status (or a status field
// beside it) saying why, and an empty field in metrics.csv; both read
// back as NaN (Number, ParseCSV). Every file
// is written to a temporary file and renamed into place. LoadResult reads
// a directory back; Result.Groups, Series and XAxis key tables and plots
// by the swept values; with a seed axis (a key ending in "seed") they
// aggregate over it (Stats: mean and 95% interval).
//
// # What the user sees
//
// On a terminal (stderr) the program keeps a block at the bottom of the
// screen, one line per running point (its label, a bar, its step) and a
// total line (a bar, percent, points done, elapsed and time left), cut to
// the terminal's width and redrawn in place at most five times a second;
// log lines print above it, and at the end the total line stays, marked
// "done". Elsewhere (a file, a pipe, a SLURM log) it logs a "progress"
// line every 10 s with keys done, points_done, elapsed and time_left
// ("eta" in the log is always a step size). -quiet shows neither. The
// table on stdout fits 100 columns (or a narrower terminal): columns that
// do not fit go to a further block that repeats the row's swept values;
// -wide prints one block however wide.
//
// # When things go wrong
//
// Divergence: a point the experiment reports "diverged" keeps its rows
// and record, the others go on, and the exit status is 3.
//
// Interruption: on SIGINT or SIGTERM every running point writes a
// checkpoint and the program writes a partial metrics.csv and summary.json
// (points "interrupted" or "pending") and exits 130; a second signal kills
// at once. Running points also checkpoint every checkpoint_every steps, so
// a process killed outright loses at most that many steps per point.
// Running the same command again resumes and gives the bytes of an
// uninterrupted run.
//
// # Shards, merge and SLURM
//
// -shard i/N runs only the points k with k mod N = i and writes only their
// files; -merge runs no point, checks that every point of the grid
// finished (else exit 2 naming each unfinished point and what was found)
// and writes metrics.csv, summary.json and plots/ byte-identical to one
// unsharded run. -slurm N writes <out>/slurm/: a copy of the program,
// sweep.json (the config with its sweep, absolute out, workers =
// -slurm-cpus), a job array of N shards, a merge job depending on it, and
// submit.sh [TASKS]; -submit also runs it. A shard task maps exit 3 to 0
// so the merge still runs and reports diverged points.
//
// # Exit statuses
//
//	0    every point finished (a shard: its points; -slurm: scripts written or submitted)
//	1    unexpected failure (I/O error, bug, a crash, sbatch failed): see the log
//	2    bad config, flag or output directory, or -merge with unfinished points (named); nothing written
//	3    some points diverged; the others finished
//	4    out of memory: a Go allocation failed, or the kernel's OOM killer ended the run; rerun to resume
//	130  interrupted by SIGINT/SIGTERM after a checkpoint; rerun to resume
package runner
