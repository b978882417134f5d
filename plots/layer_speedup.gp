# layer_speedup.gp — the RTPurbo layer's speedup over cuDNN SDPA dense,
# t(sdpa_cudnn) / t(layer), against context length (log2), one line per
# planted density, one panel per (phase, shape).
# Called by plots/plot_layer.c: gnuplot -c layer_speedup.gp DATA PNG TITLE
#   PANELS DENSITIES, PANELS words "phase:heads/kv_heads/head_dim",
#   DENSITIES words ("1%", "demand_5%"), DATA one block per (panel,
#   density), densities inner, of "context speedup density_realised" rows.
data = ARG1; out = ARG2; ttl = ARG3; panels = ARG4; dens = ARG5
np = words(panels); nd = words(dens)
cols = np < 2 ? np : 2
rows = (np + cols - 1) / cols
set terminal @purbo_term noenhanced size 80 + 640 * cols, 90 + 420 * rows font "sans,10"
set output purbo_out(out)
set logscale x 2
set logscale y 2
set xtics ("32K" 32768, "64K" 65536, "128K" 131072, "256K" 262144, "512K" 524288, "1M" 1048576)
set xrange [20000 : 1700000]
set xlabel "context length (tokens)"
set ylabel "t(cuDNN dense) / t(RTPurbo layer)"
set grid
set key below font "sans,9"
set multiplot layout rows, cols title ttl font "sans,12"
do for [p = 1:np] {
    pn = word(panels, p)
    set title pn
    plot 1 with lines dt 2 lc "gray40" notitle, \
         for [j = 1:nd] data index ((p - 1) * nd + j - 1) using 1:2 \
             with linespoints lw 1.5 ps 0.8 title "density " . word(dens, j)
}
unset multiplot
