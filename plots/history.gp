# history.gp — a metric of successive runs of one suite against the commit
# each ran (asv-style): one line per method, so a regression shows at the
# commit where it entered.
# Called by plots/plot_history.c: gnuplot -c history.gp DATA PNG TITLE
#   METHODS YLABEL, where DATA holds one block per method (in METHODS'
#   order) of "x commit value" rows, x the run's place in run order and
#   commit its git sha (8 digits, '*' when the tree was dirty). Colour and
#   point type: linetype i is the i-th method's (set ahead of the script
#   from plots/plot_palette.c).
data = ARG1; out = ARG2; ttl = ARG3; methods = ARG4; ylab = ARG5
n = words(methods)
set terminal @purbo_term noenhanced size 1300, 600 font "sans,10"
set output purbo_out(out)
set title ttl font "sans,12"
set xlabel "commit (runs in order; * = uncommitted changes)"
set ylabel ylab
set xtics rotate by -45 font "sans,8"
set offsets 0.5, 0.5, 0, 0
set grid
set key outside right top
plot for [i = 1:n] data index (i - 1) using 1:3:xtic(2) with linespoints lt i lw 1.5 ps 1.4 title purbo_label[i]
