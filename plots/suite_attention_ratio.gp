# suite_attention_ratio.gp — each impl's speed relative to torch SDPA's cuDNN
# backend: t(sdpa_cudnn) / t(impl) at the same shape, phase and context
# (> 1: faster than cuDNN), one panel per (phase, shape), one line per impl.
# Called by plots/plot_suite.c with the arguments of suite_attention.gp; DATA
# has the same blocks, of "context ratio" rows (NaN where cuDNN has no time),
# and the same linetypes (the j-th impl's style from plots/plot_palette.c).
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
set ylabel "t(sdpa_cudnn) / t(impl)"
set grid
set key below font "sans,9"
set multiplot layout rows, cols title ttl font "sans,12"
do for [p = 1:np] {
    pn = word(panels, p)
    dec = strstrt(pn, "decode") == 1
    set title (dec ? "decode (1 query over the cache)" : "prefill (causal)") . \
              ", heads/kv_heads/head_dim " . pn[strstrt(pn, ":") + 1:]
    plot 1 with lines dt 2 lc "gray40" notitle, \
         for [j = 1:ni] data index ((p - 1) * ni + j - 1) using 1:2 \
             with linespoints lt j lw 1.5 ps 0.7 title purbo_label[j]
}
unset multiplot
