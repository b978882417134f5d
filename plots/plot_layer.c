/* plot_layer.c — the charts of a run's layer-level throughput cases
 * (layer_bench rows, suites/runner_layer.h), one family of `purbo-bench
 * plot` and of `run --plots`:
 *   layer_speedup.png  t(sdpa_cudnn) / t(RTPurbo layer) against context
 *                      length, one line per planted density, a panel per
 *                      (phase, shape); where the run has no cuDNN time at a
 *                      context the point is missing (NaN);
 *   layer_stages.png   the layer's stages (index, select, attend, local),
 *                      each timed alone, as shares of their sum against
 *                      context length, stacked, at one density (the
 *                      demand when the run has it, else the sweep's nearest
 *                      to 0.1), a panel per (phase, shape);
 *   layer_kv.png       KV bytes per layer against context length, RTPurbo
 *                      (layer_kv_bytes) and dense, one pair per shape.
 * Data files (layer_*.dat) hold one block (two blank lines apart) per
 * (panel, series) in the order the scripts index them; a block with no
 * rows is one NaN row, so the indices never shift.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "plots/plot_kit.h"

#define LY_MAX 16 /* panels, densities and shapes a chart shows at most */

typedef struct {
    char phase[8];
    int h, kvh, d;
} ly_panel;

typedef struct {
    pb_db *db;
    sqlite3 *h;
    int64_t run;
    const char *dir;
    ly_panel panel[LY_MAX];
    int np;
    double dens[LY_MAX];
    int demand[LY_MAX]; /* 1: the density of a demand point (source not 'sweep') */
    int nd;
    int n_png;
} ly_ctx;

#define LY_OURS " FROM layer_bench l JOIN bench b ON b.id = l.bench_id WHERE l.run_id = ?1 AND l.t_index IS NOT NULL"

/* the panels (shape by shape, prefill first) and densities of our layer rows */
static void axes(ly_ctx *c)
{
    sqlite3_stmt *st = db_prepare_id(c->db, "SELECT b.phase, b.n_head, b.n_kv_head, b.head_dim" LY_OURS
                                     " GROUP BY 1, 2, 3, 4 ORDER BY 2 DESC, 3, 4, 1 DESC", c->run);
    while (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW && c->np < LY_MAX) {
        ly_panel *p = &c->panel[c->np++];
        snprintf(p->phase, sizeof p->phase, "%s", (const char *)sqlite3_column_text(st, 0));
        p->h = sqlite3_column_int(st, 1), p->kvh = sqlite3_column_int(st, 2), p->d = sqlite3_column_int(st, 3);
    }
    DB_CHECK(c->h, sqlite3_finalize(st));
    st = db_prepare_id(c->db, "SELECT l.density_target, max(l.density_source <> 'sweep')" LY_OURS
                       " GROUP BY 1 ORDER BY 1", c->run);
    while (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW && c->nd < LY_MAX) {
        c->dens[c->nd] = sqlite3_column_double(st, 0);
        c->demand[c->nd++] = sqlite3_column_int(st, 1);
    }
    DB_CHECK(c->h, sqlite3_finalize(st));
}

static void bind_panel(sqlite3_stmt *st, const ly_panel *p, int first)
{
    db_bind_text(st, first, p->phase);
    db_bind_int(st, first + 1, p->h);
    db_bind_int(st, first + 2, p->kvh);
    db_bind_int(st, first + 3, p->d);
}

#define LY_PANEL " AND b.phase = ?2 AND b.n_head = ?3 AND b.n_kv_head = ?4 AND b.head_dim = ?5"

/* "prefill:32/8/128 decode:32/8/128 ..." */
static void panel_words(const ly_ctx *c, char *out, size_t n)
{
    out[0] = 0;
    for (int p = 0; p < c->np; p++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s:%d/%d/%d", p ? " " : "", c->panel[p].phase, c->panel[p].h,
                 c->panel[p].kvh, c->panel[p].d);
}

