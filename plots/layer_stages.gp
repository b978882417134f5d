# layer_stages.gp — where the RTPurbo layer's time goes: the shares of its
# stages (index, select, attend, local; each timed alone) against context
# length, stacked bars, one panel per (phase, shape).
# Called by plots/plot_layer.c: gnuplot -c layer_stages.gp DATA PNG TITLE
#   PANELS; DATA one block per panel of "context_label index select attend
#   local layer_ms" rows (shares of the stage sum).
data = ARG1; out = ARG2; ttl = ARG3; panels = ARG4
np = words(panels)
cols = np < 2 ? np : 2
rows = (np + cols - 1) / cols
set terminal @purbo_term noenhanced size 80 + 640 * cols, 90 + 420 * rows font "sans,10"
set output purbo_out(out)
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.7
set yrange [0:1]
set ylabel "share of the stage sum"
set xlabel "context length (tokens)"
set grid y
set key below font "sans,9"
set multiplot layout rows, cols title ttl font "sans,12"
do for [p = 1:np] {
    set title word(panels, p)
    plot data index (p - 1) using 2:xtic(1) lc rgb "#0072B2" title "index", \
         '' index (p - 1) using 3 lc rgb "#E69F00" title "select", \
         '' index (p - 1) using 4 lc rgb "#009E73" title "attend (retrieval heads)", \
         '' index (p - 1) using 5 lc rgb "#CC79A7" title "local heads (window)"
}
unset multiplot
