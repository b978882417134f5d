/* plot_suite.c — the suite chart family: writes each suite chart's data from
 * the database and runs gnuplot on its script (plot_suite.h; the toolkit,
 * plot_kit.h).
 *
 * Data files are plain gnuplot input: blank-line-separated blocks
 * (`index` in the scripts) per method or series, NaN where a cell has no
 * data. The scripts are the embedded plots/suite_*.gp, written next to the
 * data and run there; they get their inputs as arguments (gnuplot -c SCRIPT
 * ARG1 ...): data file, PNG (both names in the folder), title, the block
 * labels (words) and tic labels. Ahead of a script that draws methods (or
 * kernel implementations) go the lines giving linetype i the palette's
 * style of the i-th one, so a method looks the same in every chart.
 */
#include "plots/plot_suite.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "plots/plot_kit.h"
#include "results/score_cells.h"

typedef struct {
    pb_db *db;
    sqlite3 *h;
    int64_t run;
    const char *dir;
    char suite[128];
    int n_png;
} ctx;

static const char *col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

/* Appends " word" (or the first word) to a growing list of at most n bytes. */
static void add_word(char *list, size_t n, const char *w)
{
    size_t l = strlen(list);
    snprintf(list + l, n - l, "%s%s", l ? " " : "", w);
}

/* Opens the data file NAME.dat in the output folder, its name there in
 * file[n] (the scripts' ARG1) and its path in path[PATH_MAX]. */
static FILE *open_data(ctx *c, const char *name, char *file, size_t n, char *path)
{
    plot_fmt(file, n, "%s.dat", name);
    FILE *f = plot_open(c->dir, file, path, PATH_MAX);
    fprintf(f, "# %s: suite %s, run %lld (purbo-bench plot)\n", name, c->suite, (long long)c->run);
    return f;
}

/* Runs the embedded plots/SCRIPT.gp with args (NULL-terminated; args[1] is
 * the PNG's name in the folder) behind the lines vars (or none), and prints
 * "plot: PATH" for the PNG. */
static void draw(ctx *c, const char *script, const char *vars, const char *const *args)
{
    if (!plot_gnuplot(c->dir, script, vars, args, args[1])) return;
    printf("plot: %s/%s\n", c->dir, args[1]);
    c->n_png++;
}

/* ---- NIAH heatmaps -------------------------------------------------------- */

/* The distinct values of a suite_cases column for the task (sql selects
 * them, ?1 the run, ?2 the task), at most 64, and their gnuplot tics
 * ("label" index, ...) in tics[1024]. Returns how many. */
static int niah_axis(ctx *c, const char *sql, const char *task, double *vals, char *tics)
{
    sqlite3_stmt *st = db_prepare_id(c->db, sql, c->run);
    db_bind_text(st, 2, task);
    int n = 0;
    strcpy(tics, "(");
    while (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW && n < 64) {
        vals[n] = sqlite3_column_double(st, 0);
        snprintf(tics + strlen(tics), 1024 - strlen(tics), "%s\"%.15g\" %d", n ? ", " : "", vals[n], n);
        n++;
    }
    DB_CHECK(c->h, sqlite3_finalize(st));
    strcat(tics, ")");
    return n;
}

