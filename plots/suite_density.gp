# suite_density.gp — score (x100) against attention density, one point per
# (method, task): what each method keeps and what it costs.
# Called by plots/plot_suite.c: gnuplot -c suite_density.gp DATA PNG TITLE
#   METHODS, where DATA holds one block per method (in METHODS' order) of
#   "density score task" rows. Colour and point type: linetype i is the
#   i-th method's (set ahead of the script from plots/plot_palette.c).
data = ARG1; out = ARG2; ttl = ARG3; methods = ARG4
n = words(methods)
set terminal @purbo_term noenhanced size 1300, 640 font "sans,10"
set output purbo_out(out)
set title ttl font "sans,12"
set xlabel "attention density (query-key pairs computed / causally visible)"
set ylabel "score (x100)"
set xrange [0:1.25]
set xtics 0, 0.2, 1
set yrange [-5:105]
set grid
set key outside right top
plot for [i = 1:n] data index (i - 1) using 1:2 with points lt i ps 1.6 title purbo_label[i], \
     for [i = 1:n] data index (i - 1) using 1:2:3 with labels offset char 0.5, char 0.6 left font "sans,7" notitle
