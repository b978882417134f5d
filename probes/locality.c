/* locality.c — the locality probe: how much of a head's attention a local
 * head (4 sink tokens + the W most recent tokens) would keep.
 *
 * For query i and window W the kept keys are 0..3 and max(4, i-W+1)..i (the
 * query's own token included); mass(W) is their attention probability. W
 * runs over the multiples of 64 up to n_ctx. Measured queries: every
 * position i in [n_ctx/2, n_ctx) of every window, so each sees at least
 * n_ctx/2 keys and no window below n_ctx/2 is trivially complete. Per
 * (layer, head): mass(W) averaged over those queries, and the smallest W
 * whose average reaches 0.9 (w90) and 0.95 (w95); W = n_ctx always holds
 * the whole row. w90, w95, the grid of W and mass(W) of every head and W
 * are also the probe's per-head results in memory (probe_heads). Rows of
 * different heads may arrive on several threads at once (attention.h,
 * parallel_heads): each head's sums are its own.
 */
#include "probes/probe_impl.h"

#include <string.h>

enum { SINK = 4, STEP = 64 };

typedef struct {
    probe_geom g;
    int n_w;            /* windows W = 64, 128, ..., 64 n_w (= n_ctx) */
    double *acc;        /* (n_layer, n_head, n_w) summed mass */
    long *n_q;          /* (n_layer, n_head) queries summed */
    int *w90, *w95;     /* (n_layer, n_head), filled by finish */
    double *mass;       /* (n_layer, n_head, n_w) mean mass, filled by finish */
    int *grid;          /* (n_w) the windows W */
    probe_heads res;    /* w90, w95, grid */
} locality;

/* Sum of x[0..n) in 8 independent lanes (vectorisable without reassociation). */
static float sum8(const float *x, int n)
{
    float lane[8] = {0};
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) lane[l] += x[j + l];
    float s = 0;
    for (; j < n; j++) s += x[j];
    for (int l = 0; l < 8; l++) s += lane[l];
    return s;
}

static void loc_rows(void *user, const attn_call *c, const float *p, int ldp)
{
    locality *L = user;
    const int first = L->g.n_ctx / 2;
    double *acc = L->acc + ((size_t)c->layer * L->g.n_head + c->head) * L->n_w;
    for (int r = 0; r < c->n_q; r++) {
        int i = c->q_pos0 + r;
        if (i < first || i >= L->g.n_ctx) continue;
        const float *row = p + (size_t)r * ldp;
        double sink = sum8(row, SINK), s = 0;
        int hi = i + 1; /* keys [hi, i] are summed in s */
        for (int k = 0; k < L->n_w; k++) {
            int lo = i - STEP * (k + 1) + 1;
            if (lo < SINK) lo = SINK;
            if (lo < hi) {
                s += sum8(row + lo, hi - lo);
                hi = lo;
            }
            acc[k] += sink + s;
        }
        L->n_q[c->layer * L->g.n_head + c->head]++;
    }
}

/* Rows read: queries in [n_ctx/2, n_ctx). */
static int loc_want(void *user, int layer, int q_pos0, int n_q)
{
    const locality *L = user;
    (void)layer;
    return q_pos0 + n_q > L->g.n_ctx / 2 && q_pos0 < L->g.n_ctx;
}

static void loc_finish(locality *L)
{
    for (int h = 0; h < L->g.n_layer * L->g.n_head; h++) {
        L->w90[h] = L->w95[h] = L->n_w * STEP;
        for (int k = L->n_w - 1; k >= 0; k--) {
            double m = L->n_q[h] ? L->acc[(size_t)h * L->n_w + k] / L->n_q[h] : 0;
            L->mass[(size_t)h * L->n_w + k] = m;
            if (m >= 0.9) L->w90[h] = STEP * (k + 1);
            if (m >= 0.95) L->w95[h] = STEP * (k + 1);
        }
    }
}

