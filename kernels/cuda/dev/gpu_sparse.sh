#!/bin/sh
# gpu_sparse.sh — one GPU call's worth of block-sparse attention work:
# validate (dev harness, small cases first), compute-sanitizer memcheck and
# racecheck on small sizes, the dense harnesses' quick validation (the
# shared decode body and Hopper header), then the timed run with its lists
# dumped and the torch peers (sparse_peer.py) on those same lists.
#
#   sh gpu_sparse.sh DIR [steps]   DIR holds attn_sparse, attn_prefill, attn_decode,
#                                  sdpa_peer.py, sparse_peer.py
#   steps: any of quick sanitize dense time peer (default: all)
#   env: SPARSE_VERSIONS (prefill versions to validate, then time those that pass; default "1 2 3 4"),
#        SPARSE_ARGS (more timing args of attn_sparse), SAN_ARGS, SAN_RACE_ARGS (racecheck's, else SAN_ARGS)
# Logs go to $OUT (or ./out) as STEP.log; the summary is printed at the end.
D=${1:?usage: gpu_sparse.sh DIR [steps]}
shift
STEPS=${*:-quick sanitize dense time peer}
O=${OUT:-out}
L=/tmp/sparse_lists
mkdir -p "$O" "$L"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw --format=csv,noheader
for s in $STEPS; do
    case $s in
    quick) # each prefill version alone first (a trap poisons the process's context), then all
        ok=""
        for v in ${SPARSE_VERSIONS:-1 2 3 4}; do
            timeout 60 "$D/attn_sparse" --quick --versions $v > "$O/quick_v$v.log" 2>&1
            rc=$?; echo "quick v$v rc=$rc"; [ $rc -eq 0 ] && ok="$ok${ok:+,}$v" || grep -v PASS "$O/quick_v$v.log" | tail -n 3
        done
        echo "$ok" > /tmp/sparse_ok_versions
        cat "$O"/quick_v*.log > "$O/quick.log"; rm -f "$O"/quick_v*.log ;;
    sanitize)
        for t in memcheck racecheck; do
            a=${SAN_ARGS:-}; [ $t = racecheck ] && a=${SAN_RACE_ARGS:-$a}
            timeout 200 compute-sanitizer --tool $t --error-exitcode 9 "$D/attn_sparse" --quick $a > "$O/san_$t.log" 2>&1
            echo "sanitize $t rc=$?"; tail -n 2 "$O/san_$t.log"
        done ;;
    dense)
        timeout 60 "$D/attn_prefill" --quick --versions 6 > "$O/dense.log" 2>&1; echo "dense prefill quick rc=$?"
        timeout 60 "$D/attn_decode" --quick >> "$O/dense.log" 2>&1; echo "dense decode quick rc=$?"
        grep -v PASS "$O/dense.log" | tail -n 4 ;;
    time) rm -f "$L"/*.bin; v=$(cat /tmp/sparse_ok_versions 2>/dev/null); v=${v:-1}
        timeout 400 "$D/attn_sparse" --dump "$L" --versions $v ${SPARSE_ARGS:-} > "$O/time.log" 2>&1; echo "time v$v rc=$?" ;;
    peer) timeout 400 python3 "$D/sparse_peer.py" "$L" > "$O/peer.log" 2>&1; echo "peer rc=$?" ;;
    esac
done
cat "$O"/time.log "$O"/peer.log 2>/dev/null | grep -E "^(VALID|RESULT|validation|#)" | grep -v "^VALID.* PASS$" |
    sed -e 's/ card=[^ ]*//'
