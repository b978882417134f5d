#!/bin/sh
# run_graph_gpu.sh — the whole-step decode on the GPU machine, from the repo
# root after `make device`: the GPU tests (all of them: the CUDA graph, its
# fused kernels, the forward pass and CUPTI), then bench (prefill 2K and 8K,
# decode of 32 tokens after 2K) in each decode mode: the graph, the graph
# with programmatic dependent launch (pdl, the default), the fused kernels
# without the graph, and op by op (PURBO_CUDA_GRAPH=0), each with its CUPTI
# kernel summary.
#   [MODES="graph pdl"] [TESTS="gpu_graph gpu_decode"] sh tests/gpu/run_graph_gpu.sh [MODEL] [BINDIR]
# (TESTS: name filters of the GPU tests, all when unset; MODES: the decode
# modes benched, default all four.)
M=${1:-/tmp/model.gguf}
B=${2:-build/device}
OUT=${OUT:-/tmp}
MODES=${MODES:-graph pdl direct 0}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "== gpu tests"
timeout 400 $B/purbo-gpu-test --model $M $TESTS; echo "rc $?"
for mode in $MODES; do
  echo "== bench, PURBO_CUDA_GRAPH=$mode"
  rm -f $OUT/bench-$mode.db
  PURBO_CUDA_GRAPH=$mode timeout 120 $B/purbo-bench bench --model $M --backend cuda --sizes 2048,8192 \
    --repeats 5 --decode-ctx 2048 --decode-tokens 32 --db $OUT/bench-$mode.db; echo "rc $?"
  python3 - $OUT/bench-$mode.db <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for case, n, us in c.execute("select case_name, count(*), sum(end_ns-start_ns)/1e3 from kernel_timings group by case_name order by min(id)"):
    print(f"  {case:14s} {n:6d} kernels {us:10.1f} us busy")
for name, n, us in c.execute("select substr(name,1,70), count(*), sum(end_ns-start_ns)/1e3 from kernel_timings where case_name like 'decode%' group by name order by 3 desc limit 10"):
    print(f"    {us:9.1f} us {n:5d}x {name}")
r = c.execute("select min(start_ns), max(end_ns), count(*) from kernel_timings where case_name like 'decode%'").fetchone()
if r[2]: print(f"  decode: first kernel start to last kernel end {(r[1]-r[0])/1e3:.1f} us for {r[2]} kernels")
PY
done
