package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/mhattn/mha/internal/atomicfile"
)

// Slurm is how -slurm lays a sweep out on a SLURM cluster: a job array of
// Shards tasks, task i running shard i/Shards, and a merge job that starts
// once every task succeeded.
type Slurm struct {
	Shards    int    // N, the tasks of the array; in [1, 100000]
	CPUs      int    // --cpus-per-task, and the workers of each shard; in [1, 1024]
	Mem       string // --mem per task, e.g. "4G"; "" keeps the cluster's default
	Time      string // --time per task, e.g. "2:00:00"; "" keeps the partition's
	Partition string // --partition; "" the default partition
}

// SlurmFiles are the files WriteSlurm writes, all under <out>/slurm/.
type SlurmFiles struct {
	Dir    string // <out>/slurm
	Binary string // bin/<name>: a copy of the program that wrote them
	Config string // sweep.json: the resolved config, a -config file
	Shards string // shards.sbatch: the job array
	Merge  string // merge.sbatch: the merge
	Submit string // submit.sh [TASKS]: submits both, the merge depending on the shards
	Logs   string // logs/: the jobs' output
}

// slurmValue is what -slurm-mem, -slurm-time and -slurm-partition may
// hold: they are pasted into #SBATCH lines.
var slurmValue = regexp.MustCompile(`^[A-Za-z0-9:._+,-]*$`)

// The forms of --mem and --time that sbatch accepts.
var (
	slurmMem  = regexp.MustCompile(`^[1-9][0-9]*[KMGTkmgt]?$`)
	slurmTime = regexp.MustCompile(`^([0-9]+|[0-9]+:[0-9]{1,2}|[0-9]+:[0-9]{1,2}:[0-9]{1,2}|[0-9]+-[0-9]{1,2}(:[0-9]{1,2}(:[0-9]{1,2})?)?)$`)
)