static void draw(ly_ctx *c, const char *script, const char *const *args)
{
    if (!plot_gnuplot(c->dir, script, NULL, args, args[1])) return;
    printf("plot: %s/%s\n", c->dir, args[1]);
    c->n_png++;
}

static void speedup(ly_ctx *c)
{
    char path[PATH_MAX], words[LY_MAX * 24] = "", panels[LY_MAX * 40];
    FILE *f = plot_open(c->dir, "layer_speedup.dat", path, sizeof path);
    fprintf(f, "# layer_speedup: run %lld; a block per (panel, density)\n", (long long)c->run);
    sqlite3_stmt *st = db_prepare(c->db,
        "SELECT b.n_ctx, (SELECT min(x.t_median) FROM suite_bench xs JOIN bench x ON x.id = xs.bench_id"
        "  WHERE xs.run_id = ?1 AND x.bench = 'layer' AND x.impl = 'sdpa_cudnn' AND x.phase = b.phase"
        "  AND x.n_head = b.n_head AND x.n_kv_head = b.n_kv_head AND x.head_dim = b.head_dim AND x.n_ctx = b.n_ctx)"
        " / b.t_median, l.density" LY_OURS LY_PANEL " AND l.density_target = ?6 ORDER BY b.n_ctx");
    int any = 0;
    for (int p = 0; p < c->np; p++)
        for (int j = 0; j < c->nd; j++) {
            db_bind_int(st, 1, c->run);
            bind_panel(st, &c->panel[p], 2);
            db_bind_real(st, 6, c->dens[j]);
            fprintf(f, "%s# %s:%d/%d/%d density %g\n# context speedup_vs_cudnn density_realised\n",
                    p + j ? "\n\n" : "", c->panel[p].phase, c->panel[p].h, c->panel[p].kvh, c->panel[p].d, c->dens[j]);
            int n = 0;
            while (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW) {
                int has = sqlite3_column_type(st, 1) != SQLITE_NULL;
                fprintf(f, "%lld ", (long long)sqlite3_column_int64(st, 0));
                fprintf(f, has ? "%.4f" : "NaN", sqlite3_column_double(st, 1));
                fprintf(f, " %.5f\n", sqlite3_column_double(st, 2));
                any += has, n++;
            }
            if (!n) fprintf(f, "NaN NaN NaN\n");
            DB_CHECK(c->h, sqlite3_reset(st));
        }
    db_finalize(st);
    fclose(f);
    if (!any) return;
    for (int j = 0; j < c->nd; j++)
        snprintf(words + strlen(words), sizeof words - strlen(words), "%s%s%g%%", j ? " " : "",
                 c->demand[j] ? "demand_" : "", 100 * c->dens[j]);
    panel_words(c, panels, sizeof panels);
    char title[300];
    plot_fmt(title, sizeof title, "RTPurbo layer over cuDNN SDPA dense (t_cuDNN / t_layer, selection included), run %lld",
             (long long)c->run);
    const char *args[] = {"layer_speedup.dat", "layer_speedup.png", title, panels, words, NULL};
    draw(c, "layer_speedup", args);
}

/* the density the stage chart shows: the demand's, else the nearest to 0.1 */
static double stage_density(const ly_ctx *c)
{
    int best = 0;
    for (int j = 0; j < c->nd; j++)
        if (c->demand[j] || (!c->demand[best] && fabs(c->dens[j] - 0.1) < fabs(c->dens[best] - 0.1))) best = j;
    return c->dens[best];
}