static void niah_task(ctx *c, const char *task)
{
    sqlite3_stmt *st;
    double ctxs[64], deps[64];
    char xt[1024], yt[1024];
    int nc = niah_axis(c, "SELECT DISTINCT context FROM suite_cases WHERE run_id = ?1 AND task = ?2 ORDER BY context",
                       task, ctxs, xt);
    int nd = niah_axis(c, "SELECT DISTINCT depth FROM suite_cases WHERE run_id = ?1 AND task = ?2"
                          " AND depth IS NOT NULL ORDER BY depth", task, deps, yt);
    if (!nc || !nd) return;

    /* methods in run order, then one block of (context index, depth index, mean score x 100) each */
    st = db_prepare_id(c->db,
        "SELECT method, context, depth, 100.0 * avg(score) FROM suite_cases WHERE run_id = ?1 AND task = ?2"
        " AND depth IS NOT NULL GROUP BY method, context, depth"
        " ORDER BY (SELECT min(id) FROM suite_cases m WHERE m.run_id = ?1 AND m.method = suite_cases.method),"
        " context, depth", c->run);
    db_bind_text(st, 2, task);
    char name[200], dat[220], path[PATH_MAX], methods[2048] = "", cur[128] = "";
    plot_fmt(name, sizeof name, "suite_niah_%s", task);
    FILE *f = open_data(c, name, dat, sizeof dat, path);
    double *grid = pb_malloc((size_t)nc * nd * sizeof *grid);
    int any = 0;
    for (int more = 1; more;) {
        more = DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW;
        const char *m = more ? col(st, 0) : "";
        if (any && (!more || strcmp(m, cur))) { /* flush the finished method's block */
            fprintf(f, "# method %s: context_index depth_index score\n", cur);
            for (int i = 0; i < nc; i++)
                for (int j = 0; j < nd; j++) fprintf(f, "%d %d %.2f\n", i, j, grid[i * nd + j]);
            fprintf(f, "\n\n");
        }
        if (!more) break;
        if (!any || strcmp(m, cur)) {
            snprintf(cur, sizeof cur, "%s", m);
            add_word(methods, sizeof methods, m);
            for (int i = 0; i < nc * nd; i++) grid[i] = NAN;
            any = 1;
        }
        int ci = 0, di = 0;
        while (ci < nc && ctxs[ci] != sqlite3_column_double(st, 1)) ci++;
        while (di < nd && deps[di] != sqlite3_column_double(st, 2)) di++;
        if (ci < nc && di < nd) grid[ci * nd + di] = sqlite3_column_double(st, 3);
    }
    DB_CHECK(c->h, sqlite3_finalize(st));
    fclose(f);
    free(grid);
    char png[220], title[400];
    plot_fmt(png, sizeof png, "%s.png", name);
    plot_fmt(title, sizeof title, "NIAH %s: mean score by needle depth and context length (suite %s, run %lld)",
             task, c->suite, (long long)c->run);
    const char *args[] = {dat, png, title, methods, xt, yt, NULL};
    char styles[16384] = ""; /* colour is the score here: the styles bring the panels' titles in words */
    plot_linetypes(styles, sizeof styles, methods);
    draw(c, "suite_niah", styles, args);
}

static void niah(ctx *c)
{
    sqlite3_stmt *st = db_prepare_id(c->db,
        "SELECT task FROM suite_cases WHERE run_id = ? AND task_type = 'niah' GROUP BY task ORDER BY min(id)", c->run);
    char tasks[32][128];
    int n = 0;
    while (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW && n < 32) snprintf(tasks[n++], 128, "%s", col(st, 0));
    DB_CHECK(c->h, sqlite3_finalize(st));
    for (int i = 0; i < n; i++) niah_task(c, tasks[i]);
}

/* ---- scores per task and method; score vs density ------------------------- */

