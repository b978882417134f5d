/* plot_history.c — the history charts: a metric of every run of one suite
 * in the database, in run order, against the commit each ran (runs.git_sha),
 * one line per method (plot_kit.h):
 *   history_score.png       mean score (x100) over the method's accuracy cases
 *   history_throughput.png  geometric mean throughput over its throughput
 *                           cases (tok/s; one unit per chart: the cases of
 *                           the suite's first unit only)
 * A run that lacks a method leaves a gap in that method's line (NaN).
 * Invariants: reads the database only; each chart's data file
 * (history_*.dat) and script lie beside its PNG.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "plots/plot_kit.h"

#define MAX_RUNS 512
#define MAX_METHODS 32

typedef struct {
    int64_t run[MAX_RUNS];
    char sha[MAX_RUNS][16];
    int n_run;
    char method[MAX_METHODS][64];
    int n_method;
    double sum[MAX_METHODS][MAX_RUNS];
    int cnt[MAX_METHODS][MAX_RUNS];
} hist;

static int run_slot(hist *h, int64_t run, const char *sha, int dirty)
{
    for (int i = 0; i < h->n_run; i++)
        if (h->run[i] == run) return i;
    if (h->n_run == MAX_RUNS) return -1;
    h->run[h->n_run] = run;
    snprintf(h->sha[h->n_run], sizeof h->sha[0], "%.8s%s", sha, dirty == 1 ? "*" : "");
    return h->n_run++;
}

static int method_slot(hist *h, const char *m)
{
    for (int i = 0; i < h->n_method; i++)
        if (!strcmp(h->method[i], m)) return i;
    if (h->n_method == MAX_METHODS) return -1;
    snprintf(h->method[h->n_method], sizeof h->method[0], "%s", m);
    return h->n_method++;
}

/* Fills h from sql (?1 = suite; rows: run, sha, dirty, method, value, ordered
 * by run); logs: average the logarithms (a geometric mean). */
static void collect(pb_db *db, const char *sql, const char *suite, int logs, hist *h)
{
    sqlite3_stmt *st = db_prepare(db, sql);
    db_bind_text(st, 1, suite);
    while (db_step(st) == SQLITE_ROW) {
        double v = sqlite3_column_double(st, 4);
        if (logs && !(v > 0)) continue;
        int r = run_slot(h, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                         sqlite3_column_int(st, 2));
        int m = method_slot(h, (const char *)sqlite3_column_text(st, 3));
        if (r < 0 || m < 0) continue;
        h->sum[m][r] += logs ? log(v) : v;
        h->cnt[m][r]++;
    }
    db_finalize(st);
}

/* Writes DIR/NAME.dat and draws DIR/NAME.png; returns 1 when drawn. */
static int draw(const hist *h, int logs, const char *dir, const char *name, const char *suite, const char *ylabel)
{
    if (!h->n_run) return 0;
    char file[300], path[4096], png[300], title[400], methods[MAX_METHODS * 66] = "", styles[8192] = "";
    plot_fmt(file, sizeof file, "%s.dat", name);
    plot_fmt(png, sizeof png, "%s.png", name);
    FILE *f = plot_open(dir, file, path, sizeof path);
    fprintf(f, "# %s: suite %s, %d runs (purbo-bench plot --history); per method: x commit value\n", name, suite,
            h->n_run);
    for (int m = 0; m < h->n_method; m++) {
        size_t l = strlen(methods);
        snprintf(methods + l, sizeof methods - l, "%s%s", m ? " " : "", h->method[m]);
        fprintf(f, "%s# %s\n", m ? "\n\n" : "", h->method[m]);
        for (int r = 0; r < h->n_run; r++) {
            double v = h->cnt[m][r] ? h->sum[m][r] / h->cnt[m][r] : NAN;
            if (logs && h->cnt[m][r]) v = exp(v);
            fprintf(f, "%d %s %.6g\n", r + 1, h->sha[r], v);
        }
    }
    PB_CHECK(fclose(f) == 0, "%s: %s", path, strerror(errno));
    plot_linetypes(styles, sizeof styles, methods);
    plot_fmt(title, sizeof title, "suite %s: %s over %d runs", suite, ylabel, h->n_run);
    const char *args[] = {file, png, title, methods, ylabel, NULL};
    if (!plot_gnuplot(dir, "history", styles, args, png)) return 0;
    printf("plot: %s/%s\n", dir, png);
    return 1;
}

int plot_history(pb_db *db, const char *suite, const char *dir)
{
    static hist h; /* large: one at a time */
    int n = 0;
    memset(&h, 0, sizeof h);
    collect(db,
            "SELECT r.id, r.git_sha, r.git_dirty, c.method, avg(c.score) * 100 FROM suite_cases c"
            " JOIN runs r ON r.id = c.run_id WHERE c.suite = ?1 GROUP BY r.id, c.method"
            " ORDER BY r.id, min(c.id)", suite, 0, &h);
    n += draw(&h, 0, dir, "history_score", suite, "mean score (x100)");
    memset(&h, 0, sizeof h);
    collect(db,
            "SELECT r.id, r.git_sha, r.git_dirty, s.method, b.throughput FROM suite_bench s"
            " JOIN bench b ON b.id = s.bench_id JOIN runs r ON r.id = s.run_id WHERE s.suite = ?1"
            " AND b.throughput_unit = (SELECT b2.throughput_unit FROM suite_bench s2 JOIN bench b2"
            " ON b2.id = s2.bench_id WHERE s2.suite = ?1 ORDER BY s2.bench_id LIMIT 1)"
            " ORDER BY r.id, s.bench_id", suite, 1, &h);
    char ylabel[64] = "geometric mean throughput";
    sqlite3_stmt *st = db_prepare(db, "SELECT b.throughput_unit FROM suite_bench s JOIN bench b ON b.id = s.bench_id"
                                      " WHERE s.suite = ?1 ORDER BY s.bench_id LIMIT 1");
    db_bind_text(st, 1, suite);
    if (db_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(ylabel, sizeof ylabel, "geometric mean throughput (%s)", sqlite3_column_text(st, 0));
    db_finalize(st);
    n += draw(&h, 1, dir, "history_throughput", suite, ylabel);
    return n;
}
