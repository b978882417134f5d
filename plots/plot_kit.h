/* plot_kit.h — what the chart families of plots/ share, and the one header
 * they include (never the dispatcher, plot.c):
 *
 *   the embedded scripts  every plots/NAME.gp, compiled into the binary by the
 *                         Makefile (build/plots/plot_scripts.c), so that
 *                         `purbo-bench plot` needs only the database and gnuplot
 *   data files            plot_dump (rows of a query), plot_open (any file)
 *   output names          plot_fmt, plot_path: DIR/NAME, truncation a runtime error
 *   the gnuplot runner    plot_gnuplot: writes DIR/NAME.gp and runs gnuplot in DIR
 *   the palette           plot_style_of: a method's colour, point type and
 *                         legend words (plots/plot_palette.c), the same in
 *                         every chart
 *   the families          plot_probes (probe_plot.c), plot_convert
 *                         (convert_plot.c), plot_suite_charts (plot_suite.c),
 *                         plot_roofline (roofline_plot.c), run in that
 *                         order by plot.c's table; plot_history
 *                         (plot_history.c), the one family over many runs
 *
 * Invariants: every file a chart writes lies in its job's folder, so that
 * `gnuplot NAME.gp` (or `gnuplot -c NAME.gp ARGS`) in that folder redraws it
 * by hand; gnuplot missing or failing is a runtime error (exit 1).
 * Implemented in plot_kit.c and plot_palette.c.
 */
#ifndef PURBO_PLOT_KIT_H
#define PURBO_PLOT_KIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "results/db.h"

typedef struct {
    const char *name; /* the script's file name without .gp */
    const char *text;
} plot_script;

/* Every .gp file of plots/ in name order, then {NULL, NULL}. */
extern const plot_script plot_scripts[];

/* One run's charts, as the dispatcher hands them to each family. */
typedef struct {
    pb_db *db;
    int64_t run;
    const char *dir;       /* output folder: exists and is writable */
    const char *model;     /* the model file's name, no quote or newline (titles) */
    const char *drawn[16]; /* charts named on plot's summary line, in order */
    int n_drawn;
} plot_job;

/* The chart families. Each draws what the job's run has data for and
 * returns the number of PNGs drawn; plot_probes and plot_convert name
 * theirs in job->drawn, plot_suite_charts prints "plot: PATH" per PNG. */
int plot_probes(plot_job *job);
int plot_convert(plot_job *job);
int plot_suite_charts(plot_job *job);
/* The layer-level throughput charts (plot_layer.c). */
int plot_layer(plot_job *job);
/* The roofline of a run with hardware counters (roofline_plot.c). */
int plot_roofline(plot_job *job);
/* The history charts of suite (every run of it in db, in run order, against
 * its commit: plot_history.c) in dir; prints "plot: PATH" per PNG and
 * returns how many it drew (0: the suite has no runs). */
int plot_history(pb_db *db, const char *suite, const char *dir);

/* snprintf into out[n] that treats truncation as a runtime error (paths, titles). */
__attribute__((format(printf, 3, 4))) void plot_fmt(char *out, size_t n, const char *f, ...);
/* out = "DIR/FILE" (out[n]; truncation a runtime error). */
void plot_path(char *out, size_t n, const char *dir, const char *file);
/* Opens DIR/FILE for writing, its path in path[n]; failing is a runtime error. */
FILE *plot_open(const char *dir, const char *file, char *path, size_t n);

/* Runs sql (?1 = case_id and, where the query has it, ?2 = case2; or
 * whatever ids the query keys on) and writes its rows, tab-separated under
 * a '#' header of column names, to DIR/file, NaN for NULL. With group >= 0,
 * `blank` empty lines go between rows whose column `group` differs
 * (gnuplot: one blank line breaks a curve, two start a new index). Returns
 * the number of rows. */
int plot_dump(pb_db *db, const char *dir, const char *file, const char *sql, int64_t case_id, int64_t case2,
              int group, int blank);

/* The gnuplot runner. Writes DIR/SCRIPT.gp (the output format's lines, then
 * with vars: a comment line and vars; then the embedded plots/SCRIPT.gp)
 * and runs gnuplot on it in DIR twice, stdout discarded: `gnuplot
 * SCRIPT.gp`, or with args (NULL-terminated, at most 12, names relative to
 * DIR) `gnuplot -c SCRIPT.gp ARGS...`, for the PNG; then the same with
 * `-e purbo_svg=1` for the SVG beside it (NAME.svg for NAME.png: a scalable
 * copy for papers). The scripts set `terminal @purbo_term` and `output
 * purbo_out(NAME.png)`. Returns 1 when DIR/png (png NULL: DIR/SCRIPT.png)
 * came out non-empty (its SVG missing then is a runtime error), else 0. */
int plot_gnuplot(const char *dir, const char *script, const char *vars, const char *const *args, const char *png);

/* ---- the palette (plot_palette.c) ----------------------------------------- */

typedef struct {
    const char *name;  /* a suite method, or an attention kernel implementation */
    const char *rgb;   /* "#rrggbb", of a colour-blind-safe scheme */
    int pt;            /* gnuplot point type (pngcairo: 1..15) */
    const char *words; /* the legend: "NAME: what it is in words" (no double quote) */
} plot_style;

/* The fixed styles, then {NULL, NULL, 0}: no two share a colour or a point type. */
extern const plot_style plot_palette[];

/* The style of name: its entry of plot_palette, or for any other name a
 * colour of a spare list (none of them a fixed one) and a spare point type,
 * both picked by a hash of the name, so the same everywhere, and the name
 * itself as its words. */
plot_style plot_style_of(const char *name);

/* Appends to out[n] the gnuplot line that gives linetype k (from 1) name's
 * colour and point type, and dash type dt when dt > 0:
 * "set linetype K lc rgb '#rrggbb' pt P [dt D]\n". */
void plot_linetype(char *out, size_t n, int k, const char *name, int dt);

/* plot_linetype for each space-separated word of names, k = 1, 2, ... (the
 * scripts draw their i-th block or column with linetype i), then the line
 * "array purbo_label[K] = [\"WORDS\", ...]": the legend titles, in words. */
void plot_linetypes(char *out, size_t n, const char *names);

#endif