static void loc_store(void *user, pb_db *db, const probe_case_info *ci)
{
    locality *L = user;
    loc_finish(L);
    char q[160];
    snprintf(q, sizeof q, "every position in [%d, %d) of each window", L->g.n_ctx / 2, L->g.n_ctx);
    db_case_begin(db);
    int64_t id = probe_case_insert(db, ci, "locality", &L->g, q);
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *m = db_prepare(db, "INSERT INTO probe_locality(run_id, case_id, layer, head, window, mass)"
                                     " VALUES (?,?,?,?,?,?)");
    sqlite3_stmt *w = db_prepare(db, "INSERT INTO probe_locality_head(run_id, case_id, layer, head, w90,"
                                     " w95, n_queries) VALUES (?,?,?,?,?,?,?)");
    for (int l = 0; l < L->g.n_layer; l++)
        for (int hd = 0; hd < L->g.n_head; hd++) {
            int x = l * L->g.n_head + hd;
            for (int k = 0; k < L->n_w; k++) {
                DB_CHECK(h, sqlite3_bind_int64(m, 1, ci->run_id));
                DB_CHECK(h, sqlite3_bind_int64(m, 2, id));
                DB_CHECK(h, sqlite3_bind_int(m, 3, l));
                DB_CHECK(h, sqlite3_bind_int(m, 4, hd));
                DB_CHECK(h, sqlite3_bind_int(m, 5, L->grid[k]));
                DB_CHECK(h, sqlite3_bind_double(m, 6, L->n_q[x] ? L->acc[(size_t)x * L->n_w + k] / L->n_q[x] : 0));
                db_step_reset(m);
            }
            DB_CHECK(h, sqlite3_bind_int64(w, 1, ci->run_id));
            DB_CHECK(h, sqlite3_bind_int64(w, 2, id));
            DB_CHECK(h, sqlite3_bind_int(w, 3, l));
            DB_CHECK(h, sqlite3_bind_int(w, 4, hd));
            DB_CHECK(h, sqlite3_bind_int(w, 5, L->w90[x]));
            DB_CHECK(h, sqlite3_bind_int(w, 6, L->w95[x]));
            DB_CHECK(h, sqlite3_bind_int64(w, 7, L->n_q[x]));
            db_step_reset(w);
        }
    DB_CHECK(h, sqlite3_finalize(m));
    DB_CHECK(h, sqlite3_finalize(w));
    db_case_commit(db);
}

static const probe_heads *loc_heads(void *user)
{
    locality *L = user;
    loc_finish(L);
    return &L->res;
}

static void loc_print(void *user, FILE *f)
{
    locality *L = user;
    loc_finish(L);
    int n = L->g.n_layer * L->g.n_head;
    fprintf(f, "locality: heads whose sink(4)+W window holds the mass (of %d heads, ctx %d)\n", n, L->g.n_ctx);
    fprintf(f, "  %8s %10s %10s\n", "W", "0.9 mass", "0.95 mass");
    for (int W = 64; W <= L->g.n_ctx; W *= 2) {
        int a = 0, b = 0;
        for (int h = 0; h < n; h++) {
            a += L->w90[h] <= W;
            b += L->w95[h] <= W;
        }
        fprintf(f, "  %8d %9.1f%% %9.1f%%\n", W, 100.0 * a / n, 100.0 * b / n);
    }
}

static void loc_free(void *user)
{
    locality *L = user;
    free(L->acc);
    free(L->n_q);
    free(L->w90);
    free(L->w95);
    free(L->mass);
    free(L->grid);
    free(L);
}

probe probe_locality(const probe_geom *g)
{
    locality *L = pb_calloc(1, sizeof *L);
    L->g = *g;
    L->n_w = g->n_ctx / STEP;
    size_t nh = (size_t)g->n_layer * g->n_head;
    L->acc = pb_calloc(nh * L->n_w, sizeof *L->acc);
    L->n_q = pb_calloc(nh, sizeof *L->n_q);
    L->w90 = pb_calloc(nh, sizeof *L->w90);
    L->w95 = pb_calloc(nh, sizeof *L->w95);
    L->mass = pb_calloc(nh * L->n_w, sizeof *L->mass);
    L->grid = pb_malloc((size_t)L->n_w * sizeof *L->grid);
    for (int k = 0; k < L->n_w; k++) L->grid[k] = STEP * (k + 1);
    L->res = (probe_heads){.n_layer = g->n_layer, .n_head = g->n_head, .w90 = L->w90, .w95 = L->w95,
                           .grid = L->grid, .n_grid = L->n_w, .mass = L->mass};
    return (probe){.name = "locality", .st = L, .obs = {L, NULL, loc_rows, loc_want, 1}, .store = loc_store,
                   .print = loc_print, .heads = loc_heads, .free = loc_free};
}
