# suite_niah.gp — NIAH heatmap of one task: mean score (x100) by needle
# depth (y) and context length (x), one panel per method.
# Called by plots/plot_suite.c: gnuplot -c suite_niah.gp DATA PNG TITLE
#   METHODS XTICS YTICS, where DATA holds one block per method (in METHODS'
#   order, words) of "context_index depth_index score" rows, NaN = no data,
#   and XTICS / YTICS are gnuplot tic lists ("512" 0, "1024" 1, ...).
data = ARG1; out = ARG2; ttl = ARG3; methods = ARG4
n = words(methods)
cols = n < 4 ? n : 4
rows = (n + cols - 1) / cols
w = 60 + 430 * cols
set terminal pngcairo noenhanced size (w < 820 ? 820 : w), 70 + 380 * rows font "sans,10"
set output out
set palette defined (0 "#c0392b", 50 "#f1c40f", 100 "#27ae60")
set cbrange [0:100]
set cblabel "mean score (x100)"
set xlabel "context length (tokens)"
set ylabel "needle depth (% of the haystack)"
eval("set xtics " . ARG5)
eval("set ytics " . ARG6)
set tics out nomirror
set offsets 0, 0, 0, 0
set autoscale fix
set multiplot layout rows, cols title ttl font "sans,12"
do for [i = 1:n] {
    set title word(methods, i)
    plot data index (i - 1) using 1:2:3 with image notitle, \
         '' index (i - 1) using 1:2:($3 == $3 ? sprintf("%.0f", $3) : "-") with labels notitle
}
unset multiplot