func (s Slurm) validate() error {
	var errs []string
	if s.Shards < 1 || s.Shards > maxShards {
		errs = append(errs, fmt.Sprintf("flag -slurm = %d: want a number of shards in [1, %d]", s.Shards, maxShards))
	}
	if s.CPUs < 1 || s.CPUs > MaxWorkers {
		errs = append(errs, fmt.Sprintf("flag -slurm-cpus = %d: want an integer in [1, %d]", s.CPUs, MaxWorkers))
	}
	for _, f := range []struct{ name, v string }{{"mem", s.Mem}, {"time", s.Time}, {"partition", s.Partition}} {
		if !slurmValue.MatchString(f.v) {
			errs = append(errs, fmt.Sprintf("flag -slurm-%s = %q: want letters, digits and :._+,- only", f.name, f.v))
		}
	}
	if s.Mem != "" && !slurmMem.MatchString(s.Mem) {
		errs = append(errs, fmt.Sprintf("flag -slurm-mem = %q: want a size in megabytes or with a unit K, M, G or T, e.g. 4G or 500M", s.Mem))
	}
	if s.Time != "" && !slurmTime.MatchString(s.Time) {
		errs = append(errs, fmt.Sprintf("flag -slurm-time = %q: want minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS, e.g. 2:00:00", s.Time))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// WriteSlurm prepares cfg.Out for a run of experiment name as a SLURM job
// array: it checks the directory and writes config.json as a run would
// (force deletes a run with a different config, here and only here: the
// shards never delete anything), then writes the files of SlurmFiles. The
// scripts run the copy of the running program in slurm/bin with
// -config slurm/sweep.json, whose out is absolute and whose workers is
// s.CPUs, so the jobs need the result directory on a file system that
// every node sees, and nothing else: no Go toolchain, no checkout.
func WriteSlurm(e Experiment, cfg Config, s Slurm, force, allowLarge bool, log *logrus.Logger) (*SlurmFiles, error) {
	name := e.Name
	if err := s.validate(); err != nil {
		return nil, &InputError{Err: err}
	}
	cfg = Clone(cfg)
	rs := cfg.RunSettings()
	out, err := filepath.Abs(rs.Out)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	rs.Out, rs.Workers = out, s.CPUs
	if _, err := Grid(name, cfg, allowLarge, nil); err != nil {
		return nil, &InputError{Err: err}
	}
	if log == nil {
		log = logrus.New()
		log.SetOutput(io.Discard)
	}
	if err := checkForeign(out, force); err != nil {
		return nil, err
	}
	if err := checkWritable(out); err != nil {
		return nil, &InputError{Err: err}
	}
	lock, err := lockDir(context.Background(), out, name, cfg, modeRun, Shard{}, log)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	if err := prepareOut(name, cfg, force, false, log); err != nil {
		return nil, err
	}
	dir := filepath.Join(out, "slurm")
	f := &SlurmFiles{Dir: dir, Binary: filepath.Join(dir, "bin", name), Config: filepath.Join(dir, "sweep.json"),
		Shards: filepath.Join(dir, "shards.sbatch"), Merge: filepath.Join(dir, "merge.sbatch"),
		Submit: filepath.Join(dir, "submit.sh"), Logs: filepath.Join(dir, "logs")}
	for _, d := range []string{filepath.Dir(f.Binary), f.Logs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := copyExecutable(f.Binary); err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(f.Config, append(js, '\n')); err != nil {
		return nil, err
	}
	// The jobs run a copy of this program: they inherit its code version
	// (for point identities), whatever the checkout looks like by then.
	export := "export " + CodeVersionEnv + "=" + shellQuote(ProgramVersion().Code()) + "\n"
	run := shellQuote(f.Binary) + " -config " + shellQuote(f.Config)
	if allowLarge {
		run += " -allow-large-grid"
	}
	var res strings.Builder
	for _, o := range []struct{ flag, v string }{{"mem", s.Mem}, {"time", s.Time}, {"partition", s.Partition}} {
		if o.v != "" {
			fmt.Fprintf(&res, "#SBATCH --%s=%s\n", o.flag, o.v)
		}
	}
	shards := fmt.Sprintf(`#!/bin/bash
# Written by %[1]s -slurm: the %[2]d shards of the sweep in %[3]s,
# one array task each (task i runs shard i/%[2]d: points i, i+%[2]d, ...).
# submit.sh submits them with the merge; "sbatch --array=2 %[4]s"
# reruns shard 2 alone (it resumes from its checkpoints).
#SBATCH --job-name=%[1]s-shards
#SBATCH --array=0-%[5]d
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=%[6]d
%[7]s#SBATCH --output=%[8]s/shard-%%a-%%A.out
%[10]s%[9]s -shard "$SLURM_ARRAY_TASK_ID/%[2]d"
status=$?
# 3: some points diverged. That is a result, not a failure: the merge
# writes it into summary.json and exits 3 itself.
if [ "$status" -eq 3 ]; then exit 0; fi
# 4: out of memory. The task fails and the merge is not run: rerun the
# task with more memory, e.g. "sbatch --array=I --mem=16G %[4]s"; it
# resumes from its checkpoints.
exit "$status"
`, name, s.Shards, out, f.Shards, s.Shards-1, s.CPUs, res.String(), f.Logs, run, export)
	merge := fmt.Sprintf(`#!/bin/bash
# Written by %[1]s -slurm: merges the shards of the sweep in %[2]s into
# metrics.csv, summary.json and plots/. submit.sh queues it after the
# shards; on its own it exits 2 naming the points that are not finished.
#SBATCH --job-name=%[1]s-merge
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
%[3]s#SBATCH --output=%[4]s/merge-%%j.out
%[6]sexec %[5]s -merge
`, name, out, res.String(), f.Logs, run, export)
	submit := fmt.Sprintf(`#!/bin/bash
# Written by %[1]s -slurm. Submits the shards of the sweep in %[2]s and
# a merge that runs once they all succeeded (if one fails, SLURM cancels
# the merge). An argument submits only those array tasks, e.g. "2" or
# "1,3", to rerun shards that were killed: they resume from checkpoints.
# Prints the job ids: "shards <id> merge <id>".
set -euo pipefail
cd %[3]s
tasks=${1:-0-%[4]d}
shards=$(sbatch --parsable --array="$tasks" shards.sbatch)
shards=${shards%%%%;*}
merge=$(sbatch --parsable --dependency="afterok:$shards" --kill-on-invalid-dep=yes merge.sbatch)
echo "shards $shards merge ${merge%%%%;*}"
`, name, out, shellQuote(dir), s.Shards-1)
	for _, w := range []struct{ path, text string }{{f.Shards, shards}, {f.Merge, merge}, {f.Submit, submit}} {
		if err := atomicfile.WriteBytes(w.path, []byte(w.text)); err != nil {
			return nil, err
		}
		if err := os.Chmod(w.path, 0o755); err != nil {
			return nil, err
		}
	}
	if err := recordFiles(out, "slurm"); err != nil {
		return nil, err
	}
	log.WithFields(logrus.Fields{"dir": dir, "shards": s.Shards}).Info("wrote the SLURM scripts")
	return f, nil
}

// SubmitSlurm runs submit.sh (sbatch must be on the PATH) for the array
// tasks given, or all of them for "", and returns the job ids.
func SubmitSlurm(f *SlurmFiles, tasks string) (shards, merge string, err error) {
	args := []string{f.Submit}
	if tasks != "" {
		args = append(args, tasks)
	}
	cmd := exec.Command("bash", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("%s: %v: %s", f.Submit, err, strings.TrimSpace(stderr.String()))
	}
	if _, err := fmt.Sscanf(string(b), "shards %s merge %s", &shards, &merge); err != nil {
		return "", "", fmt.Errorf("%s printed %q: %v", f.Submit, b, err)
	}
	return shards, merge, nil
}

// copyExecutable copies the running program to path, atomically: under
// go run it lives in a temporary directory that goes away.
func copyExecutable(path string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	src, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := atomicfile.Write(path, func(w io.Writer) error {
		_, err := io.Copy(w, src)
		return err
	}); err != nil {
		return err
	}
	return os.Chmod(path, 0o755)
}

// shellQuote quotes s for bash.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// slurmMain is Main for -slurm: it writes the scripts and, with -submit,
// submits them.
func slurmMain(e Experiment, cfg Config, cli CLI, log *logrus.Logger, stdout, stderr io.Writer) int {
	name := e.Name
	f, err := WriteSlurm(e, cfg, cli.Slurm, cli.Force, cli.AllowLargeGrid, log)
	var in *InputError
	switch {
	case errors.As(err, &in):
		fmt.Fprintf(stderr, "%s: %v\n", name, strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return ExitInput
	case err != nil:
		log.Error(err)
		return ExitFailure
	}
	fmt.Fprintf(stdout, "wrote %s: shards.sbatch (array of %d shards), merge.sbatch, submit.sh, sweep.json, bin/%s\n", f.Dir, cli.Slurm.Shards, name)
	if !cli.Submit {
		fmt.Fprintf(stdout, "submit with: bash %s\n", shellQuote(f.Submit))
		return ExitOK
	}
	shards, merge, err := SubmitSlurm(f, "")
	if err != nil {
		log.Error(err)
		return ExitFailure
	}
	fmt.Fprintf(stdout, "shards %s merge %s\n", shards, merge)
	return ExitOK
}
