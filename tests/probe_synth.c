/* probe_synth.c — synthetic attention for the probe and plot tests
 * (probe_synth.h). */
#include "tests/probe_synth.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "base/rng.h"

pb_db *synth_db(const char *dir, const char *name, int64_t *run)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.db", dir, name);
    pb_err e;
    pb_db *db = db_open(path, &e);
    if (!db) pb_die_input(&e);
    run_meta meta = {.command = "purbo-test synthetic", .device = "cpu", .model_path = "synthetic.gguf"};
    *run = db_run_begin(db, &meta);
    return db;
}

/* synth_window, with NaN rows for the blocks want_rows declines when
 * `poison` is set; returns the declined blocks. */
static int synth_feed(probe *p, const probe_geom *g, int w, synth_row_fn fn, void *ctx, const float *q,
                      const float *k, int poison)
{
    const int n = g->n_ctx;
    int declined = 0;
    float *rows = pb_malloc((size_t)ATTN_QBLOCK * n * sizeof *rows);
    if (p->window_begin) p->window_begin(p->st, w);
    for (int l = 0; l < g->n_layer; l++) {
        if (p->obs.on_qk && q && k) p->obs.on_qk(p->st, l, 0, n, q, k);
        for (int h = 0; h < g->n_head; h++)
            for (int q0 = 0; q0 < n; q0 += ATTN_QBLOCK) {
                int b = n - q0 < ATTN_QBLOCK ? n - q0 : ATTN_QBLOCK, kv_end = q0 + b;
                memset(rows, 0, (size_t)b * kv_end * sizeof *rows);
                for (int r = 0; r < b; r++) fn(w, l, h, q0 + r, rows + (size_t)r * kv_end, ctx);
                if (poison && p->obs.want_rows && !p->obs.want_rows(p->st, l, q0, b)) {
                    for (size_t x = 0; x < (size_t)b * kv_end; x++) rows[x] = NAN;
                    declined++;
                }
                attn_call c = {.layer = l, .head = h, .kv_head = h / (g->n_head / g->n_head_kv), .d = g->d,
                               .q_pos0 = q0, .n_q = b, .n_kv = kv_end, .scale = 1.0f / sqrtf((float)g->d)};
                if (p->obs.on_rows) p->obs.on_rows(p->st, &c, rows, kv_end);
            }
    }
    if (p->window_end) p->window_end(p->st, w);
    free(rows);
    return declined;
}

void synth_window(probe *p, const probe_geom *g, int w, synth_row_fn fn, void *ctx, const float *q,
                  const float *k)
{
    synth_feed(p, g, w, fn, ctx, q, k, 0);
}

int synth_window_want(probe *p, const probe_geom *g, int w, synth_row_fn fn, void *ctx, const float *q,
                      const float *k)
{
    return synth_feed(p, g, w, fn, ctx, q, k, 1);
}

typedef struct {
    probe *p;
    attn_call c;
    const float *rows;
} synth_head;

static void *synth_head_rows(void *arg)
{
    synth_head *t = arg;
    t->p->obs.on_rows(t->p->st, &t->c, t->rows, t->c.n_kv);
    return NULL;
}

void synth_window_parallel(probe *p, const probe_geom *g, int w, synth_row_fn fn, void *ctx, const float *q,
                           const float *k)
{
    const int n = g->n_ctx, H = g->n_head;
    float *rows = pb_malloc((size_t)H * ATTN_QBLOCK * n * sizeof *rows);
    synth_head *t = pb_malloc((size_t)H * sizeof *t);
    pthread_t *th = pb_malloc((size_t)H * sizeof *th);
    if (p->window_begin) p->window_begin(p->st, w);
    for (int l = 0; l < g->n_layer; l++) {
        if (p->obs.on_qk && q && k) p->obs.on_qk(p->st, l, 0, n, q, k);
        for (int q0 = 0; q0 < n && p->obs.on_rows; q0 += ATTN_QBLOCK) {
            int b = n - q0 < ATTN_QBLOCK ? n - q0 : ATTN_QBLOCK, kv_end = q0 + b;
            for (int h = 0; h < H; h++) {
                float *rh = rows + (size_t)h * ATTN_QBLOCK * n;
                memset(rh, 0, (size_t)b * kv_end * sizeof *rows);
                for (int r = 0; r < b; r++) fn(w, l, h, q0 + r, rh + (size_t)r * kv_end, ctx);
                t[h] = (synth_head){p, {.layer = l, .head = h, .kv_head = h / (H / g->n_head_kv), .d = g->d,
                                        .q_pos0 = q0, .n_q = b, .n_kv = kv_end, .scale = 1.0f / sqrtf((float)g->d)},
                                    rh};
            }
            for (int h = 0; h < H; h++)
                if (pthread_create(&th[h], NULL, synth_head_rows, &t[h])) pb_die_runtime(__FILE__, __LINE__, "thread");
            for (int h = 0; h < H; h++) pthread_join(th[h], NULL);
        }
    }
    if (p->window_end) p->window_end(p->st, w);
    free(rows);
    free(t);
    free(th);
}

/* A head-dependent mix: mass on the sink, a decaying recent window whose
 * length grows with the head, and a few random far keys. */
void synth_mixed_row(int w, int layer, int head, int i, float *row, void *ctx)
{
    (void)ctx;
    pb_rng r = {(uint64_t)(w * 7919 + layer * 131 + head * 17 + i)};
    double tau = 2.0 + 8.0 * (layer * 3 + head), tot = 0;
    for (int j = 0; j <= i; j++) {
        row[j] = (float)exp(-(i - j) / tau);
        if (rng_unit(&r) < 0.02) row[j] += 0.5f;
    }
    row[0] += 2.0f;
    for (int j = 0; j <= i; j++) tot += row[j];
    for (int j = 0; j <= i; j++) row[j] = (float)(row[j] / tot);
}

void synth_all_probes(pb_db *db, int64_t run)
{
    probe_geom g = {.n_layer = 2, .n_head = 3, .n_head_kv = 1, .d = 8, .n_ctx = 256, .n_windows = 2};
    size_t nq = (size_t)g.n_ctx * g.n_head * g.d, nk = (size_t)g.n_ctx * g.n_head_kv * g.d;
    float *q = pb_malloc(nq * sizeof *q), *k = pb_malloc(nk * sizeof *k);
    pb_rng r = {42};
    for (size_t i = 0; i < nq; i++) q[i] = (float)(rng_unit(&r) - 0.5);
    for (size_t i = 0; i < nk; i++) k[i] = (float)(rng_unit(&r) - 0.5) * (float)(1 + i % g.d);
    probe_case_info ci = {.run_id = run, .calib = "synthetic rows", .seed = 1, .seconds = 0};
    for (int n = 0; n < 4; n++) {
        probe p;
        probe_make(probe_names[n], &g, &p);
        for (int w = 0; w < g.n_windows; w++) synth_window(&p, &g, w, synth_mixed_row, NULL, q, k);
        p.store(p.st, db, &ci);
        p.free(p.st);
    }
    free(q);
    free(k);
}

double synth_query(pb_db *db, const char *sql)
{
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st;
    DB_CHECK(h, sqlite3_prepare_v2(h, sql, -1, &st, NULL));
    double v = DB_CHECK(h, sqlite3_step(st)) == SQLITE_ROW ? sqlite3_column_double(st, 0) : -1e300;
    DB_CHECK(h, sqlite3_finalize(st));
    return v;
}