static void scores(ctx *c)
{
    /* methods and tasks in run order */
    sqlite3_stmt *st = db_prepare_id(c->db,
        "SELECT method FROM suite_cases WHERE run_id = ? GROUP BY method ORDER BY min(id)", c->run);
    char methods[2048] = "";
    int nm = 0;
    while (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW) add_word(methods, sizeof methods, col(st, 0)), nm++;
    DB_CHECK(c->h, sqlite3_finalize(st));
    if (!nm) return;

    char dat[40], path[PATH_MAX], title[400], styles[16384] = ""; /* a line per method */
    plot_linetypes(styles, sizeof styles, methods);
    FILE *f = open_data(c, "suite_scores", dat, sizeof dat, path);
    /* a row per task: (score, interval low, high) x100 per method, NaN where it did not run */
    fprintf(f, "# per method: score lo hi (95%% interval: Wilson for pass/fail tasks, else bootstrap)\n");
    fprintf(f, "task %s\n", methods);
    score_cell *cell;
    int n = score_cells(c->db, c->run, NULL, SCORE_BY_TASK, &cell);
    for (int i = 0; i < n; i++) {
        if (i && !strcmp(cell[i - 1].task, cell[i].task)) continue;
        fprintf(f, "%s", cell[i].task);
        char m[128];
        for (const char *p = methods; *p; p += strcspn(p, " "), p += *p == ' ') {
            snprintf(m, sizeof m, "%.*s", (int)strcspn(p, " "), p);
            const score_cell *x = NULL;
            for (int j = i; j < n && !strcmp(cell[j].task, cell[i].task) && !x; j++)
                if (!strcmp(cell[j].method, m)) x = &cell[j];
            if (x) fprintf(f, " %.2f %.2f %.2f", 100 * x->score.mean, 100 * x->score.lo, 100 * x->score.hi);
            else fprintf(f, " NaN NaN NaN");
        }
        fprintf(f, "\n");
    }
    score_cells_free(cell, n);
    fclose(f);
    plot_fmt(title, sizeof title, "Score per task and method (suite %s, run %lld)", c->suite, (long long)c->run);
    const char *a1[] = {dat, "suite_scores.png", title, methods, NULL};
    draw(c, "suite_scores", styles, a1);

    /* score vs density: a block per method of (density, score, task) */
    f = open_data(c, "suite_density", dat, sizeof dat, path);
    st = db_prepare_id(c->db,
        "SELECT method, task, avg(density), 100.0 * avg(score) FROM suite_cases WHERE run_id = ?1"
        " GROUP BY method, task ORDER BY (SELECT min(id) FROM suite_cases m WHERE m.run_id = ?1"
        " AND m.method = suite_cases.method), min(id)", c->run);
    char cur[128] = "";
    int any = 0;
    while (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW) {
        if (!any || strcmp(cur, col(st, 0))) {
            fprintf(f, "%s# method %s: density score task\n", any ? "\n\n" : "", col(st, 0));
            snprintf(cur, sizeof cur, "%s", col(st, 0));
            any = 1;
        }
        if (sqlite3_column_type(st, 2) == SQLITE_NULL) fprintf(f, "NaN");
        else fprintf(f, "%.4f", sqlite3_column_double(st, 2));
        fprintf(f, " %.2f %s\n", sqlite3_column_double(st, 3), col(st, 1));
    }
    DB_CHECK(c->h, sqlite3_finalize(st));
    fclose(f);
    plot_fmt(title, sizeof title, "Score vs attention density per (method, task) (suite %s, run %lld)", c->suite,
             (long long)c->run);
    const char *a2[] = {dat, "suite_density.png", title, methods, NULL};
    draw(c, "suite_density", styles, a2);
}

/* ---- the frontier: score against density per method family ---------------- */

/* A method's family: its name up to '@' (a sweep's points, suites/SCHEMA.md),
 * into out[n]. */
static void family_of(const char *method, char *out, size_t n)
{
    plot_fmt(out, n, "%.*s", (int)strcspn(method, "@"), method);
}

/* Sorts ord[0..m) (indices into cell) by rising density (insertion: a handful). */
static void by_density(const score_cell *cell, int *ord, int m)
{
    for (int a = 1; a < m; a++)
        for (int b = a; b > 0 && cell[ord[b]].density < cell[ord[b - 1]].density; b--) {
            int t = ord[b];
            ord[b] = ord[b - 1], ord[b - 1] = t;
        }
}

/* The envelope of the points of cell whose policy (pol[i]) is one of
 * `policies` (space-separated): by rising density, each point that scores
 * above every point at lower density, so the line is the best score
 * reached at or below each density. Writes "density score method" rows;
 * returns how many. */
static int envelope(FILE *f, const score_cell *cell, char (*pol)[64], int n, const char *policies, int *ord)
{
    int m = 0, k = 0;
    for (int i = 0; i < n; i++) {
        char w[66];
        plot_fmt(w, sizeof w, " %s ", pol[i]);
        char list[256];
        plot_fmt(list, sizeof list, " %s ", policies);
        if (cell[i].has_density && strstr(list, w)) ord[m++] = i;
    }
    by_density(cell, ord, m);
    double best = -1;
    for (int j = 0; j < m; j++) {
        const score_cell *x = &cell[ord[j]];
        if (x->score.mean <= best) continue;
        best = x->score.mean;
        fprintf(f, "%.4f %.2f %s\n", x->density, 100 * x->score.mean, x->method);
        k++;
    }
    if (!k) fprintf(f, "NaN NaN -\n"); /* the block stays, empty */
    return k;
}

