# retrieval.gp — the repeated-span retrieval score of every query head,
# ranked: the mean attention mass that the 64 tokens of a span's second copy
# put on its first copy (bars), and on the token after the corresponding one
# (points, the induction target). Left: all heads, the dashed line marking
# the top 15% (METHOD.md §2: the retrieval-head candidates). Right: the top
# 30 heads by name (L = layer, H = query head, both from 0).
# Data: retrieval.dat = rank, score, score_next, layer, head.
set terminal @purbo_term size 1400,700 noenhanced font 'DejaVu Sans,10'
set encoding utf8
set output purbo_out('retrieval.png')
stats 'retrieval.dat' using 2 nooutput
nheads = STATS_records
ncut = floor(0.15 * nheads + 0.5)
ymax = STATS_max > 0 ? STATS_max * 1.1 : 1
set multiplot layout 1,2 title sprintf("Retrieval score per query head: mass a repeated span's 2nd copy puts on its 1st copy\n%s, ctx %d, %d documents, run %d", model, ctx, windows, run) font ',12'
set style fill solid 0.8 noborder
set grid y
set title sprintf('all %d heads, ranked', nheads)
set xlabel 'head rank (1 = highest score)'
set ylabel 'mean attention mass (fraction)'
set xrange [0:nheads + 1]
set yrange [0:ymax]
set key below
set arrow 1 from ncut + 0.5, graph 0 to ncut + 0.5, graph 1 nohead dt 2 lc rgb 'red'
set label 1 sprintf('top 15%% (%d heads)', ncut) at ncut + 3, graph 0.9 tc rgb 'red'
plot 'retrieval.dat' using 1:2 with boxes lc rgb '#3b528b' title 'on the whole first copy', \
     '' using 1:3 with points pt 7 ps 0.4 lc rgb '#e07000' title 'on the next token of the first copy'
unset arrow 1
unset label 1
set title 'top 30 heads'
set xlabel 'mean attention mass (fraction)'
set ylabel 'head (layer.head)'
set xrange [0:ymax]
set yrange [30.5:0.5]
set grid x
set ytics font ',8'
set key below
plot 'retrieval.dat' every ::0::29 using (0.5 * $2):1:(0.5 * $2):(0.35):ytic(sprintf('L%d.H%d', $4, $5)) with boxxyerror lc rgb '#3b528b' title 'on the whole first copy', \
     '' every ::0::29 using 3:1 with points pt 7 ps 0.8 lc rgb '#e07000' title 'on the next token'
unset multiplot
