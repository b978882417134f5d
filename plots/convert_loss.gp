# convert_loss.gp — the indexer distillation's training curves: per step,
# the minibatch loss KL(teacher || student) in nats of every retrieval head
# (thin lines) and their mean (thick), with the learning rate on the right
# axis. Loss is taken before each step's update.
# Data: convert_loss.dat, one block per head (two blank lines between) =
# step, loss, layer, head; convert_loss_mean.dat = step, mean loss, min,
# max, lr.
set terminal @purbo_term size 1100,650 noenhanced font 'DejaVu Sans,10'
set encoding utf8
set output purbo_out('convert_loss.png')
set title sprintf("Indexer distillation: loss per step, %d retrieval heads (r = %d)\n%s, ctx %d, run %d", nret, r, model, ctx, run)
set xlabel 'step'
set ylabel 'KL(teacher || student) on the minibatch (nats)'
set y2label 'learning rate'
set ytics nomirror
set y2tics
set format y2 '%.1e'
set grid
set key outside right top
set style fill transparent solid 0.15 noborder
plot 'convert_loss_mean.dat' using 1:3:4 with filledcurves lc rgb '#3b528b' title 'range over heads', \
     'convert_loss.dat' using 1:2 with lines lw 0.5 lc rgb '#a0a0c0' notitle, \
     'convert_loss_mean.dat' using 1:2 with lines lw 3 lc rgb '#3b528b' title 'mean over heads', \
     '' using 1:5 axes x1y2 with lines lw 1.5 dt 2 lc rgb '#e07000' title 'learning rate (right axis)'
