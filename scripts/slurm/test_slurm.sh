#!/bin/bash
# test_slurm.sh — the Slurm path for real (make test-slurm): starts a
# one-node Slurm cluster on this machine from Debian's packages (munge,
# slurmctld, slurmd; installed with apt-get when missing, as root), submits
# the smoke suite as a 3-task job array with its merge job (submit.sh), waits
# for both, and checks that
#   - the merged run's report equals an unsharded run's, but for the run's
#     times on its first line;
#   - the shards recorded their job, array job and task ids, the merged run
#     the array job id and the merge job's id, run_parts all three shards.
# Everything lives in a fresh folder (SLURM_CONF, munge's key and socket,
# the daemons' state and logs); the daemons it starts are stopped at exit,
# by the ids it started. Exit 0 only when every check passed. The unsharded
# reference is $PURBO_SLURM_REF (a database holding a done smoke run, e.g.
# make test's build/smoke.db) when set, else run here after the array.
set -u
cd "$(dirname "$0")/../.."
root=$(pwd)
bin=$root/build/purbo-bench
[ -x "$bin" ] || { echo "test_slurm: $bin missing (make all)" >&2; exit 2; }
t0=$(date +%s)
need=
for c in munged slurmctld slurmd sbatch; do command -v $c >/dev/null || need=1; done
if [ -n "$need" ]; then
    echo "test_slurm: installing munge, slurmctld, slurmd, slurm-client"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq munge slurmctld slurmd slurm-client \
        >/dev/null || { echo "test_slurm: apt-get install failed" >&2; exit 2; }
fi
tmp=$(mktemp -d /tmp/purbo-slurm.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "test_slurm: FAIL: $*" >&2; for f in "$tmp"/*.log "$tmp"/out/*.out; do [ -f "$f" ] && { echo "== $f"; tail -n 15 "$f"; }; done >&2; exit 1; }

# munge: its own key and socket
dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge.key"
mkdir -m 755 "$tmp/munge"
munged -F --key-file="$tmp/munge.key" --socket="$tmp/munge/sock" --pid-file="$tmp/munge/pid" \
    --log-file="$tmp/munged.log" --seed-file="$tmp/munge/seed" --force >"$tmp/munged.out" 2>&1 &
pids+=($!)

host=$(hostname -s)
port=$((20000 + RANDOM % 20000))
cpus=$(nproc)
mkdir -p "$tmp/state" "$tmp/spool"
cat > "$tmp/slurm.conf" <<CONF
ClusterName=purbotest
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$tmp/munge/sock
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$tmp/slurm.conf
sleep 1
slurmctld -D -i -f "$SLURM_CONF" >"$tmp/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$tmp/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 60); do
    state=$(sinfo -h -o %T 2>/dev/null | head -n1)
    [ "$state" = idle ] && break
    sleep 1
done
[ "$state" = idle ] || fail "the node did not come up (state '$state')"
t_up=$(date +%s)
echo "test_slurm: cluster up in $((t_up - t0)) s (node $host, $cpus CPUs)"

ids=$(scripts/slurm/submit.sh -n 3 -g 0 -t 1:00:00 -c 1 suites/smoke.yaml "$tmp/out") || fail "submit.sh failed"
array=$(echo "$ids" | awk '/^array/ {print $2}')
merge=$(echo "$ids" | awk '/^merge/ {print $2}')
echo "test_slurm: array job $array, merge job $merge"
for _ in $(seq 2400); do
    [ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ] && break
    sleep 1
done
[ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ] && [ -f "$tmp/out/merged.db" ] || fail "jobs did not finish"
t_done=$(date +%s)
echo "test_slurm: array and merge done in $((t_done - t_up)) s"

ok=1
q() { python3 -c 'import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()
print("" if r is None or r[0] is None else r[0])' "$1" "$2"; }
check() {
    local got
    got=$(q "$1" "$2")
    [ "$got" = "$3" ] || { echo "test_slurm: FAIL: $1: $2 gave '$got', not '$3'" >&2; ok=0; }
}
for i in 1 2 3; do
    check "$tmp/out/shard-$i-of-3.db" "SELECT shard_index || '/' || shard_count || ' ' || status || ' ' ||
        (slurm_array_job_id = '$array') || ' ' || slurm_array_task_id || ' ' || (slurm_job_id IS NOT NULL) FROM runs" \
        "$i/3 done 1 $i 1"
done
check "$tmp/out/merged.db" "SELECT status || ' ' || incomplete || ' ' || slurm_array_job_id || ' ' || slurm_job_id FROM runs" \
    "done 0 $array $merge"
check "$tmp/out/merged.db" "SELECT group_concat(slurm_array_task_id, ',') FROM (SELECT slurm_array_task_id FROM run_parts
    WHERE slurm_array_job_id = '$array' ORDER BY shard_index)" "1,2,3"
ref=${PURBO_SLURM_REF:-}
if [ -z "$ref" ]; then
    ref=$tmp/ref.db
    "$bin" run suites/smoke.yaml --db "$ref" --progress none >/dev/null || fail "the unsharded run failed"
fi
"$bin" report --db "$ref" > "$tmp/ref.txt" && "$bin" report --db "$tmp/out/merged.db" > "$tmp/merged.txt" ||
    fail "report failed"
if ! diff <(sed '1s/ started .*//' "$tmp/ref.txt") <(sed '1s/ started .*//' "$tmp/merged.txt") >&2; then
    echo "test_slurm: FAIL: the merged report differs from the unsharded one" >&2
    ok=0
fi
t_end=$(date +%s)
echo "test_slurm: $([ $ok = 1 ] && echo passed || echo FAILED) in $((t_end - t0)) s (cluster $((t_up - t0)) s," \
     "array + merge $((t_done - t_up)) s, reference and checks $((t_end - t_done)) s)"
[ $ok = 1 ]
