# locality.gp — heatmaps of the smallest local window per head: layer x
# query head, colour = the smallest W for which sink (4) + the W most recent
# tokens hold 90% (left) and 95% (right) of the head's attention mass,
# averaged over queries in the last half of each window.
# Data: locality_heads.dat = head, layer, w90, w95 (one line per head).
# Set by purbo-bench plot: run, model, ctx, windows, nlayer, nhead.
set terminal @purbo_term size 1000,1000 noenhanced font 'DejaVu Sans,10'
set encoding utf8
set output purbo_out('locality.png')
set multiplot layout 1,2 title sprintf("Locality: smallest window W (tokens) with sink 4 + W holding the attention mass\n%s, ctx %d, %d windows, run %d; queries: last half of each window", model, ctx, windows, run) font ',12'
set palette defined (0 '#440154', 1 '#3b528b', 2 '#21918c', 3 '#5ec962', 4 '#fde725')
set logscale cb 2
set cbrange [64:ctx]
set cblabel 'W (tokens, log scale)'
set xlabel 'query head'
set ylabel 'layer'
set xrange [-0.5:nhead-0.5]
set yrange [-0.5:nlayer-0.5]
set xtics 1
set ytics 1 font ',8'
set size ratio -1
mid = sqrt(64.0 * ctx)
do for [c=3:4] {
    set title (c == 3 ? 'W reaching 90% of the mass' : 'W reaching 95% of the mass')
    plot 'locality_heads.dat' using 1:2:c with image notitle, \
         '' using 1:2:(column(c) <  mid ? sprintf('%d', column(c)) : '') with labels tc rgb 'white' font ',7' notitle, \
         '' using 1:2:(column(c) >= mid ? sprintf('%d', column(c)) : '') with labels tc rgb 'black' font ',7' notitle
}
unset multiplot
