/* runner.h — `purbo-bench run`: runs a suite file's cases with its methods
 * and stores every (case, method) in the results database, plus the readers
 * that report, compare and plot use.
 *
 * A run validates everything before the first case (suite_load, the
 * requested tasks and methods, every selected method's policy, the model,
 * gen_check): bad input is one line "FILE:LINE:COL: what" in a pb_err and
 * exit status 2, with nothing written. Then each (case, method) is one
 * transaction in table suite_cases (accuracy tasks) or bench + suite_bench
 * (throughput tasks): a run that is killed loses only the case in progress.
 *
 * The run's config (runs.config) is the suite file's text plus the
 * overrides that change results (--model); --only and --methods select
 * cases of that same config. --resume reuses the latest run with the same
 * config hash (finished or not) and skips the (case, method) pairs it has
 * committed, so a run can be completed piecewise.
 */
#ifndef PURBO_RUNNER_H
#define PURBO_RUNNER_H

#include <stdint.h>
#include <stdio.h>

#include "results/db.h"

enum { RUNNER_PROGRESS_AUTO, RUNNER_PROGRESS_BAR, RUNNER_PROGRESS_LINES, RUNNER_PROGRESS_NONE };

typedef struct {
    const char *suite_path;  /* required */
    const char *db_path;     /* required; its folder must exist */
    const char *model;       /* overrides the suite's model, or NULL */
    const char *only;        /* comma-separated task names, or NULL: all */
    const char *methods;     /* comma-separated method names, or NULL: all */
    int resume;
    const char *command;     /* command line recorded in runs.command, or NULL */
    int progress;            /* RUNNER_PROGRESS_*: AUTO = a bar when stderr is a terminal */
    const char *backend;     /* "cpu", "cuda" or "auto" instead of the suite's, or NULL */
    const char *plots;       /* folder for the suite plots after the run, or NULL */
} runner_opts;

/* Exit status 130 of a run stopped by SIGINT or SIGTERM. */
#define RUNNER_INTERRUPTED 130

/* Runs the suite. Returns the exit status: 0 done, 2 bad input (*err filled,
 * nothing written), RUNNER_INTERRUPTED; runtime failures exit 1 inside.
 * *run gets the run id (0 when none was started). */
int runner_run(const runner_opts *o, int64_t *run, pb_err *err);

/* ---- reading results (runner_db.c) ---------------------------------------- */

/* Per (method, task) of a run's accuracy cases, in the order the run first
 * stored them. score: mean x 100 rounded to 2 decimals (score_aggregate);
 * density: mean over the cases that recorded one (has_density 0: none). */
typedef struct {
    char *method, *task, *task_type;
    int n;
    double score, density;
    int has_density;
} suite_agg;

int suite_aggs(pb_db *db, int64_t run, suite_agg **out);
void suite_aggs_free(suite_agg *a, int n);

/* Opens an existing results database (db_open would create a missing one):
 * NULL + *err "PATH: ..." when it does not exist or is unusable. */
pb_db *suite_db_open_existing(const char *path, pb_err *err);

/* The run id a user means by text: a positive integer, or "last" = the
 * newest run holding suite results. 0 + *err ("--run X: ...") when there is
 * no such run. */
int64_t suite_run_id(pb_db *db, const char *text, pb_err *err);

/* The plain table of a run (tasks x methods: scores x100, then density,
 * then throughput cases) on f. */
void runner_report(pb_db *db, int64_t run, FILE *f);

#endif
