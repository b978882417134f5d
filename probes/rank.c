/* rank.c — the rank probe: can an r-dim projection of pre-RoPE q and k find
 * the keys a query attends to? (RTPurbo's indexer, r = d/8, DESIGN.md §2.)
 *
 * Fit (window 0 only, all its positions): per query head the second moment
 * Cq = E[q q^T] of its pre-RoPE q; per KV head the covariance Sk of its
 * pre-RoPE k. Three projections, each giving the score of key k for query q
 * as q^T A_r k with A_r = G[:, :r] H[:r, :] (G, H: d x d):
 *   joint  the best rank-r approximation of the score q.k over keys: with
 *          Cq = Lq Lq^T (Lq = V D^1/2 from Cq's eigenvectors), whiten q
 *          (Lq^-1 q) and map k to Lq^T k so the dot product is unchanged,
 *          then keep the top r principal components of the mapped keys
 *          (eigenvectors U of Lq^T Sk Lq): G = Lq U, H = U^T Lq^-1. This is
 *          the r-dim indexer W_Q = U_r^T Lq^-1, W_K = U_r^T Lq^T. Chosen
 *          because the score, not q or k alone, is what must be preserved:
 *          it weighs key directions by how much queries use them.
 *   kpca   G = H^T = Vk, the top-r principal components of k (centered: a
 *          shift common to all keys moves every score of a query equally,
 *          which softmax ignores), applied to q and k alike;
 *   qpca   the same with q's uncentered second moment (q's mean matters
 *          to the score).
 * At r = d all three are the full pre-RoPE product q.k (no position
 * information: the model attends with post-RoPE q, k).
 * ev(r): the share of the eigenvalue sum in the top r (joint: of the score
 * variance across keys, E_q Var_k(q.k); kpca: of k's variance; qpca: of
 * q's second moment).
 *
 * Evaluation (windows 1.. n_windows-1, held out from the fit): the 32
 * queries at positions n_ctx-1 - k*n_ctx/64, k < 32, i.e. in [n_ctx/2,
 * n_ctx). For each: T = the exact top-p set (p = 0.9) of its dense row,
 * m = |T|; S_r = the m keys with the highest projected score (ties taken in
 * position order). recall =
 * |T ∩ S_r| / m; mass_recall = mass(S_r) / mass(T). Averaged per head.
 */
#include "probe.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "linalg.h"

enum { NQ = 32, NM = 3, MAXR = 8 };
static const char *const METHOD[NM] = {"joint", "kpca", "qpca"};
static const double TOPP = 0.9;

typedef struct {
    probe_geom g;
    int n_r, r[MAXR];       /* 2, 4, 8, 16, 32 (those < d), d */
    int cur;                /* window being run */
    /* fit: sums over window 0 */
    double *sq;             /* (n_layer*n_head, d, d) sum q q^T */
    double *sk, *mk;        /* (n_layer*n_head_kv, d, d) sum k k^T; (.., d) sum k */
    long n_fit;             /* tokens summed (the same for every head) */
    float *G, *H;           /* (n_layer*n_head, NM, d, d) projections */
    double *ev;             /* (n_layer*n_head, NM, n_r) */
    /* evaluation */
    float *kst;             /* (n_layer, n_head_kv, n_ctx, d) pre-RoPE k of the window */
    float *qcur;            /* (max chunk, n_head, d) pre-RoPE q of the last on_qk */
    int q_layer, q_pos0, q_n, q_cap;
    double *rec, *mrec;     /* (n_layer*n_head, NM, n_r) sums */
    long *n_eval;           /* (n_layer*n_head) */
    float *A, *S, *work;    /* scratch: (NM*n_r, d), (n_ctx, NM*n_r), (n_ctx) */
    float *tmp;             /* (d, d) */
} rank;