/* One point per method: every accuracy case of the run pooled (score and
 * its 95% interval, mean density); a block per method family (a method and
 * the points of its sweep) in run order, its points by rising density, so
 * each family draws a line and the lines show which keeps most score per
 * density. Two more blocks bound them: the upper frontier, the envelope of
 * the exact oracles' points (topp-oracle, topk-oracle: the best selection
 * an indexer could make), and the lower one, streaming's (no selection at
 * all). */
static void frontier(ctx *c)
{
    score_cell *cell;
    int n = score_cells(c->db, c->run, NULL, SCORE_BY_METHOD, &cell);
    int *fam = pb_malloc((size_t)(n + 1) * sizeof *fam), nf = 0, *ord = pb_malloc((size_t)(n + 1) * sizeof *ord);
    char (*families)[64] = pb_malloc((size_t)(n + 1) * sizeof *families), list[4096] = "";
    char (*pol)[64] = pb_malloc((size_t)(n + 1) * sizeof *pol);
    sqlite3_stmt *st = db_prepare_id(c->db, "SELECT policy FROM suite_cases WHERE run_id = ? AND method = ?2 LIMIT 1",
                                     c->run);
    int drawn = 0;
    for (int i = 0; i < n; i++) {
        db_bind_text(st, 2, cell[i].method);
        plot_fmt(pol[i], sizeof pol[i], "?");
        if (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW) plot_fmt(pol[i], sizeof pol[i], "%s", col(st, 0));
        DB_CHECK(c->h, sqlite3_reset(st));
        char name[64];
        family_of(cell[i].method, name, sizeof name);
        int k = 0;
        while (k < nf && strcmp(families[k], name)) k++;
        if (k == nf) plot_fmt(families[nf++], sizeof families[0], "%s", name), add_word(list, sizeof list, name);
        fam[i] = k;
        drawn += cell[i].has_density;
    }
    DB_CHECK(c->h, sqlite3_finalize(st));
    if (drawn) {
        char dat[40], path[PATH_MAX], title[400], styles[16384] = "";
        plot_linetypes(styles, sizeof styles, list);
        FILE *f = open_data(c, "suite_frontier", dat, sizeof dat, path);
        for (int k = 0; k < nf; k++) {
            int m = 0;
            for (int i = 0; i < n; i++)
                if (fam[i] == k && cell[i].has_density) ord[m++] = i;
            fprintf(f, "%s# family %s (%s): density score lo hi method (all cases pooled; 95%% interval)\n",
                    k ? "\n\n" : "", families[k], m ? pol[ord[0]] : "?");
            by_density(cell, ord, m);
            for (int j = 0; j < m; j++) {
                const score_cell *x = &cell[ord[j]];
                fprintf(f, "%.4f %.2f %.2f %.2f %s\n", x->density, 100 * x->score.mean, 100 * x->score.lo,
                        100 * x->score.hi, x->method);
            }
            if (!m) fprintf(f, "NaN NaN NaN NaN -\n"); /* a family without densities keeps its block */
        }
        fprintf(f, "\n\n# upper frontier: the exact oracles (topp-oracle, topk-oracle), the best score at or below"
                   " each density: density score method\n");
        int up = envelope(f, cell, pol, n, "topp-oracle topk-oracle", ord);
        fprintf(f, "\n\n# lower frontier: streaming, the best score at or below each density: density score method\n");
        int low = envelope(f, cell, pol, n, "streaming", ord);
        fclose(f);
        plot_fmt(title, sizeof title,
                 "Score against density, all cases pooled, 95%% intervals (%s, run %lld)",
                 c->suite, (long long)c->run);
        char bounds[8];
        plot_fmt(bounds, sizeof bounds, "%d %d", up > 0, low > 0);
        const char *args[] = {dat, "suite_frontier.png", title, list, bounds, NULL};
        draw(c, "suite_frontier", styles, args);
    }
    free(fam);
    free(ord);
    free(families);
    free(pol);
    score_cells_free(cell, n);
}

