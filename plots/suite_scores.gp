# suite_scores.gp — score (x100) per task and method as clustered bars, each
# with its 95% interval as an error bar. A score of 0 is drawn (a "0" in the
# method's colour on the axis) apart from a method that did not run the task
# (a grey x, "not run" in the legend): an empty place is never ambiguous.
# Called by plots/plot_suite.c: gnuplot -c suite_scores.gp DATA PNG TITLE
#   METHODS, where DATA is a table: a header "task METHOD..." and one row
#   per task of "score low high" per method (NaN = not run; the interval is
#   Wilson's for pass/fail tasks, else a bootstrap: results/score_cells.h).
#   Bar colours: linetype i is the i-th method's, purbo_label[i] its legend
#   (set ahead of the script from plots/plot_palette.c).
data = ARG1; out = ARG2; ttl = ARG3; methods = ARG4
n = words(methods)
set terminal @purbo_term noenhanced size 1500, 600 font "sans,10"
set output purbo_out(out)
set title ttl font "sans,12"
bw = 0.8 / n                          # bar width; a task's cluster spans 0.8
x(i) = $0 + (i - (n + 1) / 2.0) * bw  # the i-th method's bar in the row's cluster
# (the labels below take every row, "" where there is nothing to say: gnuplot
# 5.4 crashes on a labels plot whose only row is NaN)
set offsets 0.6, 0.6, 0, 0
set autoscale xfix
set style fill solid 0.85 border rgb "#808080"   # the outline and the error bars: grey shows on every colour
set yrange [-4:105]
set ylabel "score (x100; RULER: mean of string-match fractions), 95% interval"
set xlabel "task"
set xtics rotate by -30 nomirror
set ytics 0, 10, 100
set grid ytics
set xzeroaxis lt -1
set key outside right top
set key autotitle columnhead
plot data using 0:(NaN):xtic(1) notitle, \
     for [i = 1:n] data using (x(i)):(column(3 * i - 1)):(column(3 * i)):(column(3 * i + 1)):(bw) \
         with boxerrorbars lt i title purbo_label[i], \
     for [i = 1:n] data using (x(i)):(1.5):(column(3 * i - 1) == 0 ? "0" : "") \
         with labels tc lt i font "sans,9:Bold" notitle, \
     for [i = 1:n] data using (x(i)):(valid(3 * i - 1) ? NaN : -2) \
         with points pt 2 ps 1.2 lc rgb "#777777" notitle, \
     NaN with points pt 2 ps 1.2 lc rgb "#777777" title "x: not run"
