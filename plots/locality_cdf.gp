# locality_cdf.gp — share of heads that a local head (sink 4 + window W)
# would serve: for each W, the percentage of (layer, query head) pairs whose
# smallest 90% (95%) window is at most W.
# Data: locality_cdf.dat = W, fraction with w90 <= W, fraction with w95 <= W.
set terminal @purbo_term size 1000,650 noenhanced font 'DejaVu Sans,10'
set encoding utf8
set output purbo_out('locality_cdf.png')
set title sprintf("Heads whose sink (4) + window W holds 90%% / 95%% of their attention mass\n%s, ctx %d, %d windows, run %d", model, ctx, windows, run)
set xlabel 'window W (tokens, log scale)'
set ylabel 'heads (% of all layer x query-head pairs)'
set logscale x 2
set xrange [64:ctx]
set yrange [0:100]
set ytics 10
set grid
set key outside right top
set arrow from 512, graph 0 to 512, graph 1 nohead dt 2 lc rgb 'gray40'
set arrow from 1024, graph 0 to 1024, graph 1 nohead dt 2 lc rgb 'gray40'
plot 'locality_cdf.dat' using 1:(100*$2) with steps lw 2 title '90% of the mass', \
     '' using 1:(100*$3) with steps lw 2 title '95% of the mass'
