# demand_ctx.gp — token demand against context length: for each p, the
# median over all (head, query) pairs of the tokens needed to hold p of the
# mass, with the 10th-90th percentile band, for queries seeing about L keys.
# The dashed diagonal is L itself (every key). Log-log.
# Data: demand_ctx.dat = p, L, median, p10, p90; one block per p.
set terminal @purbo_term size 1000,650 noenhanced font 'DejaVu Sans,10'
set encoding utf8
set output purbo_out('demand_ctx.png')
set title sprintf("Token demand against context length (median, band: 10th-90th percentile of heads x queries)\n%s, %d windows, run %d", model, windows, run)
set xlabel 'context length L (keys seen by the query, log scale)'
set ylabel 'tokens needed (log scale)'
set logscale xy 2
set xrange [200:dlen * 1.25]
set grid
set key outside right top
set style fill transparent solid 0.15 noborder
ps = '0.5 0.8 0.9 0.95'
plot for [i=0:3] 'demand_ctx.dat' index i using 2:4:5 with filledcurves lc i+1 notitle, \
     for [i=0:3] 'demand_ctx.dat' index i using 2:3 with linespoints lw 2 pt 7 lc i+1 title 'p = '.word(ps, i+1), \
     'demand_ctx.dat' index 0 using 2:2 with lines dt 2 lc rgb 'gray40' title 'all L keys'
