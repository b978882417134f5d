/* plot.c — `purbo-bench plot --db D [--run R] --out DIR`: draws a run's
 * probe results, a conversion's curves and indexer quality
 * (plots/convert_plot.c) and its suite results through plot_suite
 * (plot_suite.h), as PNGs with gnuplot (pngcairo).
 *
 * Reads only the database. For each probe present in the run (its latest
 * case) it writes the data files of its plots into DIR from SQL queries,
 * writes each gnuplot script there (the embedded plots/NAME.gp behind a few
 * variable lines: run, model, context, ...), and runs gnuplot in DIR. DIR
 * then holds NAME.dat, NAME.gp and NAME.png side by side: `gnuplot NAME.gp`
 * in DIR redraws a plot by hand.
 *
 * Quantiles in the SQL are nearest-rank (the value at row 1 + floor(q (n-1))
 * in order), medians the lower middle.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "results/db.h"
#include "plots/plot.h"
#include "plots/plot_suite.h"

typedef struct {
    int64_t id;
    int n_ctx, n_windows, n_layer, n_head, head_dim;
} pcase;

static int find_case(pb_db *db, int64_t run, const char *probe, pcase *c)
{
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st;
    DB_CHECK(h, sqlite3_prepare_v2(h, "SELECT id, n_ctx, n_windows, n_layer, n_head, head_dim FROM probe_case"
                                      " WHERE run_id = ? AND probe = ? ORDER BY id DESC LIMIT 1", -1, &st, NULL));
    DB_CHECK(h, sqlite3_bind_int64(st, 1, run));
    DB_CHECK(h, sqlite3_bind_text(st, 2, probe, -1, SQLITE_STATIC));
    int found = DB_CHECK(h, sqlite3_step(st)) == SQLITE_ROW;
    if (found) {
        c->id = sqlite3_column_int64(st, 0);
        c->n_ctx = sqlite3_column_int(st, 1);
        c->n_windows = sqlite3_column_int(st, 2);
        c->n_layer = sqlite3_column_int(st, 3);
        c->n_head = sqlite3_column_int(st, 4);
        c->head_dim = sqlite3_column_int(st, 5);
    }
    DB_CHECK(h, sqlite3_finalize(st));
    return found;
}

/* Runs sql (?1, ?2 = case ids) and writes its rows, tab-separated, to DIR/file.
 * With group >= 0, `blank` empty lines go between rows whose column group
 * differs (gnuplot: one blank line breaks a curve, two start a new index).
 * Returns the number of rows. */
int plot_dump(pb_db *db, const char *dir, const char *file, const char *sql, int64_t case_id, int64_t case2,
              int group, int blank)
{
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st;
    DB_CHECK(h, sqlite3_prepare_v2(h, sql, -1, &st, NULL));
    DB_CHECK(h, sqlite3_bind_int64(st, 1, case_id));
    if (sqlite3_bind_parameter_count(st) >= 2) DB_CHECK(h, sqlite3_bind_int64(st, 2, case2));
    char path[4096], prev[128] = "";
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    PB_CHECK(f, "%s: %s", path, strerror(errno));
    int n = 0, nc = sqlite3_column_count(st);
    fprintf(f, "#");
    for (int c = 0; c < nc; c++) fprintf(f, " %s", sqlite3_column_name(st, c));
    fprintf(f, "\n");
    while (DB_CHECK(h, sqlite3_step(st)) == SQLITE_ROW) {
        if (group >= 0) {
            const char *g = (const char *)sqlite3_column_text(st, group);
            if (n > 0 && strcmp(prev, g ? g : "") != 0)
                for (int b = 0; b < blank; b++) fputc('\n', f);
            snprintf(prev, sizeof prev, "%s", g ? g : "");
        }
        for (int c = 0; c < nc; c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            fprintf(f, "%s%s", c ? "\t" : "", v ? v : "NaN");
        }
        fputc('\n', f);
        n++;
    }
    DB_CHECK(h, sqlite3_finalize(st));
    PB_CHECK(fclose(f) == 0, "%s: %s", path, strerror(errno));
    return n;
}

/* Writes DIR/name.gp (vars, then the embedded script) and runs gnuplot on
 * it in DIR; returns 1 when DIR/name.png came out non-empty. */
int plot_draw(const char *dir, const char *name, const char *vars)
{
    const plot_script *s = plot_scripts;
    while (s->name && strcmp(s->name, name)) s++;
    PB_CHECK(s->name, "no embedded plot script %s.gp", name);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.gp", dir, name);
    FILE *f = fopen(path, "w");
    PB_CHECK(f, "%s: %s", path, strerror(errno));
    fprintf(f, "# written by purbo-bench plot: the variables, then plots/%s.gp\n%s\n%s", name, vars, s->text);
    PB_CHECK(fclose(f) == 0, "%s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/%s.png", dir, name);
    unlink(path);
    fflush(NULL);
    pid_t pid = fork();
    PB_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        char script[300];
        snprintf(script, sizeof script, "%s.gp", name);
        if (chdir(dir) != 0) _exit(126);
        if (!freopen("/dev/null", "w", stdout)) _exit(126);
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int st;
    PB_CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    PB_CHECK(!(WIFEXITED(st) && WEXITSTATUS(st) == 127),
             "gnuplot not found (Debian package gnuplot-nox; make deps installs it)");
    PB_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "gnuplot failed on %s/%s.gp", dir, name);
    struct stat sb;
    return stat(path, &sb) == 0 && sb.st_size > 0;
}

