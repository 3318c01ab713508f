#!/usr/bin/env bash
# A real single-node SLURM on this machine, and a sharded sweep on it.
#
# Installs Debian's slurm-wlm and munge, starts munged, slurmctld and
# slurmd as root from a private slurm.conf in a temporary directory (own
# ports, no cgroups, no systemd, nothing under /etc touched), then:
#   1. runs a small head sweep locally in one process (the reference);
#   2. submits it with "headsweep -slurm 4 -submit" as a job array of 4
#      shards plus the dependent merge, waits, and compares the merged
#      metrics.csv, summary.json (wall times aside) and plots/*.png with
#      the reference byte for byte;
#   3. submits it again into a fresh directory, kills one array task
#      mid-run (SIGKILL), checks that SLURM cancels the merge and that
#      -merge names the unfinished points, resubmits that shard alone with
#      slurm/submit.sh, and compares again.
# The daemons it started are stopped on exit, whatever happens.
#
# Usage: bash scripts/slurm-ci.sh   (as root; KEEP=1 keeps the work directory)
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
say() { printf '== %s (%ds)\n' "$*" $((SECONDS - t0)); }
die() { printf 'slurm-ci: FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root: it installs packages and starts the SLURM daemons"

say "installing slurm-wlm and munge"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null

W=$(mktemp -d /tmp/slurm-ci.XXXXXX)
chmod 755 "$W"
export SLURM_CONF=$W/slurm.conf

cleanup() {
	local status=$?
	set +e
	if [ -f "$W/slurmctld.pid" ]; then
		# The cluster is private to this script: every job is ours.
		scancel --quiet $(squeue -h -o %A 2>/dev/null | sort -u) 2>/dev/null
		for _ in $(seq 20); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
	fi
	for p in "$W/slurmd.pid" "$W/slurmctld.pid" "$W/munge/munged.pid"; do
		[ -f "$p" ] || continue
		pid=$(cat "$p")
		kill "$pid" 2>/dev/null || continue
		for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
		kill -9 "$pid" 2>/dev/null
	done
	if [ $status -ne 0 ]; then
		for f in "$W"/slurmctld.log "$W"/slurmd.log "$W"/*/slurm/logs/*; do
			[ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }
		done
	fi
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting munged, slurmctld and slurmd in $W"
host=$(hostname -s)
mkdir -p "$W/munge" "$W/state" "$W/spool"
chmod 700 "$W/munge"
mungekey --create --force --keyfile="$W/munge/munge.key"
chmod 400 "$W/munge/munge.key"
munged --force --key-file="$W/munge/munge.key" --socket="$W/munge/munge.sock" \
	--pid-file="$W/munge/munged.pid" --log-file="$W/munge/munged.log" --seed-file="$W/munge/munged.seed"
mem=$(free -m | awk '/^Mem:/ {print $2}')
cat >"$SLURM_CONF" <<EOF
ClusterName=mhaci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$W/munge/munge.sock
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/slurmctld.log
SlurmdLogFile=$W/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MinJobAge=600
NodeName=$host CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for i in $(seq 60); do
	[ "$(sinfo -h -n "$host" -o %T 2>/dev/null)" = idle ] && break
	[ "$i" -eq 60 ] && die "node $host is not idle after 30 s: $(sinfo -h -N -o '%N %T %E')"
	sleep 0.5
done
sinfo

say "building headsweep"
go build -o "$W/bin/headsweep" ./experiments/headsweep
hs=$W/bin/headsweep
# 8 points of a few seconds each: 2 per shard.
cat >"$W/sweep.json" <<EOF
{"data": {"train": 64, "test": 64, "tokens": 6, "dim": 8, "clusters": 2},
 "sweep": {"heads": [1, 2, 3, 4, 5, 6, 7, 8]}, "steps": 4000, "log_every": 100, "checkpoint_every": 100}
EOF

say "local reference run"
"$hs" -config "$W/sweep.json" -out "$W/local" -quiet >/dev/null

# jobs_done ID... waits until none of the jobs is queued or running.
jobs_done() {
	local ids
	ids=$(IFS=,; echo "$*")
	for _ in $(seq 600); do
		[ -z "$(squeue -h -j "$ids" 2>/dev/null)" ] && return 0
		sleep 0.5
	done
	die "jobs $ids still running after 300 s: $(squeue)"
}
# states ID prints the distinct states of a job (all tasks of an array).
states() { scontrol -o show job "$1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort -u | tr '\n' ' '; }
# submit DIR submits the sweep into DIR; sets shards and merge to the job ids.
submit() {
	local line
	line=$("$hs" -config "$W/sweep.json" -out "$1" -slurm 4 -slurm-cpus 1 -slurm-mem 500M -slurm-time 10:00 -submit -quiet | tail -n 1)
	read -r _ shards _ merge <<<"$line"
	[ -n "$merge" ] || die "no job ids from -submit: $line"
	echo "submitted: shards $shards, merge $merge"
}
# same A B compares two result directories byte for byte (wall times aside).
same() {
	cmp "$1/metrics.csv" "$2/metrics.csv" || die "metrics.csv of $1 and $2 differ"
	cmp <(grep -v '"wall_seconds":' "$1/summary.json") <(grep -v '"wall_seconds":' "$2/summary.json") ||
		die "summary.json of $1 and $2 differ (wall times aside)"
	[ "$(ls "$1/plots")" = "$(ls "$2/plots")" ] || die "plots of $1 and $2 differ: $(ls "$1/plots") vs $(ls "$2/plots")"
	for p in "$1"/plots/*.png; do cmp "$p" "$2/plots/${p##*/}" || die "plots/${p##*/} of $1 and $2 differ"; done
	echo "same results: $1 and $2 ($(wc -l <"$1/metrics.csv") lines of metrics.csv, $(ls "$1/plots" | wc -l) plots)"
}

say "SLURM run: 4 shards and the merge"
submit "$W/cluster"
jobs_done "$shards" "$merge"
[ "$(states "$shards")" = "COMPLETED " ] || die "shards ended $(states "$shards")"
[ "$(states "$merge")" = "COMPLETED " ] || die "merge ended $(states "$merge")"
same "$W/local" "$W/cluster"

say "SLURM run with shard 1 killed mid-run"
submit "$W/killed"
# Shard 1 holds points 1 and 5 (heads2, heads6; their directories are
# points/<label>-<identity>). Kill it once one has a checkpoint.
for i in $(seq 600); do
	compgen -G "$W/killed/points/heads[26]-*/checkpoint.json" >/dev/null && break
	[ "$i" -eq 600 ] && die "shard 1 never checkpointed"
	sleep 0.1
done
scancel --signal=KILL --full "${shards}_1"
echo "killed task ${shards}_1"
jobs_done "$shards" "$merge"
case "$(states "${shards}_1")" in COMPLETED*) die "shard 1 finished before the kill; nothing was tested" ;; esac
[ "$(states "$merge")" = "CANCELLED " ] || die "merge should be cancelled with its dependency, but ended $(states "$merge")"
[ ! -e "$W/killed/metrics.csv" ] || die "metrics.csv written although a shard failed"
set +e
msg=$("$hs" -config "$W/killed/slurm/sweep.json" -merge -quiet 2>&1)
status=$?
set -e
[ $status -eq 2 ] || die "merge of an unfinished sweep exited $status, want 2: $msg"
grep -q 'heads2 (point 1)\|heads6 (point 5)' <<<"$msg" || die "merge does not name the unfinished points: $msg"
echo "merge refused: $msg"
line=$(bash "$W/killed/slurm/submit.sh" 1)
read -r _ shards _ merge <<<"$line"
echo "resubmitted shard 1: shards $shards, merge $merge"
jobs_done "$shards" "$merge"
[ "$(states "$merge")" = "COMPLETED " ] || die "merge after the resubmission ended $(states "$merge")"
grep -q "resuming from checkpoint" "$W"/killed/slurm/logs/shard-1-"$shards".out || die "the resubmitted shard did not resume from a checkpoint"
same "$W/local" "$W/killed"

say "slurm-ci: OK"
