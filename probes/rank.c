/* rank.c — the rank probe: can an r-dim projection of pre-RoPE q and k find
 * the keys a query attends to? (RTPurbo's indexer, r = d/8, METHOD.md §2.)
 *
 * Fit (window 0 only, all its positions): the second moments of each query
 * head's pre-RoPE q and of its KV head's pre-RoPE k (indexer_moments,
 * engine/policy/indexer.h). Three projections, each giving the score of key k for
 * query q as (W_Q q)·(W_K k), W_Q and W_K the first r rows of (d, d)
 * matrices:
 *   joint  the engine's indexer initialisation (indexer_fit): the best
 *          rank-r approximation of the score q.k under the calibration
 *          moments, i.e. exactly what the rtpurbo policy starts from. Its
 *          rows do not depend on r (row i comes from the i-th singular
 *          pair), so one fit at r = d gives every r. Chosen because the
 *          score, not q or k alone, is what must be preserved: it weighs key
 *          directions by how much queries use them.
 *   kpca   W_Q = W_K = the top-r principal components of k (centered: a
 *          shift common to all keys moves every score of a query equally,
 *          which softmax ignores), applied to q and k alike;
 *   qpca   the same with q's uncentered second moment (q's mean matters
 *          to the score).
 * At r = d all three are the full pre-RoPE product q.k (no position
 * information: the model attends with post-RoPE q, k).
 * ev(r), explained variance: joint: the share of the score variance over
 * keys, E_q Var_k(q.k) = tr(Ck Cq), kept by the rank-r score,
 * tr(A Ck A^T Cq) / tr(Ck Cq) with A = W_Q^T W_K; kpca: the share of k's
 * variance in the top r components; qpca: the same of q's second moment.
 *
 * Evaluation (windows 1.. n_windows-1, held out from the fit): the 32
 * queries at positions n_ctx-1 - k*n_ctx/64, k < 32, i.e. in [n_ctx/2,
 * n_ctx). For each: T = the exact top-p set (p = 0.9) of its dense row,
 * m = |T|; S_r = the m keys with the highest projected score (ties taken in
 * position order). recall =
 * |T ∩ S_r| / m; mass_recall = mass(S_r) / mass(T). Averaged per head.
 * Rows of different heads may arrive on several threads at once
 * (attention.h, parallel_heads): scratch per head, BLAS under a lock.
 */
#include "probes/probe_impl.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "policy/indexer.h"

enum { NQ = 32, NM = 3, MAXR = 8 };
static const char *const METHOD[NM] = {"joint", "kpca", "qpca"};
static const double TOPP = 0.9;

typedef struct {
    probe_geom g;
    int n_r, r[MAXR];       /* 2, 4, 8, 16, 32 (those < d), d */
    int cur;                /* window being run */
    /* fit: sums over window 0 */
    indexer_moments *mq;    /* (n_layer*n_head) pre-RoPE q of each query head */
    indexer_moments *mk;    /* (n_layer*n_head_kv) pre-RoPE k of each KV head */
    float *G, *H;           /* (n_layer*n_head, NM, d, d): G = W_K^T (columns), H = W_Q (rows) */
    double *ev;             /* (n_layer*n_head, NM, n_r) */
    /* evaluation */
    float *kst;             /* (n_layer, n_head_kv, n_ctx, d) pre-RoPE k of the window */
    float *qcur;            /* (max chunk, n_head, d) pre-RoPE q of the last on_qk */
    int q_layer, q_pos0, q_n, q_cap;
    double *rec, *mrec;     /* (n_layer*n_head, NM, n_r) sums */
    long *n_eval;           /* (n_layer*n_head) */
    float *A, *S, *work;    /* scratch per head of a layer: (n_head, NM*n_r, d), (n_head, n_ctx, NM*n_r),
                             * (n_head, n_ctx) (heads may run at once) */
} rank;

