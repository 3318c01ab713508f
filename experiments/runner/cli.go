package runner

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mhattn/mha/internal/kernel"
	"github.com/sirupsen/logrus"
)

// dupWindow is how close two signals must come to be one (see Main).
const dupWindow = 250 * time.Millisecond

// Exit statuses of the experiment programs.
const (
	ExitOK          = 0   // every point finished
	ExitFailure     = 1   // an unexpected error (I/O, a bug); see the log
	ExitInput       = 2   // bad config, flag or output directory; nothing was written
	ExitDiverged    = 3   // some points diverged, the others finished
	ExitMemory      = 4   // out of memory (a Go allocation failed, or the OOM killer); rerun to resume
	ExitInterrupted = 130 // SIGINT or SIGTERM: stopped after a checkpoint; rerun to resume
)

// CLI holds the command-line settings that are not part of the config.
type CLI struct {
	ConfigFile     string
	JSONLog        bool
	Force          bool
	Quiet          bool
	Wide           bool // print tables in one block, however wide
	PrintConfig    bool
	AllowLargeGrid bool
	Shard          Shard // -shard i/N; zero: every point
	Merge          bool
	Slurm          Slurm // -slurm N and -slurm-*; Shards 0: no SLURM scripts
	Submit         bool
}

// ParseArgs reads the flags of an experiment program: the experiment's
// defaults, then -config FILE, then every -set, -sweep and shorthand flag
// (-out, -workers, -checkpoint-every and the experiment's Flags). It
// checks the grid as a run would. Errors name the flag or key, the value
// and what is allowed.
func ParseArgs(e Experiment, args []string, stderr io.Writer) (Config, CLI, error) {
	var cli CLI
	name := e.Name
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := e.Defaults()
	// -set, -sweep and the shorthands, in command-line order.
	var o Overrides
	addSet := func(v string) error {
		st, err := ParseSet(v)
		o.Sets = append(o.Sets, st)
		return err
	}
	addSweep := func(v string) error {
		a, err := ParseSweep(v)
		o.Sweeps = append(o.Sweeps, a)
		return err
	}
	fs.StringVar(&cli.ConfigFile, "config", "", "JSON config `file` (snake_case keys, a \"sweep\" object; see -print-config); flags override it")
	fs.Func("set", "set one config value: `key=value` with a dotted key, e.g. -set data.zeta=0.125 (repeatable)", addSet)
	fs.Func("sweep", "sweep a config key: `key=v1,v2,...`, e.g. -sweep data.seed=1,2,3 (repeatable; the grid is the product of the axes, the first outermost)", addSweep)
	fs.BoolVar(&cli.AllowLargeGrid, "allow-large-grid", false, fmt.Sprintf("allow a grid of more than %d points", MaxPoints))
	for _, f := range append([]Flag{
		{Name: "out", Key: "out", Usage: "result `directory`"},
		{Name: "workers", Key: "workers", Usage: "points run in parallel; 0 uses the number of CPUs"},
		{Name: "checkpoint-every", Key: "checkpoint_every", Usage: "steps between checkpoints"},
	}, e.Flags...) {
		if f.Sweep {
			fs.Func(f.Name, f.Usage+" (-sweep "+f.Key+"=V1,V2)", func(v string) error { return addSweep(f.Key + "=" + v) })
		} else {
			fs.Func(f.Name, f.Usage+" (-set "+f.Key+"=V)", func(v string) error {
				o.Sets = append(o.Sets, Set{Key: f.Key, Value: jsonValue(strings.TrimSpace(v))})
				return nil
			})
		}
	}
	fs.BoolVar(&cli.JSONLog, "json-log", false, "log JSON lines instead of text")
	fs.BoolVar(&cli.Force, "force", false, "delete the run in the output directory first (or write into a directory that is not a run)")
	fs.BoolVar(&cli.Quiet, "quiet", false, "no progress bar or progress log lines; log only warnings and errors")
	fs.BoolVar(&cli.Wide, "wide", false, fmt.Sprintf("print tables in one block however wide (default: fit %d columns, or a narrower terminal, by moving columns to further blocks)", DefaultTableWidth))
	fs.BoolVar(&cli.PrintConfig, "print-config", false, "print the resolved config as JSON and exit")
	shard := fs.String("shard", "", "run only shard `i/N` of the points (point k when k mod N = i) into -out; -merge assembles the shards")
	fs.BoolVar(&cli.Merge, "merge", false, "run no point: check that every point in -out finished and write metrics.csv, summary.json and plots")
	fs.IntVar(&cli.Slurm.Shards, "slurm", 0, "write SLURM scripts for a job array of `N` shards and a merge to <out>/slurm, and exit")
	fs.IntVar(&cli.Slurm.CPUs, "slurm-cpus", 1, "with -slurm: CPUs per shard (--cpus-per-task), also its workers")
	fs.StringVar(&cli.Slurm.Mem, "slurm-mem", "2G", "with -slurm: memory per job (--mem); empty: the cluster's default")
	fs.StringVar(&cli.Slurm.Time, "slurm-time", "1:00:00", "with -slurm: time limit per job (--time); empty: the partition's")
	fs.StringVar(&cli.Slurm.Partition, "slurm-partition", "", "with -slurm: partition (--partition); empty: the default one")
	fs.BoolVar(&cli.Submit, "submit", false, "with -slurm: submit the scripts with sbatch (bash <out>/slurm/submit.sh)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags]\n\n%s\n\nExit status: 0 ok, 1 failure, 2 bad input, 3 some points diverged, 4 out of memory, 130 interrupted (rerun to resume).\n\nFlags:\n", name, e.Doc)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, cli, err
	}
	if fs.NArg() > 0 {
		return nil, cli, fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	if *shard != "" {
		var err error
		if cli.Shard, err = ParseShard(*shard); err != nil {
			return nil, cli, err
		}
	}
	switch {
	case cli.Merge && *shard != "":
		return nil, cli, errors.New("-merge and -shard: merge once every shard is done, without -shard")
	case cli.Slurm.Shards != 0 && (cli.Merge || *shard != ""):
		return nil, cli, errors.New("-slurm writes the scripts that run -shard and -merge; give it neither")
	case cli.Submit && cli.Slurm.Shards == 0:
		return nil, cli, errors.New("-submit submits the scripts of -slurm N; give -slurm")
	case cli.Force && (cli.Merge || *shard != ""):
		return nil, cli, errors.New("-force with -shard or -merge: shards must not delete each other's files; clear the directory with -force on a run without them (or on -slurm)")
	}
	cfg := d
	if cli.ConfigFile != "" {
		var err error
		if cfg, err = LoadConfigFile(cli.ConfigFile, d); err != nil {
			return nil, cli, fmt.Errorf("config: %w", err)
		}
	}
	var fixed []string
	if cli.ConfigFile == "" || sameAxes(cfg.RunSettings().Sweep, d.RunSettings().Sweep) {
		fixed = d.RunSettings().Sweep.Keys()
	}
	cfg, err := Apply(cfg, fixed, o)
	if err != nil {
		return nil, cli, err
	}
	if _, err := Grid(name, cfg, cli.AllowLargeGrid, nil); err != nil {
		return nil, cli, err
	}
	return cfg, cli, nil
}

