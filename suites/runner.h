/* runner.h — `purbo-bench run`: runs a suite file's cases with its methods
 * and stores every (case, method) in the results database.
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
 * --shard i/n runs only the pairs shard.h's plan gives shard i (the plan
 * is over the pairs --only and --methods select); the shard's run has the
 * same config and records i/n, and --resume continues the newest run of
 * the same config and shard. `merge` joins the shards into one run.
 * Reading a run back (report, compare) is runner_db.h's, below this one.
 */
#ifndef PURBO_RUNNER_H
#define PURBO_RUNNER_H

#include <stdint.h>

#include "results/db.h"
#include "suites/runner_progress.h"

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
    int counters;            /* cuda: hardware counters per kernel of every throughput case */
    int shard_index, shard_count; /* run only shard i of n of the pairs (shard.h); count 0: all */
} runner_opts;

/* Exit status 130 of a run stopped by SIGINT or SIGTERM. */
#define RUNNER_INTERRUPTED 130

/* Runs the suite. Returns the exit status: 0 done, 1 done but some pairs
 * failed (a peer or a kernel refused; the run is marked failed), 2 bad input (*err filled,
 * nothing written), RUNNER_INTERRUPTED; runtime failures exit 1 inside.
 * *run gets the run id (0 when none was started). */
int runner_run(const runner_opts *o, int64_t *run, pb_err *err);

#endif