static void rank_qk(void *user, int layer, int pos0, int n, const float *q, const float *k)
{
    rank *R = user;
    const int d = R->g.d, H = R->g.n_head, HK = R->g.n_head_kv;
    if (R->cur == 0) { /* fit */
        for (int h = 0; h < H + HK; h++) {
            const float *X = h < H ? q + (size_t)h * d : k + (size_t)(h - H) * d;
            int ld = h < H ? H * d : HK * d;
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, d, n, 1.0f, X, ld, 0.0f, R->tmp, d);
            double *acc = h < H ? R->sq + ((size_t)layer * H + h) * d * d
                                : R->sk + ((size_t)layer * HK + h - H) * d * d;
            for (int i = 0; i < d; i++)
                for (int j = i; j < d; j++) acc[i * d + j] += R->tmp[i * d + j];
            if (h >= H)
                for (int t = 0; t < n; t++)
                    for (int i = 0; i < d; i++) R->mk[((size_t)layer * HK + h - H) * d + i] += X[(size_t)t * ld + i];
        }
        if (layer == 0) R->n_fit += n;
        return;
    }
    for (int h = 0; h < HK; h++)
        for (int t = 0; t < n; t++)
            memcpy(R->kst + (((size_t)layer * HK + h) * R->g.n_ctx + pos0 + t) * d, k + ((size_t)t * HK + h) * d,
                   (size_t)d * sizeof(float));
    if (n > R->q_cap) {
        R->q_cap = n;
        R->qcur = pb_realloc(R->qcur, (size_t)n * H * d * sizeof(float));
    }
    memcpy(R->qcur, q, (size_t)n * H * d * sizeof(float));
    R->q_layer = layer;
    R->q_pos0 = pos0;
    R->q_n = n;
}

/* Writes G, H (float) and ev for method m of head x from eigen-pairs. */
static void set_proj(rank *R, int x, int m, const double *G, const double *Hm, const double *lam)
{
    const int d = R->g.d;
    size_t o = ((size_t)x * NM + m) * d * d;
    for (int i = 0; i < d * d; i++) {
        R->G[o + i] = (float)G[i];
        R->H[o + i] = (float)Hm[i];
    }
    double tot = 0, acc = 0;
    for (int i = 0; i < d; i++) tot += lam[i] > 0 ? lam[i] : 0;
    for (int ri = 0, i = 0; ri < R->n_r; ri++) {
        for (; i < R->r[ri]; i++) acc += lam[i] > 0 ? lam[i] : 0;
        R->ev[((size_t)x * NM + m) * R->n_r + ri] = tot > 0 ? acc / tot : 0;
    }
}

