# suite_throughput.gp — engine throughput (tokens/s, median of repeats, bars
# p10..p90) and speedup over dense against context length, one line per
# series "task:phase:layers/heads/kv_heads/head_dim:method".
# Called by plots/plot_suite.c: gnuplot -c suite_throughput.gp DATA PNG
#   TITLE SERIES, where DATA holds one block per series (in SERIES' order)
#   of "context tok_s tok_s_p90 tok_s_p10 speedup" rows. Linetype i (set
#   ahead of the script) has the colour and point type of series i's method
#   (plots/plot_palette.c) and a dash type per task:phase:shape;
#   purbo_label[i], its legend: "task phase shape: the method in words".
data = ARG1; out = ARG2; ttl = ARG3; series = ARG4
n = words(series)
set terminal @purbo_term enhanced size 1400, 560 font "sans,10"
set output purbo_out(out)
set multiplot layout 1, 2 title ttl font "sans,12"
set logscale x 2
set offsets graph 0.05, graph 0.05, graph 0.08, graph 0.02
set xlabel "context length (tokens)"
set grid
set key below font "sans,8" noenhanced
set title "throughput (prefill: prompt tok/s; decode: generated tok/s)"
set logscale y
set ylabel "tokens / s"
plot for [i = 1:n] data index (i - 1) using 1:2:3:4 with yerrorlines lt i lw 1.5 title purbo_label[i]
unset logscale y
set title "speedup over dense at the same shape, phase and length"
set ylabel "t(dense) / t(method)"
set yrange [0:*]
plot for [i = 1:n] data index (i - 1) using 1:5 with linespoints lt i lw 1.5 title purbo_label[i]
unset multiplot
