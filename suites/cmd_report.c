/* cmd_report.c — `purbo-bench report`: a suite run as plain tables, from the
 * results database alone (the plots of a run: `purbo-bench plot`). */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "suites/runner_db.h"

/* Parses --db and --run; opens the database. */
static pb_db *open_run(const char *cmd, int argc, char **argv, const char *usage, int64_t *run)
{
    arg_results ro = {.db = ARG_DB_DEFAULT, .run = "last", .takes_run = 1};
    for (int i = 1; i < argc; i++) {
        if (arg_results_opt(cmd, argc, argv, &i, &ro)) continue;
        if (arg_flag(argv, i, "--help")) {
            printf("%s", usage);
            exit(0);
        }
        arg_bad(cmd, "unknown option %s", argv[i]);
    }
    pb_err err;
    pb_db *db = suite_db_open_existing(ro.db, &err);
    if (!db || !(*run = suite_run_id(db, ro.run, &err))) pb_die_input(&err);
    return db;
}

int cmd_report(int argc, char **argv)
{
    int64_t run;
    pb_db *db = open_run("report", argc, argv,
                         "usage: purbo-bench report [--run R] [--db D]\n"
                         "  Prints a suite run as plain tables: score (x100) and attention density per\n"
                         "  task (rows) and method (columns), then its throughput cases.\n"
                         "  --run R   run id, or 'last' (default): the newest run with suite results\n"
                         "  --db D    results database (default out/results.db)\n",
                         &run);
    runner_report(db, run, stdout);
    db_close(db);
    return 0;
}
