# convert_quality.gp — every retrieval head's indexer on held-out windows,
# before training (PCA/SVD initialisation) and after: recall of the exact
# top-p token set inside the blocks the policy would select (top), the
# fraction of visible 64-token blocks selected, against what the exact
# top-p oracle needs (middle), and KL(teacher || student) (bottom).
# Data: convert_quality.dat = index, label (L.H), recall init, trained,
# blocks init, trained, teacher, kl init, trained.
set terminal @purbo_term size 1400,1100 noenhanced font 'DejaVu Sans,10'
set encoding utf8
set output purbo_out('convert_quality.png')
stats 'convert_quality.dat' using 1 nooutput
n = STATS_records
set multiplot layout 3,1 title sprintf("Indexer quality per retrieval head, held-out windows: PCA init vs trained (r = %d, p = %g)\n%s, ctx %d, run %d", r, p, model, ctx, run) font ',12'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 noborder
set grid y
set xtics rotate by 90 right font ',7'
set xrange [-1:n]
set key outside right top
set title 'recall of the exact top-p token set in the selected blocks'
set ylabel 'recall (fraction)'
set yrange [0:1]
plot 'convert_quality.dat' using 3:xtic(2) lc rgb '#b0b0b0' title 'PCA init', '' using 4 lc rgb '#3b528b' title 'trained'
set title 'fraction of visible 64-token blocks selected (sink and local blocks included)'
set ylabel 'blocks (fraction)'
plot 'convert_quality.dat' using 5:xtic(2) lc rgb '#b0b0b0' title 'PCA init', '' using 6 lc rgb '#3b528b' title 'trained', \
     '' using 7 lc rgb '#e07000' title 'exact top-p (teacher)'
set title 'KL(teacher || student)'
set ylabel 'nats'
set yrange [0:*]
plot 'convert_quality.dat' using 8:xtic(2) lc rgb '#b0b0b0' title 'PCA init', '' using 9 lc rgb '#3b528b' title 'trained'
unset multiplot
