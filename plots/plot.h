/* plot.h — the gnuplot scripts of plots/, embedded in the binary by the
 * Makefile (build/plots/plot_scripts.c) so that `purbo-bench plot` needs
 * only the database and gnuplot, wherever it runs. */
#ifndef PURBO_PLOT_H
#define PURBO_PLOT_H

typedef struct {
    const char *name; /* the script's file name without .gp */
    const char *text;
} plot_script;

/* Every .gp file of plots/ in name order, then {NULL, NULL}. */
extern const plot_script plot_scripts[];

#endif
