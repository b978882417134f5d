# rank.gp — how well an r-dim projection of pre-RoPE q and k ranks the keys
# a query attends to: for r = 2 .. d, the recall of the exact top-p (0.9)
# token set among the same number of top-scored keys (left), the share of
# that set's attention mass they hold (middle), and the variance the r
# components explain (right). Lines: median over heads; bands: 10th to 90th
# percentile of heads. Methods: joint (PCA of keys in query-whitened space:
# best rank-r score), kpca (PCA of k), qpca (PCA of q).
# Dashed: the joint method's median over the retrieval heads only (the top
# 15% by the retrieval probe of the same run; has_ret = 0 when the run has
# none), the heads an RTPurbo indexer serves.
# Data: rank.dat, one block per method (joint, kpca, qpca) = method, r,
# recall median p10 p90, mass recall median p10 p90, ev median p10 p90;
# rank_retrieval.dat, the same for the joint method on the retrieval heads.
set terminal @purbo_term size 1500,550 noenhanced font 'DejaVu Sans,10'
set encoding utf8
set output purbo_out('rank.png')
set multiplot layout 1,3 title sprintf("Low-rank indexer on pre-RoPE q, k: rank r against recall of the exact top-0.9 set\n%s, ctx %d, fit on window 0, evaluated on windows 1-%d, run %d", model, ctx, windows - 1, run) font ',12'
set logscale x 2
set xrange [2:head_dim]
set xlabel 'projection rank r (dimensions, log scale)'
set yrange [0:1]
set ytics 0.1
set grid
set key below
set style fill transparent solid 0.18 noborder
names = 'joint kpca qpca'
cols = '3 6 9'
do for [panel=1:3] {
    c = int(word(cols, panel))
    set title (panel == 1 ? 'recall of the exact top-0.9 token set' : panel == 2 ? 'attention mass held (of the exact set)' : 'explained variance')
    set ylabel (panel == 1 ? 'recall (fraction of the set)' : panel == 2 ? 'mass recall (fraction)' : 'explained variance (fraction)')
    plot for [i=0:2] 'rank.dat' index i using 2:(column(c+1)):(column(c+2)) with filledcurves lc i+1 notitle, \
         for [i=0:2] 'rank.dat' index i using 2:(column(c)) with linespoints lw 2 pt 7 lc i+1 title word(names, i+1), \
         for [i=1:has_ret] 'rank_retrieval.dat' using 2:(column(c)) with linespoints lw 2 dt 2 pt 6 lc rgb 'black' title 'joint, top-15% retrieval heads'
}
unset multiplot
