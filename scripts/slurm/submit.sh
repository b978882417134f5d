#!/bin/sh
# submit.sh — a suite run on a Slurm cluster: a job array of N shards
# (shard.sbatch) and a merge job that starts when the array has ended
# (merge.sbatch), into OUTDIR/shard-I-of-N.db and OUTDIR/merged.db.
#
#   scripts/slurm/submit.sh [-n N] [-p PARTITION] [-g GPUS_PER_TASK] [-t TIME]
#                           [-c CPUS_PER_TASK] [-P] SUITE OUTDIR [run options...]
#
#   -n N   shards (default 4)          -p P  partition (default: the cluster's)
#   -g G   GPUs per task (default 1; 0: none, a CPU cluster)
#   -t T   time limit per shard (sbatch --time, default 4:00:00)
#   -c C   CPUs per task (default: the cluster's)
#   -P     merge whatever the shards committed even when one failed (merge
#          --partial, after any end of the array instead of after success)
# Prints the array's and the merge's job ids, one per line ("array J",
# "merge M"). purbo-bench: $PURBO_BENCH, else build/purbo-bench of this
# checkout; the jobs see it by its absolute path (a shared file system).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
n=4 part= gpus=1 time=4:00:00 cpus= partial=
while getopts n:p:g:t:c:P o; do
    case $o in
        n) n=$OPTARG ;; p) part=$OPTARG ;; g) gpus=$OPTARG ;; t) time=$OPTARG ;;
        c) cpus=$OPTARG ;; P) partial=1 ;;
        *) echo "usage: submit.sh [-n N] [-p PARTITION] [-g GPUS] [-t TIME] [-c CPUS] [-P] SUITE OUTDIR [run options]" >&2
           exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || { echo "submit.sh: SUITE and OUTDIR are required" >&2; exit 2; }
case $n in ''|*[!0-9]*|0) echo "submit.sh: -n '$n' is not a shard count" >&2; exit 2 ;; esac
suite=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -f "$suite" ] || { echo "submit.sh: $1: no such suite file" >&2; exit 2; }
mkdir -p "$2"
out=$(cd "$2" && pwd)
shift 2
bin=${PURBO_BENCH:-$here/../../build/purbo-bench}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
[ -x "$bin" ] || { echo "submit.sh: $bin: no purbo-bench (make, or set PURBO_BENCH)" >&2; exit 2; }
opts="--time=$time"
[ -n "$part" ] && opts="$opts --partition=$part"
[ -n "$cpus" ] && opts="$opts --cpus-per-task=$cpus"
[ "$gpus" != 0 ] && opts="$opts --gpus-per-task=$gpus"
export PURBO_BENCH="$bin" PURBO_SHARDS="$n"
# shellcheck disable=SC2086
array=$(sbatch --parsable $opts --array="1-$n" --export=ALL --output="$out/shard-%a-of-$n.out" \
        "$here/shard.sbatch" "$suite" "$out" "$@")
array=${array%%;*}
dep=afterok merge_opt=
[ -n "$partial" ] && dep=afterany merge_opt=--partial
# shellcheck disable=SC2086
merge=$(sbatch --parsable --dependency="$dep:$array" --export=ALL --output="$out/merge.out" \
        ${part:+--partition=$part} --time=0:30:00 "$here/merge.sbatch" "$out" "$n" $merge_opt)
merge=${merge%%;*}
echo "array $array"
echo "merge $merge"