static const char *SQL_LOC_HEADS =
    "SELECT head, layer, w90, w95 FROM probe_locality_head WHERE case_id = ?1 ORDER BY layer, head";
static const char *SQL_LOC_CDF =
    "SELECT w.window AS W, avg(h.w90 <= w.window) AS frac90, avg(h.w95 <= w.window) AS frac95"
    " FROM (SELECT DISTINCT window FROM probe_locality WHERE case_id = ?1) AS w, probe_locality_head AS h"
    " WHERE h.case_id = ?1 GROUP BY w.window ORDER BY w.window";
static const char *SQL_LOC_MASS =
    "SELECT layer * 1000 + head AS head_id, window AS W, mass, layer FROM probe_locality WHERE case_id = ?1"
    " ORDER BY layer, head, window";
static const char *SQL_RETRIEVAL =
    "SELECT rank, score, score_next, layer, head FROM probe_retrieval WHERE case_id = ?1 ORDER BY rank";
#define QUANTILES(col, k)                                                                  \
    "max(CASE WHEN " k " = 1 + (n - 1) / 2 THEN " col " END) AS " col "_median,"           \
    " max(CASE WHEN " k " = 1 + CAST(0.1 * (n - 1) AS INT) THEN " col " END) AS " col "_p10," \
    " max(CASE WHEN " k " = 1 + CAST(0.9 * (n - 1) AS INT) THEN " col " END) AS " col "_p90"
/* per (method, r), quantiles over the heads of `src` */
#define RANK_QUANTILES(src)                                                                  \
    "WITH t AS (SELECT method, r, recall, mass_recall, ev,"                                  \
    " row_number() OVER (PARTITION BY method, r ORDER BY recall) AS kr,"                     \
    " row_number() OVER (PARTITION BY method, r ORDER BY mass_recall) AS km,"                \
    " row_number() OVER (PARTITION BY method, r ORDER BY ev) AS ke,"                         \
    " count(*) OVER (PARTITION BY method, r) AS n FROM " src ")"                             \
    " SELECT method, r, " QUANTILES("recall", "kr") ", " QUANTILES("mass_recall", "km") ", " \
    QUANTILES("ev", "ke") " FROM t GROUP BY method, r ORDER BY method, r"
static const char *SQL_RANK = RANK_QUANTILES("probe_rank WHERE case_id = ?1");
/* the joint method on the retrieval heads: the top 15% by score of case ?2 */
static const char *SQL_RANK_RET = RANK_QUANTILES(
    "(SELECT p.* FROM probe_rank p JOIN probe_retrieval q ON q.layer = p.layer AND q.head = p.head"
    " WHERE p.case_id = ?1 AND p.method = 'joint' AND q.case_id = ?2 AND q.rank <="
    " (SELECT CAST(0.15 * count(*) + 0.5 AS INT) FROM probe_retrieval WHERE case_id = ?2))");
static const char *SQL_DEMAND_CDF =
    "SELECT p, needed, CAST(sum(count) OVER (PARTITION BY p ORDER BY needed) AS REAL)"
    " / sum(count) OVER (PARTITION BY p) AS cumulative FROM probe_demand_hist"
    " WHERE case_id = ?1 AND unit = '%s' AND ctx_len = (SELECT max(ctx_len) FROM probe_demand_hist"
    " WHERE case_id = ?1) ORDER BY p, needed";
static const char *SQL_DEMAND_CTX =
    "SELECT p, ctx_len, v_median, v_p10, v_p90 FROM probe_demand WHERE case_id = ?1 AND layer IS NULL"
    " AND unit = 'token' ORDER BY p, ctx_len";

/* The gnuplot variable lines of a case. */
static void vars_of(char *out, size_t cap, int64_t run, const char *model, const pcase *c)
{
    snprintf(out, cap, "run = %lld\nmodel = '%s'\nctx = %d\nwindows = %d\nnlayer = %d\nnhead = %d\nhead_dim = %d\n",
             (long long)run, model, c->n_ctx, c->n_windows, c->n_layer, c->n_head, c->head_dim);
}

