# locality_mass.gp — attention mass kept by sink (4) + window W against W,
# one curve per (layer, query head), coloured by layer; mean over queries in
# the last half of each window.
# Data: locality_mass.dat = head id, W, mass, layer; one block per head.
set terminal @purbo_term size 1000,650 noenhanced font 'DejaVu Sans,10'
set encoding utf8
set output purbo_out('locality_mass.png')
set title sprintf("Attention mass inside sink (4) + window W, per head\n%s, ctx %d, %d windows, run %d", model, ctx, windows, run)
set xlabel 'window W (tokens, log scale)'
set ylabel 'mean attention mass kept (fraction)'
set logscale x 2
set xrange [64:ctx]
set yrange [0:1]
set ytics 0.1
set grid
set palette defined (0 '#440154', 1 '#3b528b', 2 '#21918c', 3 '#5ec962', 4 '#fde725')
set cblabel 'layer'
set cbrange [0:nlayer-1]
set arrow from graph 0, first 0.9 to graph 1, first 0.9 nohead dt 2 lc rgb 'red'
set arrow from graph 0, first 0.95 to graph 1, first 0.95 nohead dt 3 lc rgb 'red'
plot 'locality_mass.dat' using 2:3:4 with lines lc palette lw 0.7 notitle