/* ---- throughput ----------------------------------------------------------- */

/* The run's device ("cpu", "NVIDIA H200"), or "?" */
static void run_device(ctx *c, char *dev, size_t n)
{
    sqlite3_stmt *st = db_prepare_id(c->db, "SELECT device FROM runs WHERE id = ?", c->run);
    snprintf(dev, n, "?");
    if (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW) snprintf(dev, n, "%s", col(st, 0));
    DB_CHECK(c->h, sqlite3_finalize(st));
}

#define TP_GROUPS 32 /* task:phase:shape groups told apart by dash type (5 kinds, cycled) */

static void throughput(ctx *c)
{
    /* model-level rows only (bench 'forward'; attention() draws the rest):
     * one series per (task, shape, phase, method); the speedup divides the
     * dense method's median time at the same (task, shape, phase, context) */
    sqlite3_stmt *st = db_prepare_id(c->db,
        "SELECT s.task, s.method, b.phase, b.n_layer || '/' || b.n_head || '/' || b.n_kv_head || '/' || b.head_dim,"
        " b.n_ctx, b.throughput, b.n_tokens / b.t_p90, b.n_tokens / b.t_p10,"
        " (SELECT min(d.t_median) FROM suite_bench ds JOIN bench d ON d.id = ds.bench_id"
        "  WHERE ds.run_id = s.run_id AND ds.task = s.task AND ds.policy = 'dense' AND d.bench = 'forward'"
        "  AND d.phase = b.phase"
        "  AND d.n_layer = b.n_layer AND d.n_head = b.n_head AND d.n_kv_head = b.n_kv_head"
        "  AND d.head_dim = b.head_dim AND d.n_ctx = b.n_ctx) / b.t_median"
        " FROM suite_bench s JOIN bench b ON b.id = s.bench_id WHERE s.run_id = ?1 AND b.bench = 'forward'"
        " ORDER BY s.task, b.phase DESC, b.n_layer, b.n_head, b.n_kv_head, b.head_dim, min(s.bench_id)"
        "   OVER (PARTITION BY s.method), b.n_ctx", c->run);
    char dat[40], path[PATH_MAX], title[400], series[4096] = "", cur[512] = "", styles[16384] = "";
    char labels[16384] = "";
    char groups[TP_GROUPS][512]; /* the series' task:phase:shape, a dash type each */
    int n_series = 0, n_groups = 0;
    FILE *f = NULL;
    while (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW) {
        char key[512];
        snprintf(key, sizeof key, "%s:%s:%s:%s", col(st, 0), col(st, 2), col(st, 3), col(st, 1));
        if (!f) f = open_data(c, "suite_throughput", dat, sizeof dat, path);
        if (strcmp(key, cur)) {
            fprintf(f, "%s# %s (task:phase:layers/heads/kv_heads/head_dim:method)\n"
                       "# context tok_s tok_s_p90 tok_s_p10 speedup_vs_dense\n", cur[0] ? "\n\n" : "", key);
            snprintf(cur, sizeof cur, "%s", key);
            add_word(series, sizeof series, key);
            /* colour and point type: the method's; dash type: its task:phase:shape */
            char group[512];
            snprintf(group, sizeof group, "%s:%s:%s", col(st, 0), col(st, 2), col(st, 3));
            int g = 0;
            while (g < n_groups && strcmp(groups[g], group)) g++;
            if (g == n_groups && n_groups < TP_GROUPS) snprintf(groups[n_groups++], sizeof groups[0], "%s", group);
            plot_linetype(styles, sizeof styles, ++n_series, col(st, 1), g % 5 + 1);
            size_t l = strlen(labels); /* the legend: the group, then the method in words */
            plot_fmt(labels + l, sizeof labels - l, "%s\"%s %s %s: %s\"", n_series > 1 ? ", " : "", col(st, 0),
                     col(st, 2), col(st, 3), plot_style_of(col(st, 1)).words);
        }
        fprintf(f, "%d %.4g %.4g %.4g ", sqlite3_column_int(st, 4), sqlite3_column_double(st, 5),
                sqlite3_column_double(st, 6), sqlite3_column_double(st, 7));
        if (sqlite3_column_type(st, 8) == SQLITE_NULL) fprintf(f, "NaN\n");
        else fprintf(f, "%.4f\n", sqlite3_column_double(st, 8));
    }
    DB_CHECK(c->h, sqlite3_finalize(st));
    if (!f) return;
    fclose(f);
    char dev[200];
    run_device(c, dev, sizeof dev);
    plot_fmt(title, sizeof title, "Engine throughput vs context length (suite %s, run %lld; %s, median of repeats)",
        c->suite, (long long)c->run, dev);
    size_t l = strlen(styles);
    plot_fmt(styles + l, sizeof styles - l, "array purbo_label[%d] = [%s]\n", n_series, labels);
    const char *args[] = {dat, "suite_throughput.png", title, series, NULL};
    draw(c, "suite_throughput", styles, args);
}