static void rank_fit(rank *R)
{
    const int d = R->g.d, H = R->g.n_head, HK = R->g.n_head_kv;
    const size_t dd = (size_t)d * d;
    double *a = pb_malloc(dd * sizeof *a), *V = pb_malloc(dd * sizeof *V), *U = pb_malloc(dd * sizeof *U);
    double *G = pb_malloc(dd * sizeof *G), *Hm = pb_malloc(dd * sizeof *Hm), *M = pb_malloc(dd * sizeof *M);
    double *L = pb_malloc(dd * sizeof *L), *Sk = pb_malloc(dd * sizeof *Sk);
    double *lam = pb_malloc((size_t)d * sizeof *lam), *dq = pb_malloc((size_t)d * sizeof *dq);
    double *Vk = pb_malloc(dd * sizeof *Vk), *Hk = pb_malloc(dd * sizeof *Hk), *lamk = pb_malloc((size_t)d * sizeof *lamk);
    const double n = (double)R->n_fit;
    for (int l = 0; l < R->g.n_layer; l++)
        for (int h = 0; h < H; h++) {
            int x = l * H + h, y = l * HK + h / (H / HK);
            if (h % (H / HK) == 0) { /* once per KV head: Sk = E[k k^T] - mu mu^T and its PCA */
                const double *mu = R->mk + (size_t)y * d;
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < d; j++)
                        Sk[i * d + j] = R->sk[(size_t)y * dd + (i <= j ? i * d + j : j * d + i)] / n - mu[i] * mu[j] / (n * n);
                memcpy(a, Sk, dd * sizeof *a);
                sym_eig(a, d, lamk, Vk);
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < d; j++) Hk[i * d + j] = Vk[j * d + i];
            }
            set_proj(R, x, 1, Vk, Hk, lamk); /* kpca */
            /* qpca: Cq = E[q q^T] */
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) a[i * d + j] = R->sq[(size_t)x * dd + (i <= j ? i * d + j : j * d + i)] / n;
            sym_eig(a, d, dq, V);
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) Hm[i * d + j] = V[j * d + i];
            set_proj(R, x, 2, V, Hm, dq);
            /* joint: Lq = V D^1/2 (D floored so Lq stays invertible) */
            double floor = 1e-9 * (dq[0] > 0 ? dq[0] : 1);
            for (int i = 0; i < d; i++) dq[i] = sqrt(dq[i] > floor ? dq[i] : floor);
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) L[i * d + j] = V[i * d + j] * dq[j];
            /* M = Lq^T Sk Lq */
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) {
                    double s = 0;
                    for (int t = 0; t < d; t++) s += Sk[i * d + t] * L[t * d + j];
                    a[i * d + j] = s; /* Sk Lq */
                }
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) {
                    double s = 0;
                    for (int t = 0; t < d; t++) s += L[t * d + i] * a[t * d + j];
                    M[i * d + j] = s;
                }
            for (int i = 0; i < d; i++)
                for (int j = 0; j < i; j++) M[i * d + j] = M[j * d + i] = 0.5 * (M[i * d + j] + M[j * d + i]); /* exact symmetry */
            sym_eig(M, d, lam, U);
            /* G = Lq U; H = U^T Lq^-1 = U^T D^-1/2 V^T */
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) {
                    double g = 0, hh = 0;
                    for (int t = 0; t < d; t++) {
                        g += L[i * d + t] * U[t * d + j];
                        hh += U[t * d + i] / dq[t] * V[j * d + t];
                    }
                    G[i * d + j] = g;
                    Hm[i * d + j] = hh;
                }
            set_proj(R, x, 0, G, Hm, lam);
        }
    double *tofree[] = {a, V, U, G, Hm, M, L, Sk, lam, dq, Vk, Hk, lamk};
    for (size_t i = 0; i < sizeof tofree / sizeof tofree[0]; i++) free(tofree[i]);
}

static void rank_begin(void *user, int w) { ((rank *)user)->cur = w; }

static void rank_end(void *user, int w)
{
    if (w == 0) rank_fit(user);
}

/* One evaluated query: row p (n keys), pre-RoPE q (d), keys K (n, d). */
static void eval_query(rank *R, int x, const float *p, int n, const float *q, const float *K)
{
    const int d = R->g.d, na = NM * R->n_r;
    int m;
    topp_counts(p, n, &TOPP, 1, &m, R->work);
    memcpy(R->work, p, (size_t)n * sizeof(float));
    float tau = kth_largest(R->work, n, m);
    double exact = 0;
    for (int j = 0; j < n; j++)
        if (p[j] >= tau) exact += p[j];
    /* effective queries a_r = G[:, :r] (H[:r, :] q), cumulative in r */
    for (int mt = 0; mt < NM; mt++) {
        const float *G = R->G + ((size_t)x * NM + mt) * d * d, *H = R->H + ((size_t)x * NM + mt) * d * d;
        float *a = R->A + (size_t)mt * R->n_r * d, acc[256];
        memset(acc, 0, (size_t)d * sizeof *acc);
        for (int ri = 0, i = 0; ri < R->n_r; ri++) {
            for (; i < R->r[ri]; i++) {
                float c = 0;
                for (int t = 0; t < d; t++) c += H[i * d + t] * q[t];
                for (int t = 0; t < d; t++) acc[t] += G[t * d + i] * c;
            }
            memcpy(a + (size_t)ri * d, acc, (size_t)d * sizeof *acc);
        }
    }
    /* S (n, na) = K A^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, na, d, 1.0f, K, d, R->A, d, 0.0f, R->S, na);
    for (int c = 0; c < na; c++) {
        for (int j = 0; j < n; j++) R->work[j] = R->S[(size_t)j * na + c];
        float sigma = kth_largest(R->work, n, m);
        long hits = 0;
        double mass = 0;
        int need = m; /* exactly m keys: those above sigma, then ties in index order */
        for (int j = 0; j < n; j++)
            if (R->S[(size_t)j * na + c] > sigma) {
                hits += p[j] >= tau;
                mass += p[j];
                need--;
            }
        for (int j = 0; j < n && need > 0; j++)
            if (R->S[(size_t)j * na + c] == sigma) {
                hits += p[j] >= tau;
                mass += p[j];
                need--;
            }
        size_t o = (size_t)x * na + c; /* (x, method, r) */
        R->rec[o] += hits >= m ? 1.0 : (double)hits / m;
        R->mrec[o] += mass >= exact ? 1.0 : mass / exact;
    }
    R->n_eval[x]++;
}

