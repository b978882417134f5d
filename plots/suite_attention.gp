# suite_attention.gp — attention kernels against their peers: one panel per
# (phase, shape), prefill in TFLOP/s and decode in GB/s against context
# length (log2), one line per impl: median, bars p10..p90.
# Called by plots/plot_suite.c: gnuplot -c suite_attention.gp DATA PNG TITLE
#   PANELS IMPLS XTICS XMIN XMAX, where PANELS are words
#   "phase:heads/kv_heads/head_dim", IMPLS words, DATA one block per
#   (panel, impl), impls inner, of "context y y_p90 y_p10" rows (one NaN row
#   where the impl has no point in the panel), XTICS a gnuplot tic list
#   ("4K" 4096, ...) and XMIN..XMAX the x range. Colour and point type:
#   linetype j is the j-th impl's (set ahead of the script from
#   plots/plot_palette.c).
data = ARG1; out = ARG2; ttl = ARG3; panels = ARG4; impls = ARG5
np = words(panels); ni = words(impls)
cols = np < 2 ? np : 2
rows = (np + cols - 1) / cols
set terminal @purbo_term noenhanced size 80 + 640 * cols, 90 + 420 * rows font "sans,10"
set output purbo_out(out)
set logscale x 2
eval("set xtics " . ARG6)
set xrange [real(ARG7) : real(ARG8)]
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
set xlabel "context length (tokens)"
set grid
set key below font "sans,9"
set multiplot layout rows, cols title ttl font "sans,12"
do for [p = 1:np] {
    pn = word(panels, p)
    dec = strstrt(pn, "decode") == 1
    set title (dec ? "decode (1 query over the cache)" : "prefill (causal)") . \
              ", heads/kv_heads/head_dim " . pn[strstrt(pn, ":") + 1:]
    set ylabel (dec ? "GB/s (K and V read once)" : "TFLOP/s (2 n^2 head_dim heads)")
    plot for [j = 1:ni] data index ((p - 1) * ni + j - 1) using 1:2:3:4 \
         with yerrorlines lt j lw 1.5 ps 0.7 title purbo_label[j]
}
unset multiplot