static void stages(ly_ctx *c)
{
    char path[PATH_MAX], panels[LY_MAX * 40];
    const double dens = stage_density(c);
    FILE *f = plot_open(c->dir, "layer_stages.dat", path, sizeof path);
    fprintf(f, "# layer_stages: run %lld, density %g; a block per panel; shares of the stage sum\n", (long long)c->run,
            dens);
    sqlite3_stmt *st = db_prepare(c->db,
        "SELECT b.n_ctx, l.t_index, l.t_select, l.t_attend, l.t_local, b.t_median" LY_OURS LY_PANEL
        " AND l.density_target = ?6 ORDER BY b.n_ctx");
    for (int p = 0; p < c->np; p++) {
        db_bind_int(st, 1, c->run);
        bind_panel(st, &c->panel[p], 2);
        db_bind_real(st, 6, dens);
        fprintf(f, "%s# %s:%d/%d/%d\n# context index select attend local (shares) layer_ms\n", p ? "\n\n" : "",
                c->panel[p].phase, c->panel[p].h, c->panel[p].kvh, c->panel[p].d);
        int n = 0;
        while (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW) {
            double t[4], sum = 0;
            for (int k = 0; k < 4; k++) sum += t[k] = sqlite3_column_double(st, 1 + k);
            char l[24];
            long long x = sqlite3_column_int64(st, 0);
            if (x % (1 << 20) == 0) snprintf(l, sizeof l, "%lldM", x >> 20);
            else snprintf(l, sizeof l, "%lldK", x >> 10);
            fprintf(f, "%s", l);
            for (int k = 0; k < 4; k++) fprintf(f, " %.4f", sum > 0 ? t[k] / sum : 0);
            fprintf(f, " %.4f\n", 1e3 * sqlite3_column_double(st, 5));
            n++;
        }
        if (!n) fprintf(f, "- 0 0 0 0 NaN\n");
        DB_CHECK(c->h, sqlite3_reset(st));
    }
    db_finalize(st);
    fclose(f);
    panel_words(c, panels, sizeof panels);
    char title[300];
    plot_fmt(title, sizeof title, "RTPurbo layer: where the time goes, each stage timed alone (density %g%%, run %lld)",
             100 * dens, (long long)c->run);
    const char *args[] = {"layer_stages.dat", "layer_stages.png", title, panels, NULL};
    draw(c, "layer_stages", args);
}

static void kv(ly_ctx *c)
{
    char shapes[LY_MAX * 24] = "";
    sqlite3_stmt *st = db_prepare_id(c->db, "SELECT DISTINCT b.n_head || '/' || b.n_kv_head || '/' || b.head_dim"
                                     LY_OURS " ORDER BY b.n_head DESC, b.n_kv_head, b.head_dim", c->run);
    int ns = 0;
    while (DB_CHECK(c->h, sqlite3_step(st)) == SQLITE_ROW && ns < LY_MAX)
        snprintf(shapes + strlen(shapes), sizeof shapes - strlen(shapes), "%s%s", ns++ ? " " : "",
                 (const char *)sqlite3_column_text(st, 0));
    db_finalize(st);
    int n = plot_dump(c->db, c->dir, "layer_kv.dat",
                      "SELECT b.n_head || '/' || b.n_kv_head || '/' || b.head_dim AS shape, b.n_ctx,"
                      " max(l.kv_bytes) / 1048576.0 AS rtpurbo_mib, max(l.kv_bytes_dense) / 1048576.0 AS dense_mib"
                      LY_OURS " GROUP BY 1, 2 ORDER BY b.n_head DESC, b.n_kv_head, b.head_dim, b.n_ctx",
                      c->run, 0, 0, 2);
    if (!n) return;
    char title[300];
    plot_fmt(title, sizeof title, "KV bytes per layer: RTPurbo (retrieval heads' KV + index keys + local S+W rows)"
             " vs dense, run %lld", (long long)c->run);
    const char *args[] = {"layer_kv.dat", "layer_kv.png", title, shapes, NULL};
    draw(c, "layer_kv", args);
}

int plot_layer(plot_job *job)
{
    ly_ctx c = {.db = job->db, .h = db_sqlite(job->db), .run = job->run, .dir = job->dir};
    sqlite3_stmt *st = db_prepare(c.db, "SELECT 1 FROM sqlite_master WHERE name = 'layer_bench'");
    int has = DB_CHECK(c.h, sqlite3_step(st)) == SQLITE_ROW;
    db_finalize(st);
    if (!has) return 0;
    axes(&c);
    if (!c.np || !c.nd) return 0;
    speedup(&c);
    stages(&c);
    kv(&c);
    return c.n_png;
}