static void rank_qk(void *user, int layer, int pos0, int n, const float *q, const float *k)
{
    rank *R = user;
    const int d = R->g.d, H = R->g.n_head, HK = R->g.n_head_kv;
    if (R->cur == 0) { /* fit */
        for (int h = 0; h < H; h++) indexer_moments_add_q(&R->mq[layer * H + h], q + (size_t)h * d, n, H * d);
        for (int h = 0; h < HK; h++) indexer_moments_add_k(&R->mk[layer * HK + h], k + (size_t)h * d, n, HK * d);
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

/* Stores method m of head x: W_Q = wq, W_K = wk (d, d, row i = component i). */
static void set_proj(rank *R, int x, int m, const double *wq, const double *wk)
{
    const int d = R->g.d;
    size_t o = ((size_t)x * NM + m) * d * d;
    for (int i = 0; i < d; i++)
        for (int t = 0; t < d; t++) {
            R->H[o + (size_t)i * d + t] = (float)wq[i * d + t];
            R->G[o + (size_t)t * d + i] = (float)wk[i * d + t];
        }
}

/* ev of method m of head x from eigenvalues lam (descending): prefix shares. */
static void set_ev_eig(rank *R, int x, int m, const double *lam)
{
    double tot = 0, acc = 0;
    for (int i = 0; i < R->g.d; i++) tot += lam[i] > 0 ? lam[i] : 0;
    for (int ri = 0, i = 0; ri < R->n_r; ri++) {
        for (; i < R->r[ri]; i++) acc += lam[i] > 0 ? lam[i] : 0;
        R->ev[((size_t)x * NM + m) * R->n_r + ri] = tot > 0 ? acc / tot : 0;
    }
}

/* c (d, d) = the moment in s (sums in the upper triangle) / n, minus mu mu^T
 * when mu (sums) is given. */
static void moment(double *c, const double *s, const double *mu, double n, int d)
{
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++)
            c[i * d + j] = s[i <= j ? i * d + j : j * d + i] / n - (mu ? mu[i] * mu[j] / (n * n) : 0);
}

/* tr(X Y), X, Y (d, d) */
static double trace_prod(const double *X, const double *Y, int d)
{
    double t = 0;
    for (int i = 0; i < d; i++)
        for (int k = 0; k < d; k++) t += X[i * d + k] * Y[k * d + i];
    return t;
}

static void rank_fit(rank *R)
{
    const int d = R->g.d, H = R->g.n_head, HK = R->g.n_head_kv;
    const size_t dd = (size_t)d * d;
    double *buf = pb_malloc(10 * dd * sizeof *buf), *lam = pb_malloc((size_t)d * sizeof *lam);
    double *cq = buf, *ck = buf + dd, *a = buf + 2 * dd, *v = buf + 3 * dd, *w = buf + 4 * dd, *vk = buf + 5 * dd,
           *A = buf + 6 * dd, *B = buf + 7 * dd, *C = buf + 8 * dd, *wk = buf + 9 * dd;
    float *fq = pb_malloc(dd * sizeof *fq), *fk = pb_malloc(dd * sizeof *fk);
    double *lamk = pb_malloc((size_t)d * sizeof *lamk);
    for (int l = 0; l < R->g.n_layer; l++)
        for (int h = 0; h < H; h++) {
            int x = l * H + h, y = l * HK + h / (H / HK);
            const indexer_moments *mq = &R->mq[x], *mk = &R->mk[y];
            moment(cq, mq->qq, NULL, mq->nq, d);
            moment(ck, mk->kk, mk->ks, mk->nk, d);
            if (h % (H / HK) == 0) { /* kpca, once per KV head: rows of vk = components */
                memcpy(a, ck, dd * sizeof *a);
                pb_sym_eig(a, d, lamk, v);
                for (int i = 0; i < d; i++)
                    for (int t = 0; t < d; t++) vk[i * d + t] = v[t * d + i];
            }
            set_proj(R, x, 1, vk, vk);
            set_ev_eig(R, x, 1, lamk);
            memcpy(a, cq, dd * sizeof *a); /* qpca */
            pb_sym_eig(a, d, lam, v);
            for (int i = 0; i < d; i++)
                for (int t = 0; t < d; t++) w[i * d + t] = v[t * d + i];
            set_proj(R, x, 2, w, w);
            set_ev_eig(R, x, 2, lam);
            indexer_fit(mq, mk, d, fq, fk); /* joint */
            for (size_t i = 0; i < dd; i++) {
                w[i] = fq[i];
                wk[i] = fk[i];
            }
            set_proj(R, x, 0, w, wk);
            /* ev: tr(A Ck A^T Cq) / tr(Ck Cq), A = sum of the first r outer products W_Q[i]^T W_K[i] */
            double tot = trace_prod(ck, cq, d);
            memset(A, 0, dd * sizeof *A);
            for (int ri = 0, i = 0; ri < R->n_r; ri++) {
                for (; i < R->r[ri]; i++)
                    for (int s = 0; s < d; s++)
                        for (int t = 0; t < d; t++) A[s * d + t] += w[i * d + s] * wk[i * d + t];
                for (int s = 0; s < d; s++) /* B = A Ck, C = A^T Cq */
                    for (int t = 0; t < d; t++) {
                        double b = 0, c = 0;
                        for (int u = 0; u < d; u++) {
                            b += A[s * d + u] * ck[u * d + t];
                            c += A[u * d + s] * cq[u * d + t];
                        }
                        B[s * d + t] = b;
                        C[s * d + t] = c;
                    }
                R->ev[((size_t)x * NM) * R->n_r + ri] = tot > 0 ? trace_prod(B, C, d) / tot : 0;
            }
        }
    free(buf);
    free(lam);
    free(lamk);
    free(fq);
    free(fk);
}

static void rank_begin(void *user, int w) { ((rank *)user)->cur = w; }

static void rank_end(void *user, int w)
{
    if (w == 0) rank_fit(user);
}

/* BLAS is called by one head at a time (rows of several heads may arrive
 * at once; not every BLAS build takes concurrent callers). */
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;

/* One evaluated query of head h (x = layer * n_head + h): row p (n keys),
 * pre-RoPE q (d), keys K (n, d). */
static void eval_query(rank *R, int x, int h, const float *p, int n, const float *q, const float *K)
{
    const int d = R->g.d, na = NM * R->n_r;
    float *A = R->A + (size_t)h * na * d, *S = R->S + (size_t)h * R->g.n_ctx * na;
    float *work = R->work + (size_t)h * R->g.n_ctx;
    int m;
    topp_counts(p, n, &TOPP, 1, &m, work);
    memcpy(work, p, (size_t)n * sizeof(float));
    float tau = kth_largest(work, n, m);
    double exact = 0;
    for (int j = 0; j < n; j++)
        if (p[j] >= tau) exact += p[j];
    /* effective queries a_r = G[:, :r] (H[:r, :] q), cumulative in r */
    for (int mt = 0; mt < NM; mt++) {
        const float *G = R->G + ((size_t)x * NM + mt) * d * d, *H = R->H + ((size_t)x * NM + mt) * d * d;
        float *a = A + (size_t)mt * R->n_r * d, acc[256];
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
    pthread_mutex_lock(&blas_lock);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, na, d, 1.0f, K, d, A, d, 0.0f, S, na);
    pthread_mutex_unlock(&blas_lock);
    for (int c = 0; c < na; c++) {
        for (int j = 0; j < n; j++) work[j] = S[(size_t)j * na + c];
        float sigma = kth_largest(work, n, m);
        long hits = 0;
        double mass = 0;
        int need = m; /* exactly m keys: those above sigma, then ties in index order */
        for (int j = 0; j < n; j++)
            if (S[(size_t)j * na + c] > sigma) {
                hits += p[j] >= tau;
                mass += p[j];
                need--;
            }
        for (int j = 0; j < n && need > 0; j++)
            if (S[(size_t)j * na + c] == sigma) {
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
        eval_query(R, c->layer * R->g.n_head + c->head, c->head, p + (size_t)r * ldp, i + 1, q, K);
    }
}

/* Rows read: none of window 0 (the fit reads q and k only); then the span
 * n_ctx-1-(NQ-1)*stride .. n_ctx-1 of the evaluated queries. */
static int rank_want(void *user, int layer, int q_pos0, int n_q)
{
    const rank *R = user;
    const int stride = R->g.n_ctx / 64, lo = R->g.n_ctx - 1 - (NQ - 1) * stride;
    (void)layer;
    return R->cur != 0 && q_pos0 + n_q > lo && q_pos0 < R->g.n_ctx;
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
    sqlite3_stmt *st = db_prepare(db, "INSERT INTO probe_rank(run_id, case_id, layer, head, method, r,"
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
                db_step_reset(st);
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
    for (int i = 0; i < R->g.n_layer * R->g.n_head; i++) indexer_moments_free(&R->mq[i]);
    for (int i = 0; i < R->g.n_layer * R->g.n_head_kv; i++) indexer_moments_free(&R->mk[i]);
    void *ps[] = {R->mq, R->mk, R->G, R->H, R->ev, R->kst, R->qcur, R->rec, R->mrec, R->n_eval, R->A, R->S, R->work};
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
    R->mq = pb_malloc(nh * sizeof *R->mq);
    R->mk = pb_malloc(nk * sizeof *R->mk);
    for (size_t i = 0; i < nh; i++) indexer_moments_init(&R->mq[i], g->d);
    for (size_t i = 0; i < nk; i++) indexer_moments_init(&R->mk[i], g->d);
    R->G = pb_calloc(nh * NM * dd, sizeof *R->G);
    R->H = pb_calloc(nh * NM * dd, sizeof *R->H);
    R->ev = pb_calloc(nh * na, sizeof *R->ev);
    R->kst = pb_calloc(nk * (size_t)g->n_ctx * g->d, sizeof *R->kst);
    R->rec = pb_calloc(nh * na, sizeof *R->rec);
    R->mrec = pb_calloc(nh * na, sizeof *R->mrec);
    R->n_eval = pb_calloc(nh, sizeof *R->n_eval);
    R->A = pb_malloc((size_t)g->n_head * na * g->d * sizeof *R->A);
    R->S = pb_malloc((size_t)g->n_head * g->n_ctx * na * sizeof *R->S);
    R->work = pb_malloc((size_t)g->n_head * g->n_ctx * sizeof *R->work);
    R->q_layer = -1;
    return (probe){.name = "rank", .st = R, .obs = {R, rank_qk, rank_rows, rank_want, 1}, .window_begin = rank_begin,
                   .window_end = rank_end, .store = rank_store, .print = rank_print, .free = rank_free};
}
