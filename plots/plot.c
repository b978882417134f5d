/* plot.c — `purbo-bench plot --db D [--run R] --out DIR`: the dispatcher of
 * the chart families. Finds the run, makes DIR, and runs each family of
 * CHARTS on it in order: the probe charts (probe_plot.c), the suite charts
 * (plot_suite.c) and a conversion's curves and indexer quality
 * (convert_plot.c), all drawn with gnuplot (pngcairo) through the toolkit
 * of plot_kit.h. Reads only the database.
 *
 * Only this file runs the families; they include the toolkit's header
 * alone, never this file or each other. A new family is a file with one
 * entry point (declared in plot_kit.h) and a row of CHARTS.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "results/db.h"
#include "plots/plot_kit.h"

/* The families in drawing order; each skips what the run has no data for. */
static int (*const CHARTS[])(plot_job *) = {plot_probes, plot_suite_charts, plot_layer, plot_convert, plot_roofline};

/* Draws run (0: the newest with results) into out; returns the PNG count. */
static int plot_one(pb_db *db, const char *db_path, long long run, const char *out)
{
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st;
#define SUITE_ROWS "(SELECT count(*) FROM suite_cases s WHERE s.run_id = r.id)" \
                   " + (SELECT count(*) FROM suite_bench s WHERE s.run_id = r.id)" \
                   " + (SELECT count(*) FROM hw_ceilings s WHERE s.run_id = r.id)"
    DB_CHECK(h, sqlite3_prepare_v2(h, run ? "SELECT r.id, r.model_path, (SELECT count(*) FROM probe_case c"
                                            " WHERE c.run_id = r.id) + (SELECT count(*) FROM convert_quality q"
                                            " WHERE q.run_id = r.id), " SUITE_ROWS " FROM runs r WHERE r.id = ?1"
                                          : "SELECT r.id, r.model_path, 1, " SUITE_ROWS " FROM runs r WHERE r.id ="
                                            " (SELECT max(run_id) FROM (SELECT run_id FROM probe_case UNION ALL"
                                            " SELECT run_id FROM convert_quality UNION ALL"
                                            " SELECT run_id FROM suite_cases UNION ALL SELECT run_id FROM suite_bench"
                                            " UNION ALL SELECT run_id FROM hw_ceilings))",
                                   -1, &st, NULL));
    if (run) DB_CHECK(h, sqlite3_bind_int64(st, 1, run));
    char model[256] = "(no model)";
    int n_cases = 0, n_suite = 0;
    if (DB_CHECK(h, sqlite3_step(st)) == SQLITE_ROW) {
        run = sqlite3_column_int64(st, 0);
        const char *mp = (const char *)sqlite3_column_text(st, 1);
        if (mp) snprintf(model, sizeof model, "%s", strrchr(mp, '/') ? strrchr(mp, '/') + 1 : mp);
        n_cases = sqlite3_column_int(st, 2);
        n_suite = sqlite3_column_int(st, 3);
    }
    DB_CHECK(h, sqlite3_finalize(st));
    for (char *p = model; *p; p++)
        if (*p == '\'' || *p == '\n') *p = ' ';
    if (!run) arg_bad("plot", "%s: no run has probe, conversion or suite results", db_path);
    if (!n_cases && !n_suite)
        arg_bad("plot", "%s: run %lld has no probe, conversion or suite results", db_path, run);
    if (pb_mkdir_p(out) != 0) arg_bad("plot", "%s: cannot create: %s", out, strerror(errno));
    if (access(out, W_OK) != 0) arg_bad("plot", "%s: not writable: %s", out, strerror(errno));

    plot_job job = {.db = db, .run = run, .dir = out, .model = model};
    int n_png = 0;
    for (size_t k = 0; k < sizeof CHARTS / sizeof CHARTS[0]; k++) n_png += CHARTS[k](&job);
    printf("run %lld (%s): %d plots in %s:", run, model, n_png, out);
    for (int k = 0; k < job.n_drawn; k++) printf(" %s.png", job.drawn[k]);
    if (n_png > job.n_drawn) printf(" (suite plots listed above)");
    printf("\n");
    return n_png;
}

