/* cmd_report.c — `purbo-bench report` and `purbo-bench plot-suite`: the two
 * read-only views of a suite run, from the results database alone. */
#include <string.h>

#include "args.h"
#include "cli.h"
#include "plot_suite.h"
#include "runner.h"

/* Parses --db, --run and (plot-suite) --out; opens the database. */
static pb_db *open_run(const char *cmd, int argc, char **argv, const char *usage, const char **out,
                       int64_t *run)
{
    const char *db_path = "out/results.db", *run_arg = "last";
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_flag(argv, i, "--help")) {
            printf("%s", usage);
            exit(0);
        } else if ((v = arg_val(cmd, argc, argv, &i, "--db"))) db_path = v;
        else if ((v = arg_val(cmd, argc, argv, &i, "--run"))) run_arg = v;
        else if (out && (v = arg_val(cmd, argc, argv, &i, "--out"))) *out = v;
        else arg_bad(cmd, "unknown option %s", argv[i]);
    }
    pb_err err;
    pb_db *db = suite_db_open_existing(db_path, &err);
    if (!db || !(*run = suite_run_id(db, run_arg, &err))) pb_die_input(&err);
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
                         NULL, &run);
    runner_report(db, run, stdout);
    db_close(db);
    return 0;
}

int cmd_plot_suite(int argc, char **argv)
{
    int64_t run;
    const char *out = "out/plots";
    pb_db *db = open_run("plot-suite", argc, argv,
                         "usage: purbo-bench plot-suite [--run R] [--db D] [--out DIR]\n"
                         "  Draws a suite run's plots (gnuplot, PNG): NIAH heatmaps, scores per task and\n"
                         "  method, score vs density, throughput and speedup vs context length.\n"
                         "  --run R    run id, or 'last' (default)\n"
                         "  --db D     results database (default out/results.db)\n"
                         "  --out DIR  folder for the PNGs and their data (default out/plots)\n",
                         &out, &run);
    pb_err err;
    int n = plot_suite(db, run, out, &err);
    db_close(db);
    if (n < 0) pb_die_input(&err);
    if (n == 0) printf("run %lld has nothing to plot\n", (long long)run);
    return 0;
}
