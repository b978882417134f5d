#!/bin/sh
# gpu_run.sh — one GPU session's worth of attention work, in one call:
# validate + time the kernels (dev harnesses), time the torch peers in the
# same run, then compute-sanitizer (memcheck, racecheck) on small sizes.
#
#   sh gpu_run.sh DIR [steps]   DIR holds attn_prefill, attn_decode, sdpa_peer.py
#   steps: any of prefill decode peer sanitize (default: all)
#   env: PREFILL_VERSIONS (default "1 2"), PREFILL_ARGS, DECODE_ARGS, PEER_ARGS,
#        SAN_PREFILL_ARGS, SAN_SKIP_DECODE (at most 8 log files come back: keep it few)
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
    prefill) # each version alone on the small cases first (a broken one can
             # poison the context), then the full run over those that passed
        ok=""
        for v in ${PREFILL_VERSIONS:-1 2}; do
            timeout 60 "$D/attn_prefill" --quick --versions $v > "$O/prefill_q$v.log" 2>&1
            rc=$?; echo "prefill quick v$v rc=$rc"; [ $rc -eq 0 ] && ok="$ok${ok:+,}$v" || tail -n 5 "$O/prefill_q$v.log"
        done
        [ -n "$ok" ] && timeout 300 "$D/attn_prefill" --versions $ok ${PREFILL_ARGS:-} > "$O/prefill.log" 2>&1
        echo "prefill v$ok rc=$?" ;;
    decode) timeout 120 "$D/attn_decode" ${DECODE_ARGS:-} > "$O/decode.log" 2>&1; echo "decode rc=$?" ;;
    peer) timeout 240 python3 "$D/sdpa_peer.py" ${PEER_ARGS:-} > "$O/peer.log" 2>&1; echo "peer rc=$?" ;;
    sanitize)
        for t in memcheck racecheck; do
            timeout 150 compute-sanitizer --tool $t --error-exitcode 9 "$D/attn_prefill" --quick ${SAN_PREFILL_ARGS:-} > "$O/san_$t.log" 2>&1
            echo "sanitize $t prefill rc=$?"; tail -n 2 "$O/san_$t.log"
            [ -n "${SAN_SKIP_DECODE:-}" ] && continue
            timeout 100 compute-sanitizer --tool $t --error-exitcode 9 "$D/attn_decode" --quick >> "$O/san_$t.log" 2>&1
            echo "sanitize $t decode rc=$?"; tail -n 2 "$O/san_$t.log"
        done ;;
    esac
done
cat "$O"/prefill.log "$O"/decode.log "$O"/peer.log 2>/dev/null | grep -E "^(VALID|CEILING|RESULT|validation|#)" |
    grep -v "^VALID.* PASS$" | sed -e 's/ card=[^ ]*//' -e 's/ n_head=[0-9]* n_kv_head=[0-9]* d=[0-9]*//'
