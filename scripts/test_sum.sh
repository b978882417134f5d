#!/bin/sh
# test_sum.sh — the last line of `make test`: everything it ran, summed.
# Arguments: gates as NAME=STATUS (a check that passes or fails as a whole,
# STATUS its exit status: one passed or one failed), then the unit-test
# runners' logs: each log's last "N passed, N failed" line counts, and a log
# without one (a runner that crashed, a build that failed, a missing file)
# counts as one failure. Prints "N passed, N failed (what each gave)";
# exit 1 when anything failed or nothing passed.
p=0 f=0 parts=""
for a in "$@"; do
    case "$a" in
    *=*)
        name=${a%%=*}
        if [ "${a#*=}" = 0 ]; then lp=1 lf=0 what=ok; else lp=0 lf=1 what=FAILED; fi ;;
    *)
        name=$(basename "$a" .log)
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$a" 2>/dev/null | tail -n 1)
        if [ -n "$line" ]; then
            lp=${line%% passed*}; lf=${line#*passed, }; lf=${lf%% failed*}
        else
            lp=0 lf=1
        fi
        what="$lp passed, $lf failed" ;;
    esac
    p=$((p + lp)) f=$((f + lf))
    parts="$parts${parts:+; }$name: $what"
done
echo "$p passed, $f failed ($parts)"
[ "$f" = 0 ] && [ "$p" -gt 0 ]