int cmd_plot(int argc, char **argv)
{
    const char *out = NULL;
    arg_results ro = {.db = ARG_DB_DEFAULT, .takes_run = 1};
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_results_opt("plot", argc, argv, &i, &ro)) continue;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench plot --out DIR [--db PATH] [--run R]\n"
                   "  Draws the probe, conversion and suite results of run R as PNGs in DIR\n"
                   "  (gnuplot, pngcairo), with the data files and gnuplot scripts beside them.\n"
                   "  --db PATH   results database (default out/results.db)\n"
                   "  --run R     run id (default: the latest run with probe, conversion or suite results)\n"
                   "  --out DIR   output folder (created if missing)\n");
            return 0;
        } else if ((v = arg_val("plot", argc, argv, &i, "--out"))) out = v;
        else arg_bad("plot", "unknown option %s", argv[i]);
    }
    const char *db_path = ro.db;
    long long run = ro.run ? arg_long("plot", "--run", ro.run, 1, (1L << 62)) : 0;
    if (!out) arg_bad("plot", "--out DIR is required");
    if (access(db_path, F_OK) != 0) arg_bad("plot", "%s: %s", db_path, strerror(errno));
    pb_err err;
    pb_db *db = db_open(db_path, &err);
    if (!db) pb_die_input(&err);
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st;
#define SUITE_ROWS "(SELECT count(*) FROM suite_cases s WHERE s.run_id = r.id)" \
                   " + (SELECT count(*) FROM suite_bench s WHERE s.run_id = r.id)"
    DB_CHECK(h, sqlite3_prepare_v2(h, run ? "SELECT r.id, r.model_path, (SELECT count(*) FROM probe_case c"
                                            " WHERE c.run_id = r.id) + (SELECT count(*) FROM convert_quality q"
                                            " WHERE q.run_id = r.id), " SUITE_ROWS " FROM runs r WHERE r.id = ?1"
                                          : "SELECT r.id, r.model_path, 1, " SUITE_ROWS " FROM runs r WHERE r.id ="
                                            " (SELECT max(run_id) FROM (SELECT run_id FROM probe_case UNION ALL"
                                            " SELECT run_id FROM convert_quality UNION ALL"
                                            " SELECT run_id FROM suite_cases UNION ALL SELECT run_id FROM suite_bench))",
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

    char vars[1024], sql[1024];
    const char *drawn[16];
    int n_drawn = 0;
    pcase c;
    if (find_case(db, run, "locality", &c)) {
        vars_of(vars, sizeof vars, run, model, &c);
        plot_dump(db, out, "locality_heads.dat", SQL_LOC_HEADS, c.id, 0, 1, 1);
        plot_dump(db, out, "locality_cdf.dat", SQL_LOC_CDF, c.id, 0, -1, 0);
        plot_dump(db, out, "locality_mass.dat", SQL_LOC_MASS, c.id, 0, 0, 1);
        const char *names[] = {"locality", "locality_cdf", "locality_mass"};
        for (int k = 0; k < 3; k++)
            if (plot_draw(out, names[k], vars)) drawn[n_drawn++] = names[k];
    }
    if (find_case(db, run, "retrieval", &c)) {
        vars_of(vars, sizeof vars, run, model, &c);
        plot_dump(db, out, "retrieval.dat", SQL_RETRIEVAL, c.id, 0, -1, 0);
        if (plot_draw(out, "retrieval", vars)) drawn[n_drawn++] = "retrieval";
    }
    pcase rc;
    if (find_case(db, run, "rank", &c)) {
        vars_of(vars, sizeof vars, run, model, &c);
        plot_dump(db, out, "rank.dat", SQL_RANK, c.id, 0, 0, 2);
        int has_ret = find_case(db, run, "retrieval", &rc) &&
                      plot_dump(db, out, "rank_retrieval.dat", SQL_RANK_RET, c.id, rc.id, 0, 2) > 0;
        snprintf(vars + strlen(vars), sizeof vars - strlen(vars), "has_ret = %d\n", has_ret);
        if (plot_draw(out, "rank", vars)) drawn[n_drawn++] = "rank";
    }
    if (find_case(db, run, "demand", &c)) {
        vars_of(vars, sizeof vars, run, model, &c);
        snprintf(vars + strlen(vars), sizeof vars - strlen(vars), "dlen = %d\nnheads = %d\n", c.n_ctx,
                 c.n_layer * c.n_head);
        snprintf(sql, sizeof sql, SQL_DEMAND_CDF, "token");
        plot_dump(db, out, "demand_cdf_token.dat", sql, c.id, 0, 0, 2);
        snprintf(sql, sizeof sql, SQL_DEMAND_CDF, "block");
        plot_dump(db, out, "demand_cdf_block.dat", sql, c.id, 0, 0, 2);
        plot_dump(db, out, "demand_ctx.dat", SQL_DEMAND_CTX, c.id, 0, 0, 2);
        if (plot_draw(out, "demand_cdf", vars)) drawn[n_drawn++] = "demand_cdf";
        if (plot_draw(out, "demand_ctx", vars)) drawn[n_drawn++] = "demand_ctx";
    }
    int n_suite_png = n_suite ? plot_suite(db, run, out, &err) : 0;
    plot_convert(db, run, out, model, drawn, &n_drawn);
    db_close(db);
    if (n_suite_png < 0) pb_die_input(&err);
    printf("run %lld (%s): %d plots in %s:", run, model, n_drawn + n_suite_png, out);
    for (int k = 0; k < n_drawn; k++) printf(" %s.png", drawn[k]);
    if (n_suite_png) printf(" (suite plots listed above)");
    printf("\n");
    return n_drawn + n_suite_png ? 0 : 1;
}
