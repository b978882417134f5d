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
# The project's own kernels: ops, dense/window/d256 attention, the fused
# decode kernels, the policies' row kernels, the sparse pipeline's timer,
# and the RTPurbo layer's kernels on their small cases: both prefill
# indexers (envelope and mean-pooled), the index-key append, the
# selection, sparse decode per head and per group, block-sparse prefill per
# query head and per kv group over the union, the local heads, the layer.
OWN=${TESTS:-"gpu_op_embed gpu_op_rmsnorm gpu_op_rope gpu_op_rope_neox gpu_op_swiglu gpu_op_geglu gpu_op_add
 gpu_op_scale gpu_op_norm_rows gpu_op_kv_append_attention gpu_op_attention_window gpu_op_logits
 gpu_attn_window_d64_d128 gpu_attn_d256_window gpu_decode_fused_qkv gpu_decode_fused_mlp_logits
 gpu_decode_attention_device_length gpu_decode_matches_prefill gpu_policy_rows_local gpu_policy_rows_quest
 gpu_policy_rows_topk_oracle gpu_policy_rows_topp_oracle gpu_policy_rows_rtpurbo gpu_policy_rows_rtpurbo_topk
 gpu_sparse_timer_selects gpu_index_prefill gpu_index_prefill_mean gpu_kv_append_index gpu_select_topp_small
 gpu_sparse_decode_union_small gpu_sparse_prefill_union_small gpu_local_small gpu_layer_"}
ALL="$OWN gpu_op_matmul gpu_forward_golden_short"
EXCL="--kernel-name-exclude kns=nvjet --kernel-name-exclude kns=cutlass --kernel-name-exclude kns=sm90_xmma"
run_one() { # tool test
    log="$O/$1_$2.log"
    excl=""; case $1 in racecheck|synccheck) excl=$EXCL ;; esac
    timeout ${PER_TEST_S:-120} compute-sanitizer --tool "$1" $excl --error-exitcode 9 \
        "$D/purbo-gpu-test" --model "$M" "$2" > "$log" 2>&1
    rc=$?
    summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed," "$log" | tr '\n' ' ')
    if [ $rc -eq 0 ]; then clean=$((clean + 1)); echo "  ok   $1 $2: $summary"
    else bad=$((bad + 1)); echo "  FAIL $1 $2 (rc $rc): $summary"; grep -m3 -E "========= +(Invalid|Race|Uninit|Barrier|Error)" "$log"; fi
}
TOOLS=${TOOLS:-"memcheck initcheck racecheck synccheck"}
# One tool after another, or (PARALLEL=1) the four tools at once, each in its
# own process on the same GPU; each tool's lines are printed together.
tool_loop() { # tool
    clean=0; bad=0
    case $1 in memcheck|initcheck) list=${TESTS:-$ALL} ;; *) list=$OWN ;; esac
    for x in $list; do run_one $1 $x; done
    echo "$clean $bad" > "$O/$1.count"
}
for t in $TOOLS; do
    if [ -n "$PARALLEL" ]; then tool_loop $t > "$O/$t.lines" & else tool_loop $t; fi
done
[ -n "$PARALLEL" ] && wait
n_clean=0; n_bad=0
for t in $TOOLS; do
    [ -n "$PARALLEL" ] && cat "$O/$t.lines"
    read c b < "$O/$t.count"; n_clean=$((n_clean + c)); n_bad=$((n_bad + b))
done
clean=$n_clean; bad=$n_bad
echo "sanitizer: $clean clean, $bad with errors"
