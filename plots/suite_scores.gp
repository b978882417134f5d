# suite_scores.gp — score (x100) per task and method as clustered bars, each
# with its 95% interval as an error bar.
# Called by plots/plot_suite.c: gnuplot -c suite_scores.gp DATA PNG TITLE
#   METHODS, where DATA is a table: a header "task METHOD..." and one row
#   per task of "score low high" per method (NaN = not run; the interval is
#   Wilson's for pass/fail tasks, else a bootstrap: results/score_cells.h).
#   Bar colours: linetype i is the i-th method's (set ahead of the script
#   from plots/plot_palette.c).
data = ARG1; out = ARG2; ttl = ARG3; methods = ARG4
n = words(methods)
set terminal pngcairo noenhanced size 1200, 560 font "sans,10"
set output out
set title ttl font "sans,12"
set style data histograms
set style histogram errorbars gap 1 lw 1
set key autotitle columnhead
set style fill solid 0.85 border rgb "#808080"   # the outline and the error bars: grey shows on every colour
set boxwidth 0.9
set yrange [0:105]
set ylabel "score (x100; RULER: mean of string-match fractions), 95% interval"
set xlabel "task"
set xtics rotate by -30 nomirror
set ytics 10
set grid ytics
set key outside right top
plot for [i = 1:n] data using (column(3 * i - 1)):(column(3 * i)):(column(3 * i + 1)):xtic(1) lt i title word(methods, i)
