#!/bin/sh
# sanitize_gpu.sh — the GPU tests under compute-sanitizer's four tools, run on
# the GPU machine after run_gpu.sh has unpacked the bundle to /tmp/pb and
# joined the model to /tmp/model.gguf. Logs go to $OUT/san/; one summary line
# per (tool, test) and a last line "sanitizer: N clean, N with errors".
#
# memcheck and initcheck cover every listed test; racecheck and synccheck
# (shared-memory hazards, barrier misuse) the tests whose kernels are ours.
# racecheck and synccheck skip cuBLAS's own kernels (names starting nvjet,
# cutlass or sm90_xmma): they are not this project's code, and racecheck
# cannot follow their asynchronous copies. memcheck and initcheck watch every
# kernel: initcheck must see cuBLAS's writes, or every product it wrote reads
# as uninitialised when it is copied back.
#   TESTS="gpu_op_rope gpu_op_add" TOOLS="racecheck" sh sanitize_gpu.sh   (a subset)
D=${D:-/tmp/pb}
M=${M:-/tmp/model.gguf}
O=${OUT:-/tmp}/san
mkdir -p "$O"
OWN=${TESTS:-"gpu_op_embed gpu_op_rmsnorm gpu_op_rope gpu_op_swiglu gpu_op_add gpu_op_kv_append_attention gpu_op_logits gpu_decode_matches_prefill"}
ALL="$OWN gpu_op_matmul gpu_forward_golden_short"
EXCL="--kernel-name-exclude kns=nvjet --kernel-name-exclude kns=cutlass --kernel-name-exclude kns=sm90_xmma"
clean=0; bad=0
run_one() { # tool test
    log="$O/$1_$2.log"
    excl=""; case $1 in racecheck|synccheck) excl=$EXCL ;; esac
    timeout ${PER_TEST_S:-120} compute-sanitizer --tool "$1" $excl --error-exitcode 9 \
        "$D/purbo-gpu-test" --model "$M" "$2" > "$log" 2>&1
    rc=$?
    summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed," "$log" | tr '\n' ' ')
    if [ $rc -eq 0 ]; then clean=$((clean + 1)); echo "  ok   $1 $2: $summary"
    else bad=$((bad + 1)); echo "  FAIL $1 $2 (rc $rc): $summary"; grep -m3 -E "=========  (Invalid|Race|Uninit|Barrier|Error)" "$log"; fi
}
TOOLS=${TOOLS:-"memcheck initcheck racecheck synccheck"}
for t in $TOOLS; do
    case $t in memcheck|initcheck) list=${TESTS:-$ALL} ;; *) list=$OWN ;; esac
    for x in $list; do run_one $t $x; done
done
echo "sanitizer: $clean clean, $bad with errors"
