#!/bin/sh
# run_agreement.sh — the CUDA backend against the CPU on the same suite cases:
# the default suite's answer tasks in $TASKS (default: passkey and the NIAH
# depth x length grid, 11 cases a method; the RULER tasks add 11 more, which
# the CPU side cannot run in the same time) under every method, and the
# passkey set (suites/passkey.yaml's methods) at the contexts in $CTX
# (default 1024: the CPU runs its 2K-8K prompts far too slowly for one call);
# then one table: per (suite, method) the cases paired, the fraction of
# identical generated answers, the scores on each side and the largest
# density difference; and every case whose answers differ, both answers
# shown, to be explained.
#
# First the cuda runs, alone (at most $GLIMIT s, default 50; progress lines
# in cuda-*.log); then the CPU side: one single-threaded process per (suite,
# method, task), $JOBS at a time (default: the CPUs less two), each into its
# own database, every one stopped $LIMIT s (default 90) after the CPU phase
# began (a case cut short is dropped, those before it are kept and compared;
# jobs not started by then are counted). Longest jobs first.
# Run from the repo root on the GPU machine (python3 reads the databases):
#   BIN=build/device/purbo-bench MODEL=/tmp/model.gguf sh tests/gpu/run_agreement.sh
# Output under ${OUT:-/tmp}/agree; the table on stdout.
set -u
BIN=${BIN:-build/device/purbo-bench}
MODEL=${MODEL:-/tmp/model.gguf}
O=${OUT:-/tmp}/agree
CTX=${CTX:-1024}
LIMIT=${LIMIT:-85}
GLIMIT=${GLIMIT:-50}
JOBS=${JOBS:-$(( $(nproc) > 3 ? $(nproc) - 2 : 1 ))}
export BIN MODEL O
rm -rf "$O" && mkdir -p "$O/cpu" || exit 1
sed "s/^    contexts: \[1024, 2048, 4096, 8192\]/    contexts: [$CTX]/" suites/passkey.yaml > "$O/passkey.yaml"
grep -q "contexts: \[$CTX\]" "$O/passkey.yaml" || { echo "suites/passkey.yaml: its contexts line changed"; exit 1; }
# what runs (each may be narrowed; GPU=cpu tries the plumbing on a machine without a device)
TASKS=${TASKS:-niah passkey}
DM=${DM:-dense streaming duo quest topk-oracle topp-oracle rtpurbo rtpurbo-trained rtpurbo-topk}
PM=${PM:-dense duo streaming topp-oracle rtpurbo}
GPU=${GPU:-cuda}
T0=$(date +%s)
timeout -s INT "$GLIMIT" "$BIN" run suites/default.yaml --model "$MODEL" --backend "$GPU" \
    --only "$(echo $TASKS | tr ' ' ,)" --methods "$(echo $DM | tr ' ' ,)" --db "$O/cuda.db" --progress lines \
    > "$O/cuda-default.log" 2>&1
rem=$((T0 + GLIMIT - $(date +%s)))
[ "$rem" -gt 0 ] && timeout -s INT "$rem" "$BIN" run "$O/passkey.yaml" --model "$MODEL" --backend "$GPU" \
    --db "$O/cuda.db" --methods "$(echo $PM | tr ' ' ,)" --progress lines > "$O/cuda-passkey.log" 2>&1
T1=$(date +%s)
echo "cuda runs: $((T1 - T0)) s"
DEADLINE=$((T1 + LIMIT))
export DEADLINE
{ first=1; for t in $TASKS; do for m in $DM; do echo "suites/default.yaml $m $t"; done
    [ $first = 1 ] && for m in $PM; do echo "$O/passkey.yaml $m passkey"; done; first=0; done; } |
  OPENBLAS_NUM_THREADS=1 xargs -P "$JOBS" -L 1 sh -c '
    n=$(basename "$1" .yaml)-$2-$3
    rem=$((DEADLINE - $(date +%s)))
    [ "$rem" -gt 0 ] || { echo "not started: past the time limit" > "$O/cpu/$n.log"; exit 0; }
    timeout -s INT "$rem" "$BIN" run "$1" --model "$MODEL" --backend cpu --methods "$2" --only "$3" \
        --db "$O/cpu/$n.db" --progress none > "$O/cpu/$n.log" 2>&1
    exit 0' sh
echo "cpu runs: $(( $(date +%s) - T1 )) s ($JOBS at a time); logs in $O"

python3 - "$O" <<'PY'
import glob, sqlite3, sys
O = sys.argv[1]
Q = "SELECT suite, task, method, case_index, prediction, score, density FROM suite_cases"
def load(paths):
    out = {}
    for p in paths:
        try:
            for r in sqlite3.connect(p).execute(Q):
                out[r[:4]] = r[4:]
        except sqlite3.Error as e:
            print(f"{p}: {e}")
    return out
cpu, gpu = load(sorted(glob.glob(O + "/cpu/*.db"))), load([O + "/cuda.db"])
groups = {}
for k in sorted(set(cpu) & set(gpu)):
    groups.setdefault((k[0], k[2]), []).append(k)
print(f"{'suite':8s} {'method':16s} {'cases':>5s} {'same answer':>12s} {'score cpu':>9s} {'score cuda':>10s} {'max |d dens|':>12s}")
tot = same_all = 0
diffs = []
for (suite, method), keys in sorted(groups.items()):
    same = sum(cpu[k][0] == gpu[k][0] for k in keys)
    sc = sum(cpu[k][1] for k in keys) / len(keys)
    sg = sum(gpu[k][1] for k in keys) / len(keys)
    dd = max(abs((cpu[k][2] or 0) - (gpu[k][2] or 0)) for k in keys)
    tot += len(keys)
    same_all += same
    print(f"{suite:8s} {method:16s} {len(keys):5d} {same:5d} ({100 * same / len(keys):4.0f}%) {sc:9.3f} {sg:10.3f} {dd:12.4f}")
    diffs += [k for k in keys if cpu[k][0] != gpu[k][0]]
print(f"all: {same_all}/{tot} identical answers ({100 * same_all / max(tot, 1):.1f}%); "
      f"unpaired: {len(set(cpu) - set(gpu))} cpu-only, {len(set(gpu) - set(cpu))} cuda-only cases")
for k in diffs[:60]:
    print(f"  {k[0]}/{k[1]}/{k[2]}#{k[3]}: score cpu {cpu[k][1]:.2f} cuda {gpu[k][1]:.2f}; "
          f"cpu {cpu[k][0][:60]!r} | cuda {gpu[k][0][:60]!r}")
if len(diffs) > 60:
    print(f"  ... {len(diffs) - 60} more")
late = [p for p in glob.glob(O + "/cpu/*.log") if open(p).read().startswith("not started")]
if late:
    print(f"cpu jobs not started within the time limit: {len(late)} (raise LIMIT)")
PY