static void rank_rows(void *user, const attn_call *c, const float *p, int ldp)
{
    rank *R = user;
    const int stride = R->g.n_ctx / 64, d = R->g.d;
    if (R->cur == 0 || c->layer != R->q_layer) return;
    for (int r = 0; r < c->n_q; r++) {
        int i = c->q_pos0 + r, k = (R->g.n_ctx - 1 - i) / stride;
        if (i >= R->g.n_ctx || (R->g.n_ctx - 1 - i) % stride || k >= NQ) continue;
        PB_CHECK(i >= R->q_pos0 && i < R->q_pos0 + R->q_n, "rank: query %d outside the q chunk", i);
        const float *q = R->qcur + ((size_t)(i - R->q_pos0) * R->g.n_head + c->head) * d;
        const float *K = R->kst + ((size_t)c->layer * R->g.n_head_kv + c->kv_head) * R->g.n_ctx * d;
        if (c->q && c->k) { /* RoPE keeps norms: the stored pre-RoPE vectors are this head's */
            const float *pairs[2][2] = {{q, c->q + (size_t)r * c->ldq}, {K + (size_t)i * d, c->k + (size_t)i * d}};
            for (int v = 0; v < 2; v++) {
                double a = 0, b = 0;
                for (int t = 0; t < d; t++) {
                    a += (double)pairs[v][0][t] * pairs[v][0][t];
                    b += (double)pairs[v][1][t] * pairs[v][1][t];
                }
                PB_CHECK(fabs(a - b) <= 1e-4 * (a + b) + 1e-12, "rank: pre-RoPE %s of layer %d head %d position %d "
                         "does not match the attention's (squared norms %g, %g)", v ? "k" : "q", c->layer, c->head, i, a, b);
            }
        }
        eval_query(R, c->layer * R->g.n_head + c->head, p + (size_t)r * ldp, i + 1, q, K);
    }
}

static void rank_store(void *user, pb_db *db, const probe_case_info *ci)
{
    rank *R = user;
    char q[200];
    snprintf(q, sizeof q, "fit: every position of window 0; evaluated: windows 1..%d, the %d positions "
             "%d-1-k*%d, k<%d", R->g.n_windows - 1, NQ, R->g.n_ctx, R->g.n_ctx / 64, NQ);
    db_case_begin(db);
    int64_t id = probe_case_insert(db, ci, "rank", &R->g, q);
    sqlite3 *h = db_sqlite(db);
    sqlite3_stmt *st = probe_prepare(db, "INSERT INTO probe_rank(run_id, case_id, layer, head, method, r,"
                                         " recall, mass_recall, ev, n_queries) VALUES (?,?,?,?,?,?,?,?,?,?)");
    for (int x = 0; x < R->g.n_layer * R->g.n_head; x++)
        for (int mt = 0; mt < NM; mt++)
            for (int ri = 0; ri < R->n_r; ri++) {
                size_t o = ((size_t)x * NM + mt) * R->n_r + ri;
                long n = R->n_eval[x];
                DB_CHECK(h, sqlite3_bind_int64(st, 1, ci->run_id));
                DB_CHECK(h, sqlite3_bind_int64(st, 2, id));
                DB_CHECK(h, sqlite3_bind_int(st, 3, x / R->g.n_head));
                DB_CHECK(h, sqlite3_bind_int(st, 4, x % R->g.n_head));
                DB_CHECK(h, sqlite3_bind_text(st, 5, METHOD[mt], -1, SQLITE_STATIC));
                DB_CHECK(h, sqlite3_bind_int(st, 6, R->r[ri]));
                DB_CHECK(h, sqlite3_bind_double(st, 7, n ? R->rec[o] / n : 0));
                DB_CHECK(h, sqlite3_bind_double(st, 8, n ? R->mrec[o] / n : 0));
                DB_CHECK(h, sqlite3_bind_double(st, 9, R->ev[o]));
                DB_CHECK(h, sqlite3_bind_int64(st, 10, n));
                probe_step_reset(db, st);
            }
    DB_CHECK(h, sqlite3_finalize(st));
    db_case_commit(db);
}

