# suite_frontier.gp — the score-density frontier: per method its score (x100,
# every accuracy case of the run pooled) against its attention density, with
# the 95% interval as an error bar; the methods of one family (a method and
# the points of its sweep, named METHOD@KNOB=VALUE) joined by rising density,
# so a sweep over a method's knobs is a line. The upper frontier (dashed,
# dark) is the envelope of the exact oracles' points (topp-oracle,
# topk-oracle), the lower (dashed, light) streaming's. Upper right is dense;
# a sparse family near the upper frontier at low density is the goal.
# Called by plots/plot_suite.c: gnuplot -c suite_frontier.gp DATA PNG TITLE
#   FAMILIES BOUNDS, where DATA holds one block per family (in FAMILIES'
#   order) of "density score low high method" rows, then the upper and the
#   lower frontier's blocks of "density score method" rows; BOUNDS is "U L",
#   1 where that frontier has points. Colour and point type: linetype i is
#   the i-th family's, purbo_label[i] its legend (set ahead of the script
#   from plots/plot_palette.c).
data = ARG1; out = ARG2; ttl = ARG3; families = ARG4; bounds = ARG5
n = words(families)
up = word(bounds, 1) + 0; low = word(bounds, 2) + 0
set terminal @purbo_term noenhanced size 1300, 640 font "sans,10"
set output purbo_out(out)
set title ttl font "sans,12"
set xlabel "attention density (query-key pairs computed / causally visible)"
set ylabel "score (x100), 95% interval"
set xrange [0:1.25]
set xtics 0, 0.2, 1
set yrange [-5:105]
set grid
set key outside right top title "family"
plot for [i = 1:n] data index (i - 1) using 1:2:3:4 with yerrorlines lt i ps 1.4 title purbo_label[i], \
     for [i = 1:n] data index (i - 1) using 1:2:5 with labels offset char 0.6, char 0.6 left font "sans,7" notitle, \
     data index n using 1:2 with steps lw 2.5 dt 2 lc rgb "#404040" title (up ? "upper: exact oracles" : ""), \
     data index n using 1:2 with points pt 1 ps 2 lc rgb "#404040" notitle, \
     data index (n + 1) using 1:2 with steps lw 2.5 dt 3 lc rgb "#b0b0b0" title (low ? "lower: streaming" : ""), \
     data index (n + 1) using 1:2 with points pt 1 ps 2 lc rgb "#b0b0b0" notitle