/* ---- attention kernels vs their peers --------------------------------------- */

#define ATT_MAX 32 /* impls, panels and contexts a chart shows at most */

/* The rows of bench 'attention' of the run: a point per (impl, shape, phase,
 * context), the fastest row where several tasks measured the same case
 * (prefill to 128K in one task and at 1M in another, say). y is TFLOP/s for
 * prefill and GB/s for decode: the stored throughput where its unit is the
 * phase's, else 2 n^2 d heads / t and 4 n kv_heads d / t (bf16 K and V);
 * the bars are the same work over t_p90 and t_p10. ratio = t(sdpa_cudnn) /
 * t(impl) at the same shape, phase and context (NULL without a cuDNN row). */
#define ATT_FROM " FROM suite_bench s JOIN bench b ON b.id = s.bench_id WHERE s.run_id = ?1 AND b.bench = 'attention'"
#define ATT_WORK                                                                                      \
    "CASE WHEN b.throughput IS NOT NULL AND b.throughput_unit = CASE b.phase WHEN 'prefill'"          \
    " THEN 'TFLOP/s' ELSE 'GB/s' END THEN b.throughput * b.t_median WHEN b.phase = 'prefill'"         \
    " THEN 2.0 * b.n_ctx * b.n_ctx * b.head_dim * b.n_head / 1e12"                                   \
    " ELSE 4.0 * b.n_ctx * b.n_kv_head * b.head_dim / 1e9 END"

typedef struct {
    char impl[ATT_MAX][64];
    int ni;
    struct { char phase[8]; int h, kvh, d; } panel[ATT_MAX];
    int np;
    int64_t ctx[ATT_MAX];
    int nc;
} att_axes;

static int att_panel(const att_axes *a, const char *phase, int h, int kvh, int d)
{
    for (int p = 0; p < a->np; p++)
        if (!strcmp(a->panel[p].phase, phase) && a->panel[p].h == h && a->panel[p].kvh == kvh && a->panel[p].d == d)
            return p;
    return -1;
}

/* "4K" for 4096, "1M" for 1048576, else the number */
static void ctx_label(char *out, size_t n, int64_t x)
{
    if (x >= 1 << 20 && x % (1 << 20) == 0) snprintf(out, n, "%lldM", (long long)(x >> 20));
    else if (x >= 1024 && x % 1024 == 0) snprintf(out, n, "%lldK", (long long)(x >> 10));
    else snprintf(out, n, "%lld", (long long)x);
}

