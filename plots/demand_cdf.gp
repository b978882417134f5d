# demand_cdf.gp — the distribution of token demand: for each p, the share
# of (head, query) pairs that reach p of their attention mass with at most
# n tokens (left) or n 64-token blocks (right), for queries that see about
# the full context (the probe's largest context length). Log x.
# Data: demand_cdf_token.dat, demand_cdf_block.dat = p, n, cumulative
# fraction; one block per p (0.5, 0.8, 0.9, 0.95).
set terminal @purbo_term size 1400,600 noenhanced font 'DejaVu Sans,10'
set encoding utf8
set output purbo_out('demand_cdf.png')
set multiplot layout 1,2 title sprintf("Token demand: how many keys a query needs to hold p of its attention mass (CDF over heads and queries)\n%s, queries seeing about %d keys, %d windows x 32 queries x %d heads, run %d", model, dlen, windows, nheads, run) font ',12'
set logscale x 10
set yrange [0:1]
set ytics 0.1
set grid
set key below
set ylabel 'fraction of (head, query) pairs'
ps = '0.5 0.8 0.9 0.95'
set title 'tokens needed'
set xlabel 'tokens needed (log scale)'
set xrange [1:dlen]
plot for [i=0:3] 'demand_cdf_token.dat' index i using 2:3 with steps lw 2 title 'p = '.word(ps, i+1)
set title 'blocks of 64 tokens needed'
set xlabel '64-token blocks needed (log scale)'
set logscale x 2
set xrange [1:dlen / 64]
plot for [i=0:3] 'demand_cdf_block.dat' index i using 2:3 with steps lw 2 title 'p = '.word(ps, i+1)
unset multiplot
