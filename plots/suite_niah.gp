# suite_niah.gp — NIAH heatmap of one task: mean score (x100) by needle
# depth (y) and context length (x), one panel per method. A cell that did
# not run is grey and hatched, labelled "n/r"; a score of 0 is red with a
# "0", so the two never look alike.
# Called by plots/plot_suite.c: gnuplot -c suite_niah.gp DATA PNG TITLE
#   METHODS XTICS YTICS, where DATA holds one block per method (in METHODS'
#   order, words) of "context_index depth_index score" rows, NaN = no data,
#   and XTICS / YTICS are gnuplot tic lists ("512" 0, "1024" 1, ...);
#   purbo_label[i], the i-th method's legend words, is set ahead of it.
data = ARG1; out = ARG2; ttl = ARG3; methods = ARG4
n = words(methods)
cols = n < 4 ? n : 4
rows = (n + cols - 1) / cols
w = 60 + 430 * cols
set terminal @purbo_term noenhanced size (w < 820 ? 820 : w), 70 + 380 * rows font "sans,10"
set output purbo_out(out)
set palette defined (0 "#440154", 25 "#3b528b", 50 "#21918c", 75 "#5ec962", 100 "#fde725")  # viridis: colour-blind safe, light is good
set cbrange [0:100]
set cblabel "mean score (x100); hatched n/r: not run"
set xlabel "context length (tokens)"
set ylabel "needle depth (% of the haystack)"
eval("set xtics " . ARG5)
eval("set ytics " . ARG6)
set tics out nomirror
set offsets 0, 0, 0, 0
set autoscale fix
set multiplot layout rows, cols title ttl font "sans,12"
do for [i = 1:n] {
    set title purbo_label[i]
    plot data index (i - 1) using 1:2:3 with image notitle, \
         '' index (i - 1) using (valid(3) ? NaN : $1):2:(0.5):(0.5) with boxxyerror \
             fs pattern 4 border rgb "#777777" lc rgb "#999999" notitle, \
         '' index (i - 1) using 1:2:(valid(3) ? ($3 < 45 ? "" : sprintf("%.0f", $3)) : "n/r") with labels notitle, \
         '' index (i - 1) using 1:2:(valid(3) && $3 < 45 ? sprintf("%.0f", $3) : "") with labels tc rgb "#ffffff" notitle
}
unset multiplot
