#!/bin/sh
# test_sum.sh — the last line of `make test`: the sum of the unit-test
# runners' summaries. Each argument is a runner's log; its last
# "N passed, N failed" line counts, and a log without one (a runner that
# crashed, a build that failed, a missing file) counts as one failure.
# Prints "N passed, N failed (LOG: n/m, ...)"; exit 1 when anything failed.
p=0 f=0 parts=""
for log in "$@"; do
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" 2>/dev/null | tail -n 1)
    if [ -n "$line" ]; then
        lp=${line%% passed*}; lf=${line#*passed, }; lf=${lf%% failed*}
    else
        lp=0 lf=1
    fi
    p=$((p + lp)) f=$((f + lf))
    parts="$parts${parts:+, }$(basename "$log" .log): $lp passed, $lf failed"
done
echo "$p passed, $f failed ($parts)"
[ "$f" = 0 ] && [ "$p" -gt 0 ]