static void attention(ctx *c)
{
    att_axes a = {0};
    /* impls in run order; panels shape by shape (run order), prefill first */
    sqlite3_stmt *st = db_prepare_id(c->db, "SELECT b.impl" ATT_FROM " GROUP BY b.impl ORDER BY min(b.id)", c->run);
    while (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW && a.ni < ATT_MAX)
        snprintf(a.impl[a.ni++], sizeof a.impl[0], "%s", col(st, 0));
    DB_CHECK(c->h, sqlite3_finalize(st));
    if (!a.ni) return;
    st = db_prepare_id(c->db, "SELECT b.phase, b.n_head, b.n_kv_head, b.head_dim" ATT_FROM
                       " GROUP BY b.phase, b.n_head, b.n_kv_head, b.head_dim"
                       " ORDER BY min(min(b.id)) OVER (PARTITION BY b.n_head, b.n_kv_head, b.head_dim), b.phase DESC",
                       c->run);
    while (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW && a.np < ATT_MAX) {
        snprintf(a.panel[a.np].phase, sizeof a.panel[0].phase, "%s", col(st, 0));
        a.panel[a.np].h = sqlite3_column_int(st, 1);
        a.panel[a.np].kvh = sqlite3_column_int(st, 2);
        a.panel[a.np++].d = sqlite3_column_int(st, 3);
    }
    DB_CHECK(c->h, sqlite3_finalize(st));
    st = db_prepare_id(c->db, "SELECT DISTINCT b.n_ctx" ATT_FROM " ORDER BY b.n_ctx", c->run);
    while (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW && a.nc < ATT_MAX)
        a.ctx[a.nc++] = sqlite3_column_int64(st, 0);
    DB_CHECK(c->h, sqlite3_finalize(st));

    /* the points, then one block per (panel, impl), impls inner, in both files */
    typedef struct { int p, i; int64_t n; double y, lo, hi, ratio; } pt;
    int npt = 0, cap = 64;
    pt *pts = pb_malloc((size_t)cap * sizeof *pts);
    st = db_prepare_id(c->db,
        "SELECT b.impl, b.phase, b.n_head, b.n_kv_head, b.head_dim, b.n_ctx, min(b.t_median), " ATT_WORK ", b.t_p90,"
        " b.t_p10, (SELECT min(x.t_median) FROM suite_bench xs JOIN bench x ON x.id = xs.bench_id"
        "  WHERE xs.run_id = ?1 AND x.bench = 'attention' AND x.impl = 'sdpa_cudnn' AND x.phase = b.phase"
        "  AND x.n_head = b.n_head AND x.n_kv_head = b.n_kv_head AND x.head_dim = b.head_dim AND x.n_ctx = b.n_ctx)"
        ATT_FROM " GROUP BY b.impl, b.phase, b.n_head, b.n_kv_head, b.head_dim, b.n_ctx ORDER BY b.n_ctx", c->run);
    int any_ratio = 0;
    while (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW) {
        pt q = {.p = att_panel(&a, col(st, 1), sqlite3_column_int(st, 2), sqlite3_column_int(st, 3),
                               sqlite3_column_int(st, 4)),
                .i = -1, .n = sqlite3_column_int64(st, 5), .ratio = NAN};
        for (int i = 0; i < a.ni; i++)
            if (!strcmp(a.impl[i], col(st, 0))) q.i = i;
        if (q.p < 0 || q.i < 0) continue; /* past ATT_MAX */
        double t = sqlite3_column_double(st, 6), w = sqlite3_column_double(st, 7);
        q.y = w / t, q.lo = w / sqlite3_column_double(st, 8), q.hi = w / sqlite3_column_double(st, 9);
        if (sqlite3_column_type(st, 10) != SQLITE_NULL) q.ratio = sqlite3_column_double(st, 10) / t, any_ratio = 1;
        if (npt == cap) pts = pb_realloc(pts, (size_t)(cap *= 2) * sizeof *pts);
        pts[npt++] = q;
    }
    DB_CHECK(c->h, sqlite3_finalize(st));
    char dat[40], rdat[40], path[PATH_MAX], rpath[PATH_MAX], panels[ATT_MAX * 40] = "", impls[ATT_MAX * 66] = "";
    for (int i = 0; i < a.ni; i++) add_word(impls, sizeof impls, a.impl[i]);
    FILE *f = open_data(c, "suite_attention", dat, sizeof dat, path),
         *fr = open_data(c, "suite_attention_ratio", rdat, sizeof rdat, rpath);
    for (int p = 0; p < a.np; p++) {
        char w[40];
        snprintf(w, sizeof w, "%s:%d/%d/%d", a.panel[p].phase, a.panel[p].h, a.panel[p].kvh, a.panel[p].d);
        add_word(panels, sizeof panels, w);
        for (int i = 0; i < a.ni; i++) {
            const char *u = strcmp(a.panel[p].phase, "prefill") ? "gbs" : "tflops";
            fprintf(f, "%s# %s %s (phase:heads/kv_heads/head_dim impl)\n# context %s %s_p90 %s_p10\n",
                    p + i ? "\n\n" : "", w, a.impl[i], u, u, u);
            fprintf(fr, "%s# %s %s\n# context t_sdpa_cudnn/t_impl\n", p + i ? "\n\n" : "", w, a.impl[i]);
            int n = 0;
            for (int k = 0; k < npt; k++) {
                if (pts[k].p != p || pts[k].i != i) continue;
                fprintf(f, "%lld %.4g %.4g %.4g\n", (long long)pts[k].n, pts[k].y, pts[k].lo, pts[k].hi);
                if (pts[k].ratio == pts[k].ratio) fprintf(fr, "%lld %.4f\n", (long long)pts[k].n, pts[k].ratio);
                else fprintf(fr, "%lld NaN\n", (long long)pts[k].n);
                n++;
            }
            if (!n) fprintf(f, "NaN NaN NaN NaN\n"), fprintf(fr, "NaN NaN\n"); /* keeps the block count */
        }
    }
    fclose(f);
    fclose(fr);
    free(pts);

    /* context tics (4K, 1M), the x range around them, the card */
    char xt[ATT_MAX * 32] = "(", lo[32], hi[32], dev[200];
    for (int k = 0; k < a.nc; k++) {
        char l[24];
        ctx_label(l, sizeof l, a.ctx[k]);
        snprintf(xt + strlen(xt), sizeof xt - strlen(xt), "%s\"%s\" %lld", k ? ", " : "", l, (long long)a.ctx[k]);
    }
    strcat(xt, ")");
    snprintf(lo, sizeof lo, "%g", a.ctx[0] / 1.5);
    snprintf(hi, sizeof hi, "%g", a.ctx[a.nc - 1] * 1.5);
    run_device(c, dev, sizeof dev);
    char title[600], styles[ATT_MAX * 64] = "";
    plot_linetypes(styles, sizeof styles, impls);
    plot_fmt(title, sizeof title, "Attention kernels on %s: prefill TFLOP/s, decode GB/s vs context length"
        " (suite %s, run %lld; median, bars p10..p90)", dev, c->suite, (long long)c->run);
    const char *args[] = {dat, "suite_attention.png", title, panels, impls, xt, lo, hi, NULL};
    draw(c, "suite_attention", styles, args);
    if (!any_ratio) { /* no sdpa_cudnn rows: no ratio chart */
        unlink(rpath);
        return;
    }
    plot_fmt(title, sizeof title, "Attention kernels on %s: t(sdpa_cudnn) / t(impl) at the same shape, phase and"
        " context, > 1 is faster than cuDNN (suite %s, run %lld)", dev, c->suite, (long long)c->run);
    const char *rargs[] = {rdat, "suite_attention_ratio.png", title, panels, impls, xt, lo, hi, NULL};
    draw(c, "suite_attention_ratio", styles, rargs);
}

int plot_suite_charts(plot_job *job)
{
    ctx c = {.db = job->db, .h = db_sqlite(job->db), .run = job->run, .dir = job->dir};
    sqlite3_stmt *st = db_prepare_id(c.db,
        "SELECT coalesce((SELECT suite FROM suite_cases WHERE run_id = ?1 LIMIT 1),"
        " (SELECT suite FROM suite_bench WHERE run_id = ?1 LIMIT 1), '?')", c.run);
    if (DB_CHECK(c.h, sqlite3_step(st)) == SQLITE_ROW) snprintf(c.suite, sizeof c.suite, "%s", col(st, 0));
    DB_CHECK(c.h, sqlite3_finalize(st));
    niah(&c);
    scores(&c);
    frontier(&c);
    throughput(&c);
    attention(&c);
    return c.n_png;
}

int plot_suite(pb_db *db, int64_t run, const char *outdir, pb_err *err)
{
    if (pb_mkdir_p(outdir) != 0) {
        pb_errf(err, outdir, -1, "cannot create the plot folder: %s", strerror(errno));
        return -1;
    }
    plot_job job = {.db = db, .run = run, .dir = outdir};
    return plot_suite_charts(&job) + plot_layer(&job);
}
