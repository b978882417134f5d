/* cmd_report.c — `purbo-bench report`: a suite run as plain tables, with the
 * statistics of its scores, from the results database alone (the plots of
 * a run: `purbo-bench plot`). */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "results/score_cells.h"
#include "suites/runner_db.h"

/* Parses --db, --run and --ref; opens the database. */
static pb_db *open_run(const char *cmd, int argc, char **argv, const char *usage, int64_t *run, const char **ref)
{
    arg_results ro = {.db = ARG_DB_DEFAULT, .run = "last", .takes_run = 1};
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_results_opt(cmd, argc, argv, &i, &ro)) continue;
        if ((v = arg_val(cmd, argc, argv, &i, "--ref"))) {
            *ref = v;
            continue;
        }
        if (arg_flag(argv, i, "--help")) {
            printf("%s", usage);
            exit(0);
        }
        arg_bad(cmd, "unknown option %s", argv[i]);
    }
    pb_err err;
    pb_db *db = suite_db_open_existing(ro.db, &err);
    if (!db || !(*run = suite_run_id(db, ro.run, &err))) pb_die_input(&err);
    if (*ref && !score_has_method(db, *run, *ref)) {
        pb_errf(&err, "--ref", -1, "no method '%s' among the accuracy cases of run %lld", *ref, (long long)*run);
        pb_die_input(&err);
    }
    return db;
}

int cmd_report(int argc, char **argv)
{
    int64_t run;
    const char *ref = NULL;
    pb_db *db = open_run("report", argc, argv,
                         "usage: purbo-bench report [--run R] [--db D] [--ref M]\n"
                         "  Prints a suite run as plain tables: score (x100) and attention density per\n"
                         "  task (rows) and method (columns); per (task, length, method) the cases, the\n"
                         "  mean score with its 95% interval and the paired difference to the reference\n"
                         "  method on the same cases (interval; exact McNemar p for pass/fail tasks);\n"
                         "  then its throughput cases.\n"
                         "  --run R   run id, or 'last' (default): the newest run with suite results\n"
                         "  --db D    results database (default out/results.db)\n"
                         "  --ref M   the reference method of the differences (default dense)\n",
                         &run, &ref);
    runner_report(db, run, ref, stdout);
    db_close(db);
    return 0;
}
