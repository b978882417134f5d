# roofline.gp — the roofline of a run with hardware counters: arithmetic
# intensity (FLOP per DRAM byte) against achieved FLOP/s, log-log, one
# point per kernel per case (its launches summed: probes/hw_metrics.h), under
# the card's two measured ceilings (min(bw * I, peak)).
# Called by plots/roofline_plot.c: gnuplot -c roofline.gp DATA PNG TITLE
#   SERIES, where DATA holds one block per kernel (in SERIES' order) of
#   "intensity flop_s case label" rows (label: the case's context length,
#   drawn beside the point); bw (bytes/s), peak (FLOP/s) and the x range
#   xmin, xmax are set ahead of the script (gnuplot reads no exponent in a
#   string argument). Point shapes cycle with period 7 and colours with 8,
#   so no two of the first 56 kernels look alike.
data = ARG1; out = ARG2; ttl = ARG3; series = ARG4
n = words(series)
set terminal @purbo_term enhanced size 1400, 860 font "sans,10"
set output purbo_out(out)
set title ttl noenhanced font "sans,12"
set logscale xy
set xrange [xmin:xmax]
set xlabel "arithmetic intensity (FLOP / DRAM byte)"
set ylabel "achieved FLOP/s"
set format x "10^{%L}"
set format y "10^{%L}"
set grid
set key outside right top font "sans,8" noenhanced
set samples 2000
roof(x) = bw * x < peak ? bw * x : peak
set label 1 sprintf("%.0f GB/s", bw / 1e9) at graph 0.02, first bw * xmin * 1.6 font "sans,9"
set label 2 sprintf("%.0f TFLOP/s (bf16 GEMM)", peak / 1e12) at graph 0.80, first peak * 1.25 font "sans,9"
plot roof(x) with lines lw 2 lc rgb "#000000" title "ceilings (measured)", \
     for [i = 1:n] data index (i - 1) using 1:2 with points lt i pt (4 + (i - 1) % 7) ps 1.6 lw 1.5 title word(series, i), \
     for [i = 1:n] data index (i - 1) using 1:2:4 with labels left offset 0.8, 0 font "sans,7" tc lt i notitle
