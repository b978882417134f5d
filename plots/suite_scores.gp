# suite_scores.gp — score (x100) per task and method as clustered bars.
# Called by plots/plot_suite.c: gnuplot -c suite_scores.gp DATA PNG TITLE
#   METHODS, where DATA is a table: a header "task METHOD..." and one row
#   per task of its score per method (NaN = not run). Bar colours: linetype
#   i is the i-th method's (set ahead of the script from plots/plot_palette.c).
data = ARG1; out = ARG2; ttl = ARG3; methods = ARG4
n = words(methods)
set terminal pngcairo noenhanced size 1200, 560 font "sans,10"
set output out
set title ttl font "sans,12"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:105]
set ylabel "score (x100; RULER: mean of string-match fractions)"
set xlabel "task"
set xtics rotate by -30 nomirror
set ytics 10
set grid ytics
set key outside right top
plot for [i = 2:n + 1] data using i:xtic(1) lt (i - 1) title columnheader(i)
