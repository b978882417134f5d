/* demand.c — the demand probe: how many tokens (and 64-token blocks) a
 * query needs to hold p of its attention mass, p in {0.5, 0.8, 0.9, 0.95}.
 *
 * A query's demand at p is the size of the smallest key set reaching p of
 * its row's mass: its largest probabilities, counted down until they sum to
 * p. In blocks: the row pooled into the absolute blocks [64b, 64b+64) (as
 * the block-sparse kernel sees it), the largest blocks counted the same way.
 *
 * Context lengths L: 256, 512, ... (powers of two below n_ctx) and n_ctx.
 * Demand "at L" is measured on the NQ = 32 queries at positions
 * L-1 - k*stride, k = 0..31, stride = max(1, L/256), of every window: they
 * see between 7L/8 and L keys. (A query at position L-1 of a longer window
 * sees exactly what the last query of an L-token window sees: attention is
 * causal.) Per (layer, head, L, p, unit) the spread over those queries
 * (min, p10, median, p90, max, mean); the same pooled over all heads (layer
 * and head NULL); and the pooled histogram for the CDF plots. Rows of
 * different heads may arrive on several threads at once (attention.h,
 * parallel_heads): scratch per head, the pooled histogram counted atomically.
 */
#include "probes/probe_impl.h"

#include <string.h>

enum { NQ = 32, NP = 4, NUNIT = 2 };
static const double P[NP] = {0.5, 0.8, 0.9, 0.95};

typedef struct {
    probe_geom g;
    int n_len, len[16];     /* context lengths L */
    int cur;                /* window being run */
    int *vals;              /* (n_layer*n_head, n_len, NUNIT, NP, n_windows*NQ) */
    long *hist;             /* (n_len, NUNIT, NP, n_ctx+1) */
    float *work, *blocks;   /* (n_head, n_ctx) scratch, one row per head of a layer (heads may run at once) */
} demand;

static int stride_of(int L) { return L / 256 > 1 ? L / 256 : 1; }

static size_t vi(const demand *D, int x, int li, int unit, int pi)
{
    return ((((size_t)x * D->n_len + li) * NUNIT + unit) * NP + pi) * ((size_t)D->g.n_windows * NQ);
}

static long *hist_of(const demand *D, int li, int unit, int pi)
{
    return D->hist + (((size_t)li * NUNIT + unit) * NP + pi) * (size_t)(D->g.n_ctx + 1);
}

static void dem_begin(void *user, int w) { ((demand *)user)->cur = w; }

static void dem_rows(void *user, const attn_call *c, const float *p, int ldp)
{
    demand *D = user;
    const int x = c->layer * D->g.n_head + c->head;
    float *work = D->work + (size_t)c->head * D->g.n_ctx, *blocks = D->blocks + (size_t)c->head * D->g.n_ctx;
    for (int r = 0; r < c->n_q; r++) {
        int i = c->q_pos0 + r;
        for (int li = 0; li < D->n_len; li++) {
            int L = D->len[li], s = stride_of(L), k = (L - 1 - i) / s;
            if (i >= L || (L - 1 - i) % s || k >= NQ) continue;
            const float *row = p + (size_t)r * ldp;
            int cnt[NUNIT][NP];
            topp_counts(row, i + 1, P, NP, cnt[0], work);
            int nb = block_sums(row, i + 1, blocks);
            topp_counts(blocks, nb, P, NP, cnt[1], work);
            for (int u = 0; u < NUNIT; u++)
                for (int pi = 0; pi < NP; pi++) {
                    D->vals[vi(D, x, li, u, pi) + (size_t)D->cur * NQ + k] = cnt[u][pi];
                    __atomic_fetch_add(&hist_of(D, li, u, pi)[cnt[u][pi]], 1, __ATOMIC_RELAXED);
                }
        }
    }
}