func sameAxes(a, b Axes) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// Main is the whole of an experiment program: it parses args, sets up
// logging, progress and signal handling, runs the experiment, prints its
// table to stdout and returns the exit status.
func Main(e Experiment, args []string, stdout, stderr io.Writer) int {
	name := e.Name
	cfg, cli, err := ParseArgs(e, args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err == nil {
		_, err = kernel.Select() // MHA_KERNEL
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return ExitInput
	}
	if cli.PrintConfig {
		b, _ := json.MarshalIndent(cfg, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return ExitOK
	}
	log := logrus.New()
	log.SetOutput(stderr)
	if cli.JSONLog {
		log.SetFormatter(&logrus.JSONFormatter{})
	} else {
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: time.TimeOnly})
	}

	// The first SIGINT or SIGTERM cancels the run, which then checkpoints
	// and exits; after it the default handlers are back, so a second
	// signal kills at once. One signal can arrive twice at once (Ctrl-C
	// reaches the monitor, which passes it on, and this process; SLURM
	// signals every process of a job step): copies within dupWindow of
	// the first are taken as the first.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	returned := make(chan struct{})
	defer func() {
		signal.Stop(sigs)
		close(returned)
	}()
	go func() {
		var s os.Signal
		select {
		case s = <-sigs:
		case <-returned:
			return
		}
		log.WithField("signal", s.String()).Warn("stopping after a checkpoint (send the signal again to kill)")
		cancel()
		select {
		case <-time.After(dupWindow):
		case <-returned:
			return
		}
		signal.Reset(os.Interrupt, syscall.SIGTERM)
	}()

	if cli.Quiet {
		log.SetLevel(logrus.WarnLevel)
	}
	if cli.Slurm.Shards != 0 {
		return slurmMain(e, cfg, cli, log, stdout, stderr)
	}
	opt := Options{Context: ctx, Log: log, Force: cli.Force, Shard: cli.Shard, Merge: cli.Merge, AllowLargeGrid: cli.AllowLargeGrid}
	var bar *display
	if !cli.Quiet {
		bar = newDisplay(stderr, log)
		opt.Progress = bar.update
		if bar.terminal {
			log.SetOutput(bar) // log lines clear the bar first
		}
	}
	res, err := Run(e, cfg, opt)
	if bar != nil {
		bar.finish()
	}
	if res != nil {
		if terr := WriteTable(WithTableWidth(stdout, tableWidth(stdout, cli.Wide)), e, res); terr != nil {
			log.WithError(terr).Warn("table")
		}
	}
	var in *InputError
	switch {
	case errors.As(err, &in):
		fmt.Fprintf(stderr, "%s: %v\n", name, strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return ExitInput
	case errors.Is(err, ErrInterrupted):
		log.Warn("interrupted: run the same command again to resume")
		return ExitInterrupted
	case err != nil:
		log.Error(err)
		return ExitFailure
	case res.Diverged() > 0:
		log.WithField("diverged", res.Diverged()).Warn("some points diverged; see summary.json")
		return ExitDiverged
	}
	return ExitOK
}

// tableWidth is the width tables fit on stdout: DefaultTableWidth, or a
// narrower terminal's width; 0 (any) with -wide.
func tableWidth(stdout io.Writer, wide bool) int {
	if wide {
		return 0
	}
	if f, ok := stdout.(*os.File); ok && isTerminal(f) {
		return min(DefaultTableWidth, terminalWidth(f))
	}
	return DefaultTableWidth
}

// WriteTable prints the experiment's table of res (or label and status per
// point) and where the results are. Tables fit TableWidth(w).
func WriteTable(w io.Writer, e Experiment, res *Result) error {
	if e.Table != nil {
		if err := e.Table(w, res); err != nil {
			return err
		}
	} else {
		for _, r := range res.Records {
			fmt.Fprintf(w, "%s\t%s\n", r.Label, r.Status)
		}
	}
	if res.Shard.Count > 0 {
		_, err := fmt.Fprintf(w, "shard %s: its points are in %s (points/, params/)\n  -merge writes metrics.csv, summary.json and plots/ once every shard is done\n",
			res.Shard, res.Dir)
		return err
	}
	_, err := fmt.Fprintf(w, "results in %s\n  config.json metrics.csv summary.json data/ params/ points/ plots/\n", res.Dir)
	return err
}
