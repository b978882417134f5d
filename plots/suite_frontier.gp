# suite_frontier.gp — the score-density frontier: per method its score (x100,
# every accuracy case of the run pooled) against its attention density, with
# the 95% interval as an error bar; the methods of one policy joined by
# rising density, so a sweep over a policy's knobs is a line. Upper right is
# dense; a sparse method near dense's score at low density is the goal.
# Called by plots/plot_suite.c: gnuplot -c suite_frontier.gp DATA PNG TITLE
#   POLICIES, where DATA holds one block per policy (in POLICIES' order) of
#   "density score low high method" rows. Colour and point type: linetype i
#   is the i-th policy's (set ahead of the script from plots/plot_palette.c).
data = ARG1; out = ARG2; ttl = ARG3; policies = ARG4
n = words(policies)
set terminal @purbo_term noenhanced size 1300, 640 font "sans,10"
set output purbo_out(out)
set title ttl font "sans,12"
set xlabel "attention density (query-key pairs computed / causally visible)"
set ylabel "score (x100), 95% interval"
set xrange [0:1.25]
set xtics 0, 0.2, 1
set yrange [-5:105]
set grid
set key outside right top title "policy"
plot for [i = 1:n] data index (i - 1) using 1:2:3:4 with yerrorlines lt i ps 1.4 title purbo_label[i], \
     for [i = 1:n] data index (i - 1) using 1:2:5 with labels offset char 0.6, char 0.6 left font "sans,7" notitle