/* Rows read: for each length L the span L-1-(NQ-1)*stride .. L-1 (a superset of its NQ queries). */
static int dem_want(void *user, int layer, int q_pos0, int n_q)
{
    const demand *D = user;
    (void)layer;
    for (int li = 0; li < D->n_len; li++) {
        int L = D->len[li], lo = L - 1 - (NQ - 1) * stride_of(L);
        if (q_pos0 + n_q > lo && q_pos0 < L) return 1;
    }
    return 0;
}

/* Summary of n values: min, p10, median, p90, max (as bench_stats), mean. */
static void summarise(const int *v, int n, double out[6], double *tmp)
{
    double sum = 0;
    for (int i = 0; i < n; i++) sum += tmp[i] = v[i];
    bench_row r;
    bench_stats(tmp, n, &r);
    double s[6] = {r.t_min, r.t_p10, r.t_median, r.t_p90, r.t_max, sum / n};
    memcpy(out, s, sizeof s);
}

static void insert_summary(pb_db *db, sqlite3_stmt *st, const probe_case_info *ci, int64_t id, int layer,
                           int head, int L, int pi, int unit, int n, const double s[6])
{
    sqlite3 *h = db_sqlite(db);
    DB_CHECK(h, sqlite3_bind_int64(st, 1, ci->run_id));
    DB_CHECK(h, sqlite3_bind_int64(st, 2, id));
    DB_CHECK(h, layer < 0 ? sqlite3_bind_null(st, 3) : sqlite3_bind_int(st, 3, layer));
    DB_CHECK(h, head < 0 ? sqlite3_bind_null(st, 4) : sqlite3_bind_int(st, 4, head));
    DB_CHECK(h, sqlite3_bind_int(st, 5, L));
    DB_CHECK(h, sqlite3_bind_double(st, 6, P[pi]));
    DB_CHECK(h, sqlite3_bind_text(st, 7, unit ? "block" : "token", -1, SQLITE_STATIC));
    DB_CHECK(h, sqlite3_bind_int(st, 8, n));
    for (int k = 0; k < 6; k++) DB_CHECK(h, sqlite3_bind_double(st, 9 + k, s[k]));
    db_step_reset(st);
}