int cmd_plot(int argc, char **argv)
{
    const char *out = NULL, *suite = NULL;
    int history = 0, all = 0;
    arg_results ro = {.db = ARG_DB_DEFAULT, .takes_run = 1};
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_results_opt("plot", argc, argv, &i, &ro)) continue;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench plot --out DIR [--db PATH] [--run R]\n"
                   "       purbo-bench plot --history [--suite S] --out DIR [--db PATH]\n"
                   "       purbo-bench plot --all --out DIR [--db PATH]\n"
                   "  Draws the probe, conversion and suite results of run R as PNGs in DIR\n"
                   "  (gnuplot, pngcairo), with the data files and gnuplot scripts beside them.\n"
                   "  --history   every run of suite S in the database, in run order, against the\n"
                   "              commit each ran: mean score and geometric mean throughput per\n"
                   "              method (history_score.png, history_throughput.png)\n"
                   "  --all       every run with results, oldest first, into DIR (a later run's chart\n"
                   "              replaces an earlier one of the same name)\n"
                   "  --suite S   the suite of --history (default: that of the newest suite run)\n"
                   "  --db PATH   results database (default out/results.db)\n"
                   "  --run R     run id (default: the latest run with probe, conversion or suite results)\n"
                   "  --out DIR   output folder (created if missing)\n");
            return 0;
        } else if ((v = arg_val("plot", argc, argv, &i, "--out"))) out = v;
        else if ((v = arg_val("plot", argc, argv, &i, "--suite"))) suite = v;
        else if (arg_flag(argv, i, "--history")) history = 1;
        else if (arg_flag(argv, i, "--all")) all = 1;
        else arg_bad("plot", "unknown option %s", argv[i]);
    }
    const char *db_path = ro.db;
    long long run = ro.run ? arg_long("plot", "--run", ro.run, 1, (1L << 62)) : 0;
    if (!out) arg_bad("plot", "--out DIR is required");
    if (access(db_path, F_OK) != 0) arg_bad("plot", "%s: %s", db_path, strerror(errno));
    pb_err err;
    pb_db *db = db_open_ro(db_path, &err); /* plot only reads */
    if (!db) pb_die_input(&err);
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st;
    if (suite && !history) arg_bad("plot", "--suite goes with --history");
    if (history) {
        if (ro.run) arg_bad("plot", "--history draws every run of a suite: no --run");
        char name[256] = "";
        DB_CHECK(h, sqlite3_prepare_v2(h, "SELECT suite FROM (SELECT run_id, suite FROM suite_cases UNION ALL"
                                          " SELECT run_id, suite FROM suite_bench) WHERE ?1 IS NULL OR suite = ?1"
                                          " ORDER BY run_id DESC LIMIT 1", -1, &st, NULL));
        DB_CHECK(h, sqlite3_bind_text(st, 1, suite, -1, SQLITE_STATIC));
        if (DB_CHECK(h, sqlite3_step(st)) == SQLITE_ROW)
            snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(st, 0));
        DB_CHECK(h, sqlite3_finalize(st));
        if (!*name) {
            if (suite) arg_bad("plot", "%s: no run of suite '%s'", db_path, suite);
            arg_bad("plot", "%s: no suite runs", db_path);
        }
        if (pb_mkdir_p(out) != 0) arg_bad("plot", "%s: cannot create: %s", out, strerror(errno));
        int n_png = plot_history(db, name, out);
        db_close(db);
        printf("suite %s: %d history plots in %s\n", name, n_png, out);
        return n_png ? 0 : 1;
    }
    if (all) {
        if (ro.run) arg_bad("plot", "--all draws every run: no --run");
        long long ids[4096];
        int n = 0, n_png = 0;
        DB_CHECK(h, sqlite3_prepare_v2(h, "SELECT DISTINCT run_id FROM (SELECT run_id FROM probe_case UNION ALL"
                                          " SELECT run_id FROM convert_quality UNION ALL SELECT run_id FROM suite_cases"
                                          " UNION ALL SELECT run_id FROM suite_bench) ORDER BY run_id", -1, &st, NULL));
        while (DB_CHECK(h, sqlite3_step(st)) == SQLITE_ROW && n < 4096) ids[n++] = sqlite3_column_int64(st, 0);
        DB_CHECK(h, sqlite3_finalize(st));
        if (!n) arg_bad("plot", "%s: no run has probe, conversion or suite results", db_path);
        for (int i = 0; i < n; i++) n_png += plot_one(db, db_path, ids[i], out);
        db_close(db);
        return n_png ? 0 : 1;
    }
    int n_png = plot_one(db, db_path, run, out);
    db_close(db);
    return n_png ? 0 : 1;
}