static void rank_print(void *user, FILE *f)
{
    rank *R = user;
    const int nh = R->g.n_layer * R->g.n_head;
    double *v = pb_malloc((size_t)nh * sizeof *v);
    fprintf(f, "rank: medians over %d heads (recall of the exact top-0.9 set | its mass | explained variance)\n", nh);
    for (int mt = 0; mt < NM; mt++) {
        fprintf(f, "  %-5s", METHOD[mt]);
        for (int ri = 0; ri < R->n_r; ri++) {
            double med[3];
            for (int k = 0; k < 3; k++) {
                for (int x = 0; x < nh; x++) {
                    size_t o = ((size_t)x * NM + mt) * R->n_r + ri;
                    long n = R->n_eval[x];
                    v[x] = k == 2 ? R->ev[o] : !n ? 0 : (k == 0 ? R->rec[o] : R->mrec[o]) / n;
                }
                bench_row b;
                bench_stats(v, nh, &b);
                med[k] = b.t_median;
            }
            fprintf(f, "  r=%d %.2f|%.2f|%.2f", R->r[ri], med[0], med[1], med[2]);
        }
        fprintf(f, "\n");
    }
    free(v);
}

static void rank_free(void *user)
{
    rank *R = user;
    void *ps[] = {R->sq, R->sk, R->mk, R->G, R->H, R->ev, R->kst, R->qcur, R->rec, R->mrec, R->n_eval,
                  R->A, R->S, R->work, R->tmp};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) free(ps[i]);
    free(R);
}

probe probe_rank(const probe_geom *g)
{
    PB_CHECK(g->d <= 256, "rank probe: head_dim %d > 256", g->d);
    rank *R = pb_calloc(1, sizeof *R);
    R->g = *g;
    for (int r = 2; r < g->d && r <= 32; r *= 2) R->r[R->n_r++] = r;
    R->r[R->n_r++] = g->d;
    const size_t nh = (size_t)g->n_layer * g->n_head, nk = (size_t)g->n_layer * g->n_head_kv,
                 dd = (size_t)g->d * g->d, na = (size_t)NM * R->n_r;
    R->sq = pb_calloc(nh * dd, sizeof *R->sq);
    R->sk = pb_calloc(nk * dd, sizeof *R->sk);
    R->mk = pb_calloc(nk * g->d, sizeof *R->mk);
    R->G = pb_calloc(nh * NM * dd, sizeof *R->G);
    R->H = pb_calloc(nh * NM * dd, sizeof *R->H);
    R->ev = pb_calloc(nh * na, sizeof *R->ev);
    R->kst = pb_calloc(nk * (size_t)g->n_ctx * g->d, sizeof *R->kst);
    R->rec = pb_calloc(nh * na, sizeof *R->rec);
    R->mrec = pb_calloc(nh * na, sizeof *R->mrec);
    R->n_eval = pb_calloc(nh, sizeof *R->n_eval);
    R->A = pb_malloc(na * g->d * sizeof *R->A);
    R->S = pb_malloc((size_t)g->n_ctx * na * sizeof *R->S);
    R->work = pb_malloc((size_t)g->n_ctx * sizeof *R->work);
    R->tmp = pb_malloc(dd * sizeof *R->tmp);
    R->q_layer = -1;
    return (probe){.name = "rank", .st = R, .obs = {R, rank_qk, rank_rows}, .window_begin = rank_begin,
                   .window_end = rank_end, .store = rank_store, .print = rank_print, .free = rank_free};
}
