# layer_kv.gp — KV bytes one attention layer holds against context length
# (log-log): RTPurbo (retrieval heads' K and V, their index keys, the local
# heads' S + W rows) and dense (every head's K and V), a pair per shape.
# Called by plots/plot_layer.c: gnuplot -c layer_kv.gp DATA PNG TITLE
#   SHAPES; DATA one block per shape (words "heads/kv_heads/head_dim") of
#   "shape context rtpurbo_mib dense_mib" rows.
data = ARG1; out = ARG2; ttl = ARG3; shapes = ARG4
ns = words(shapes)
set terminal @purbo_term noenhanced size 760, 520 font "sans,10"
set output purbo_out(out)
set logscale x 2
set logscale y 10
set xtics ("32K" 32768, "64K" 65536, "128K" 131072, "256K" 262144, "512K" 524288, "1M" 1048576)
set xrange [20000 : 1700000]
set xlabel "context length (tokens)"
set ylabel "KV bytes per layer (MiB)"
set grid
set key top left font "sans,9"
set title ttl font "sans,11"
plot for [s = 1:ns] data index (s - 1) using 2:3 with linespoints lw 1.5 lt s pt 7 title word(shapes, s) . " RTPurbo", \
     for [s = 1:ns] data index (s - 1) using 2:4 with linespoints lw 1.5 lt s dt 2 pt 6 title word(shapes, s) . " dense"