static void dem_store(void *user, pb_db *db, const probe_case_info *ci)
{
    demand *D = user;
    const int nh = D->g.n_layer * D->g.n_head, nq = D->g.n_windows * NQ;
    char q[200];
    snprintf(q, sizeof q, "at context length L: the %d positions L-1-k*max(1,L/256), k<%d, of each window; L in",
             NQ, NQ);
    for (int li = 0; li < D->n_len; li++)
        snprintf(q + strlen(q), sizeof q - strlen(q), " %d", D->len[li]);
    int *pool = pb_malloc((size_t)nh * nq * sizeof *pool);
    double *tmp = pb_malloc((size_t)nh * nq * sizeof *tmp), s[6];
    db_case_begin(db);
    int64_t id = probe_case_insert(db, ci, "demand", &D->g, q);
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st = db_prepare(db, "INSERT INTO probe_demand(run_id, case_id, layer, head, ctx_len, p,"
        " unit, n_queries, v_min, v_p10, v_median, v_p90, v_max, v_mean) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    sqlite3_stmt *hs = db_prepare(db, "INSERT INTO probe_demand_hist(run_id, case_id, ctx_len, p, unit,"
                                      " needed, count) VALUES (?,?,?,?,?,?,?)");
    for (int li = 0; li < D->n_len; li++)
        for (int u = 0; u < NUNIT; u++)
            for (int pi = 0; pi < NP; pi++) {
                for (int x = 0; x < nh; x++) {
                    const int *v = D->vals + vi(D, x, li, u, pi);
                    memcpy(pool + (size_t)x * nq, v, (size_t)nq * sizeof *v);
                    summarise(v, nq, s, tmp);
                    insert_summary(db, st, ci, id, x / D->g.n_head, x % D->g.n_head, D->len[li], pi, u, nq, s);
                }
                summarise(pool, nh * nq, s, tmp);
                insert_summary(db, st, ci, id, -1, -1, D->len[li], pi, u, nh * nq, s);
                const long *hg = hist_of(D, li, u, pi);
                for (int n = 1; n <= D->g.n_ctx; n++) {
                    if (!hg[n]) continue;
                    DB_CHECK(h, sqlite3_bind_int64(hs, 1, ci->run_id));
                    DB_CHECK(h, sqlite3_bind_int64(hs, 2, id));
                    DB_CHECK(h, sqlite3_bind_int(hs, 3, D->len[li]));
                    DB_CHECK(h, sqlite3_bind_double(hs, 4, P[pi]));
                    DB_CHECK(h, sqlite3_bind_text(hs, 5, u ? "block" : "token", -1, SQLITE_STATIC));
                    DB_CHECK(h, sqlite3_bind_int(hs, 6, n));
                    DB_CHECK(h, sqlite3_bind_int64(hs, 7, hg[n]));
                    db_step_reset(hs);
                }
            }
    DB_CHECK(h, sqlite3_finalize(st));
    DB_CHECK(h, sqlite3_finalize(hs));
    db_case_commit(db);
    free(pool);
    free(tmp);
}

static void dem_print(void *user, FILE *f)
{
    demand *D = user;
    const int nh = D->g.n_layer * D->g.n_head, nq = D->g.n_windows * NQ;
    int *pool = pb_malloc((size_t)nh * nq * sizeof *pool), *med = pb_malloc((size_t)nh * sizeof *med);
    double *tmp = pb_malloc((size_t)nh * nq * sizeof *tmp), s[6], m[6];
    fprintf(f, "demand at p = 0.9 (all heads x %d queries each; per-head medians across the %d heads)\n", nq, nh);
    fprintf(f, "  %6s %5s | %5s %6s %7s %7s %7s | head medians %5s %7s %7s\n", "L", "unit", "min", "p10", "median",
            "p90", "max", "min", "median", "max");
    for (int li = 0; li < D->n_len; li++)
        for (int u = 0; u < NUNIT; u++) {
            for (int x = 0; x < nh; x++) {
                const int *v = D->vals + vi(D, x, li, u, 2);
                memcpy(pool + (size_t)x * nq, v, (size_t)nq * sizeof *v);
                summarise(v, nq, s, tmp);
                med[x] = (int)(s[2] + 0.5);
            }
            summarise(pool, nh * nq, s, tmp);
            summarise(med, nh, m, tmp);
            fprintf(f, "  %6d %5s | %5.0f %6.0f %7.0f %7.0f %7.0f | %18.0f %7.0f %7.0f\n", D->len[li],
                    u ? "block" : "token", s[0], s[1], s[2], s[3], s[4], m[0], m[2], m[4]);
        }
    free(pool);
    free(med);
    free(tmp);
}

static void dem_free(void *user)
{
    demand *D = user;
    free(D->vals);
    free(D->hist);
    free(D->work);
    free(D->blocks);
    free(D);
}

probe probe_demand(const probe_geom *g)
{
    demand *D = pb_calloc(1, sizeof *D);
    D->g = *g;
    for (int L = 256; L < g->n_ctx && D->n_len < 15; L *= 2) D->len[D->n_len++] = L;
    D->len[D->n_len++] = g->n_ctx;
    size_t nh = (size_t)g->n_layer * g->n_head;
    D->vals = pb_calloc(nh * D->n_len * NUNIT * NP * (size_t)g->n_windows * NQ, sizeof *D->vals);
    D->hist = pb_calloc((size_t)D->n_len * NUNIT * NP * (size_t)(g->n_ctx + 1), sizeof *D->hist);
    D->work = pb_malloc((size_t)g->n_head * g->n_ctx * sizeof *D->work);
    D->blocks = pb_malloc((size_t)g->n_head * g->n_ctx * sizeof *D->blocks);
    return (probe){.name = "demand", .st = D, .obs = {D, NULL, dem_rows, dem_want, 1}, .window_begin = dem_begin,
                   .store = dem_store, .print = dem_print, .free = dem_free};
}
