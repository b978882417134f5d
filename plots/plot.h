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

#include <stdint.h>

#include "results/db.h"

/* Runs sql (?1 = case_id and, where the query has it, ?2 = case2; or
 * whatever ids the query keys on) and writes its rows, tab-separated under
 * a '#' header of column names, to DIR/file. With group >= 0, `blank`
 * empty lines go between rows whose column `group` differs (gnuplot: one
 * blank line breaks a curve, two start a new index). Returns the number of
 * rows. */
int plot_dump(pb_db *db, const char *dir, const char *file, const char *sql, int64_t case_id, int64_t case2,
              int group, int blank);
/* Writes DIR/name.gp (vars, then the embedded plots/name.gp) and runs
 * gnuplot on it in DIR; 1 when DIR/name.png came out non-empty. */
int plot_draw(const char *dir, const char *name, const char *vars);

/* The conversion plots of run (plots/convert_plot.c): the training curves
 * and the per-head indexer quality, when the run has them; appends the
 * names drawn to drawn[*n_drawn ...]. */
void plot_convert(pb_db *db, int64_t run, const char *dir, const char *model, const char **drawn, int *n_drawn);

#endif
