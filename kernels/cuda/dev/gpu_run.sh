#!/bin/sh
# gpu_run.sh — one GPU session's worth of attention work, in one call:
# validate + time the kernels (dev harnesses), time the torch peers in the
# same run, then compute-sanitizer (memcheck, racecheck) on small sizes.
#
#   sh gpu_run.sh DIR [steps]   DIR holds attn_prefill, attn_decode, sdpa_peer.py
#   steps: any of prefill decode peer sanitize (default: all)
# Logs go to $OUT (or ./out) as STEP.log; the last lines are the summary.
D=${1:?usage: gpu_run.sh DIR [steps]}
shift
STEPS=${*:-prefill decode peer sanitize}
O=${OUT:-out}
mkdir -p "$O"
CUB=$(python3 -c 'import nvidia.cublas, os; print(os.path.join(list(nvidia.cublas.__path__)[0], "lib"))' 2>/dev/null)
export LD_LIBRARY_PATH="${CUB:+$CUB:}/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw --format=csv,noheader
for s in $STEPS; do
    case $s in
    prefill) timeout 240 "$D/attn_prefill" ${PREFILL_ARGS:-} > "$O/prefill.log" 2>&1; echo "prefill rc=$?" ;;
    decode) timeout 120 "$D/attn_decode" ${DECODE_ARGS:-} > "$O/decode.log" 2>&1; echo "decode rc=$?" ;;
    peer) timeout 240 python3 "$D/sdpa_peer.py" ${PEER_ARGS:-} > "$O/peer.log" 2>&1; echo "peer rc=$?" ;;
    sanitize)
        for t in memcheck racecheck; do
            timeout 150 compute-sanitizer --tool $t --error-exitcode 9 "$D/attn_prefill" --quick > "$O/san_$t.log" 2>&1
            echo "sanitize $t prefill rc=$?"; tail -n 2 "$O/san_$t.log"
            timeout 100 compute-sanitizer --tool $t --error-exitcode 9 "$D/attn_decode" --quick >> "$O/san_$t.log" 2>&1
            echo "sanitize $t decode rc=$?"; tail -n 2 "$O/san_$t.log"
        done ;;
    esac
done
cat "$O"/prefill.log "$O"/decode.log "$O"/peer.log 2>/dev/null | grep -E "^(VALID|CEILING|RESULT|validation|device|#)" |
    grep -v "^VALID.* PASS$" | sed -e 's/ card=[^ ]*//' -e 's/ n_head=[0-9]* n_kv_head=[0-9]* d=[0-9]*//'
