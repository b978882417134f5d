/* convert_kd.c — the distillation set of one retrieval query head and its
 * loss: forward KL(teacher || student) and the hand-written gradient
 * (convert.h describes the student and the teacher).
 *
 * Queries are processed per window, in chunks of KD_CHUNK rows sorted by
 * position; for a window whose chunk's last query sits at position P the
 * keys 0..P are the causal range (n = P + 1). Per window group:
 *     KX  (n, r)  = K_w[0:n] W_K^T                      index keys
 *     QX  (b, r)  = Q_b W_Q^T                           indexed queries
 *     U   (b, n)  = QX KX^T,  z = U / tau               (row i: j <= pos_i)
 *     s   = softmax_j(z);  L_i = sum t log t - sum t z + tsum * lse(z)
 * Backward, with L the mean over the N queries of the call:
 *     dL/dz_j   = (tsum s_j - t_j) / N        (tsum = sum_j t_j, 1 up to rounding)
 *     G   (b, n) = dL/du = dL/dz / tau        (0 beyond the causal range)
 *     dL/dlog_tau = -sum_j dL/dz_j z_j
 *     dQX = G KX,  dKX += G^T QX,  dW_Q += dQX^T Q_b,  dW_K += dKX^T K_w[0:n]
 * The products go through cblas_sgemm; sums of a row's terms in double.
 */
#include "convert/convert.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "policy/attn_sparse.h"
#include "base/common.h"
#include "kernels/ops.h"

enum { KD_CHUNK = 64 };

struct kd_work {
    int n_ctx, d, r;
    float *kx;      /* (n_ctx, r) index keys of the current window */
    float *dkx;     /* (n_ctx, r) their gradient */
    float *qg;      /* (KD_CHUNK, d) gathered queries */
    float *qx;      /* (KD_CHUNK, r) */
    float *dqx;     /* (KD_CHUNK, r) */
    float *u;       /* (KD_CHUNK, n_ctx) scores, then G */
    float *srow;    /* (n_ctx) one row's probabilities */
};

void kd_set_init(kd_set *s, int d, int n_win, int n_ctx, int n_q)
{
    PB_CHECK(d > 0 && n_win > 0 && n_ctx > 0 && n_q > 0, "kd_set_init: d %d, %d windows of %d, %d queries", d, n_win,
             n_ctx, n_q);
    memset(s, 0, sizeof *s);
    s->d = d;
    s->n_win = n_win;
    s->n_ctx = n_ctx;
    s->n_q = n_q;
    s->k = pb_malloc((size_t)n_win * n_ctx * d * sizeof(float));
    s->q = pb_malloc((size_t)n_q * d * sizeof(float));
    s->q_win = pb_malloc((size_t)n_q * sizeof(int));
    s->q_pos = pb_malloc((size_t)n_q * sizeof(int));
}

void kd_set_free(kd_set *s)
{
    free(s->k);
    free(s->q);
    free(s->q_win);
    free(s->q_pos);
    free(s->t);
    free(s->t_off);
    free(s->t_negent);
    free(s->t_lse);
    free(s->a_mid);
    free(s->a_logit);
    memset(s, 0, sizeof *s);
}

/* The end (exclusive) of the run of queries from i0 in the same window, at
 * most KD_CHUNK long. */
static int chunk_end(const kd_set *s, const int *idx, int n, int i0)
{
    int i1 = i0 + 1;
    while (i1 < n && i1 - i0 < KD_CHUNK && s->q_win[idx[i1]] == s->q_win[idx[i0]]) i1++;
    return i1;
}

/* The end of the run of queries from i0 in the same window (any length). */
static int group_end(const kd_set *s, const int *idx, int n, int i0)
{
    int i1 = i0 + 1;
    while (i1 < n && s->q_win[idx[i1]] == s->q_win[idx[i0]]) i1++;
    return i1;
}

void kd_set_teacher(kd_set *s, float rope_base, int rope_style)
{
    void (*rope)(float *, int, int, int, int, float) = rope_style == ROPE_NEOX ? cpu_rope_neox : cpu_rope;
    const int d = s->d, n_ctx = s->n_ctx;
    for (int i = 0; i < s->n_q; i++) {
        PB_CHECK(s->q_win[i] >= 0 && s->q_win[i] < s->n_win && s->q_pos[i] >= 0 && s->q_pos[i] < n_ctx,
                 "query %d: window %d position %d out of range", i, s->q_win[i], s->q_pos[i]);
        PB_CHECK(i == 0 || s->q_win[i] > s->q_win[i - 1] ||
                     (s->q_win[i] == s->q_win[i - 1] && s->q_pos[i] >= s->q_pos[i - 1]),
                 "queries not sorted by (window, position) at %d", i);
    }
    free(s->t);
    free(s->t_off);
    free(s->t_negent);
    free(s->t_lse);
    free(s->a_mid);
    free(s->a_logit);
    s->a_mid = NULL;
    s->a_logit = NULL;
    s->a_block = 0;
    s->t_off = pb_malloc((size_t)(s->n_q + 1) * sizeof(size_t));
    s->t_off[0] = 0;
    for (int i = 0; i < s->n_q; i++) s->t_off[i + 1] = s->t_off[i] + (size_t)s->q_pos[i] + 1;
    s->t = pb_malloc(s->t_off[s->n_q] * sizeof(float));
    s->t_negent = pb_malloc((size_t)s->n_q * sizeof(double));
    s->t_lse = pb_malloc((size_t)s->n_q * sizeof(float));

    float *kr = pb_malloc((size_t)n_ctx * d * sizeof(float));      /* (n_ctx, d) post-RoPE keys */
    float *qr = pb_malloc((size_t)KD_CHUNK * d * sizeof(float));   /* (KD_CHUNK, d) post-RoPE queries */
    float *sc = pb_malloc((size_t)KD_CHUNK * n_ctx * sizeof(float));
    const float scale = 1.0f / sqrtf((float)d);
    int all[KD_CHUNK];
    int cur_win = -1;
    for (int i0 = 0; i0 < s->n_q;) {
        int i1 = i0 + 1;
        while (i1 < s->n_q && i1 - i0 < KD_CHUNK && s->q_win[i1] == s->q_win[i0]) i1++;
        int w = s->q_win[i0], b = i1 - i0, n = s->q_pos[i1 - 1] + 1;
        if (w != cur_win) {
            memcpy(kr, s->k + (size_t)w * n_ctx * d, (size_t)n_ctx * d * sizeof(float));
            rope(kr, n_ctx, 1, d, 0, rope_base);
            cur_win = w;
        }
        for (int i = 0; i < b; i++) {
            all[i] = i0 + i;
            memcpy(qr + (size_t)i * d, s->q + (size_t)(i0 + i) * d, (size_t)d * sizeof(float));
            rope(qr + (size_t)i * d, 1, 1, d, s->q_pos[i0 + i], rope_base);
        }
        /* sc (b, n) = scale * Qr Kr[0:n]^T, as the dense policy */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, n, d, scale, qr, d, kr, d, 0.0f, sc, n);
        for (int i = 0; i < b; i++) {
            int len = s->q_pos[all[i]] + 1;
            float *row = sc + (size_t)i * n, *t = s->t + s->t_off[all[i]];
            float mx = -INFINITY;
            for (int j = 0; j < len; j++) mx = row[j] > mx ? row[j] : mx;
            double se = 0;
            for (int j = 0; j < len; j++) se += exp((double)row[j] - mx);
            s->t_lse[all[i]] = (float)(mx + log(se));
            cpu_softmax_rows(row, 1, len);
            memcpy(t, row, (size_t)len * sizeof(float));
            double ne = 0;
            for (int j = 0; j < len; j++)
                if (t[j] > 0) ne += (double)t[j] * log((double)t[j]);
            s->t_negent[all[i]] = ne;
        }
        i0 = i1;
    }
    free(kr);
    free(qr);
    free(sc);
}

void kd_set_anchor(kd_set *s, int g, int sink, int local)
{
    PB_CHECK(g >= 0 && sink >= 0 && local >= 0, "kd_set_anchor: block %d, sink %d, local %d", g, sink, local);
    PB_CHECK(s->t, "kd_set_anchor before kd_set_teacher");
    s->a_block = g;
    s->a_sink = sink;
    s->a_local = local;
    free(s->a_mid);
    free(s->a_logit);
    s->a_mid = NULL;
    s->a_logit = NULL;
    if (!g) return;
    plan_params prm = plan_defaults;
    prm.block = g;
    prm.sink = sink;
    prm.local = local;
    s->a_mid = pb_malloc((size_t)2 * s->n_q * sizeof(int));
    s->a_logit = pb_malloc(s->t_off[s->n_q] * sizeof(float));
    for (int i = 0; i < s->n_q; i++) {
        forced_middle(g, s->q_pos[i], &prm, &s->a_mid[2 * i], &s->a_mid[2 * i + 1]);
        const float *t = s->t + s->t_off[i];
        float *a = s->a_logit + s->t_off[i];
        for (int j = 0; j <= s->q_pos[i]; j++) a[j] = t[j] > 0.0f ? logf(t[j]) + s->t_lse[i] : -INFINITY;
    }
}

/* The middle [*lo, *hi) of query q's row: the student's positions; the
 * rest take the teacher's logits (a_logit). All of 0..pos unanchored. */
static void row_middle(const kd_set *s, int q, int *lo, int *hi)
{
    if (!s->a_mid) {
        *lo = 0;
        *hi = s->q_pos[q] + 1;
        return;
    }
    *lo = s->a_mid[2 * q];
    *hi = s->a_mid[2 * q + 1];
}

kd_work *kd_work_new(const kd_set *s, int r)
{
    PB_CHECK(r >= 1 && r <= s->d, "indexer rank %d for head dim %d", r, s->d);
    kd_work *w = pb_calloc(1, sizeof *w);
    w->n_ctx = s->n_ctx;
    w->d = s->d;
    w->r = r;
    w->kx = pb_malloc((size_t)s->n_ctx * r * sizeof(float));
    w->dkx = pb_malloc((size_t)s->n_ctx * r * sizeof(float));
    w->qg = pb_malloc((size_t)KD_CHUNK * s->d * sizeof(float));
    w->qx = pb_malloc((size_t)KD_CHUNK * r * sizeof(float));
    w->dqx = pb_malloc((size_t)KD_CHUNK * r * sizeof(float));
    w->u = pb_malloc((size_t)KD_CHUNK * s->n_ctx * sizeof(float));
    w->srow = pb_malloc((size_t)s->n_ctx * sizeof(float));
    return w;
}

void kd_work_free(kd_work *w)
{
    if (!w) return;
    free(w->kx);
    free(w->dkx);
    free(w->qg);
    free(w->qx);
    free(w->dqx);
    free(w->u);
    free(w->srow);
    free(w);
}

/* KX (n, r) = K_w[0:n] W_K^T for window win. */
static void index_keys(const kd_set *s, int win, int n, int r, const float *wk, kd_work *w)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, r, s->d, 1.0f, s->k + (size_t)win * s->n_ctx * s->d,
                s->d, wk, s->d, 0.0f, w->kx, r);
}

/* U (b, n) = QX KX^T for the queries idx[i0..i1) (gathered into qg). */
static void chunk_scores(const kd_set *s, const int *idx, int i0, int i1, int n, int r, const float *wq, kd_work *w)
{
    const int b = i1 - i0, d = s->d;
    for (int i = 0; i < b; i++) memcpy(w->qg + (size_t)i * d, s->q + (size_t)idx[i0 + i] * d, (size_t)d * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, r, d, 1.0f, w->qg, d, wq, d, 0.0f, w->qx, r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, n, r, 1.0f, w->qx, r, w->kx, r, 0.0f, w->u, n);
}

static void check_idx(const kd_set *s, const int *idx, int n)
{
    for (int i = 0; i < n; i++)
        PB_CHECK(idx[i] >= 0 && idx[i] < s->n_q && (i == 0 || idx[i] > idx[i - 1]),
                 "query indices must ascend within [0, %d): idx[%d] = %d", s->n_q, i, idx[i]);
}

double kd_loss(const kd_set *s, const int *idx, int n, int r, const float *wq, const float *wk, float log_tau,
               float *gwq, float *gwk, float *glog_tau, kd_work *w)
{
    PB_CHECK(w->r == r && w->n_ctx == s->n_ctx && n > 0, "kd_loss: work for r %d, n_ctx %d; %d queries", w->r,
             w->n_ctx, n);
    check_idx(s, idx, n);
    const int d = s->d, grad = gwq != NULL;
    const float beta = expf(-log_tau), inv_n = 1.0f / (float)n;
    if (grad) {
        memset(gwq, 0, (size_t)r * d * sizeof(float));
        memset(gwk, 0, (size_t)r * d * sizeof(float));
    }
    double loss = 0, gtau = 0;
    for (int g0 = 0; g0 < n;) {
        int g1 = group_end(s, idx, n, g0), win = s->q_win[idx[g0]];
        int ng = s->q_pos[idx[g1 - 1]] + 1;  /* keys the group can see */
        index_keys(s, win, ng, r, wk, w);
        if (grad) memset(w->dkx, 0, (size_t)ng * r * sizeof(float));
        for (int i0 = g0; i0 < g1;) {
            int i1 = chunk_end(s, idx, g1, i0), b = i1 - i0, nc = s->q_pos[idx[i1 - 1]] + 1;
            chunk_scores(s, idx, i0, i1, nc, r, wq, w);
            for (int i = 0; i < b; i++) {
                int q = idx[i0 + i], len = s->q_pos[q] + 1, lo, hi;
                float *u = w->u + (size_t)i * nc, *sr = w->srow;
                const float *t = s->t + s->t_off[q], *a = s->a_logit ? s->a_logit + s->t_off[q] : NULL;
                row_middle(s, q, &lo, &hi);
                float zmax = -INFINITY;
                int am = 0;
                double tz = 0, tsum = 0;
                for (int j = 0; j < len; j++) {
                    float z = j >= lo && j < hi ? u[j] * beta : a[j];
                    sr[j] = z;
                    if (z > zmax) zmax = z, am = j;
                    if (t[j] > 0.0f) tz += (double)t[j] * z;
                    tsum += t[j];
                }
                cpu_softmax_rows(sr, 1, len);
                double lse = (double)zmax - log((double)sr[am]);
                loss += s->t_negent[q] - tz + tsum * lse;
                if (!grad) continue;
                double sz = 0;
                for (int j = 0; j < lo; j++) u[j] = 0.0f;            /* anchored: no parameters */
                for (int j = lo; j < hi; j++) {
                    float gz = ((float)tsum * sr[j] - t[j]) * inv_n; /* dL/dz_j */
                    sz += (double)gz * (u[j] * beta);
                    u[j] = gz * beta;                                /* dL/du_j */
                }
                for (int j = hi; j < nc; j++) u[j] = 0.0f;
                gtau -= sz;
            }
            if (grad) {
                /* dQX (b, r) = G KX; dW_Q += dQX^T Q_b; dKX[0:nc] += G^T QX */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, r, nc, 1.0f, w->u, nc, w->kx, r, 0.0f,
                            w->dqx, r);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, d, b, 1.0f, w->dqx, r, w->qg, d, 1.0f, gwq, d);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nc, r, b, 1.0f, w->u, nc, w->qx, r, 1.0f, w->dkx,
                            r);
            }
            i0 = i1;
        }
        /* dW_K += dKX^T K_w[0:ng] */
        if (grad)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, d, ng, 1.0f, w->dkx, r,
                        s->k + (size_t)win * s->n_ctx * d, d, 1.0f, gwk, d);
        g0 = g1;
    }
    if (grad) *glog_tau = (float)gtau;
    return loss / n;
}

void kd_student(const kd_set *s, const int *idx, int n, int r, const float *wq, const float *wk, float log_tau,
                float *out, size_t ld, kd_work *w)
{
    PB_CHECK(w->r == r && w->n_ctx == s->n_ctx && ld >= (size_t)s->n_ctx, "kd_student: work for r %d, n_ctx %d",
             w->r, w->n_ctx);
    check_idx(s, idx, n);
    const float beta = expf(-log_tau);
    for (int g0 = 0; g0 < n;) {
        int g1 = group_end(s, idx, n, g0);
        index_keys(s, s->q_win[idx[g0]], s->q_pos[idx[g1 - 1]] + 1, r, wk, w);
        for (int i0 = g0; i0 < g1;) {
            int i1 = chunk_end(s, idx, g1, i0), nc = s->q_pos[idx[i1 - 1]] + 1;
            chunk_scores(s, idx, i0, i1, nc, r, wq, w);
            for (int i = i0; i < i1; i++) {
                int q = idx[i], len = s->q_pos[q] + 1, lo, hi;
                float *o = out + (size_t)i * ld;
                const float *u = w->u + (size_t)(i - i0) * nc;
                const float *a = s->a_logit ? s->a_logit + s->t_off[q] : NULL;
                row_middle(s, q, &lo, &hi);
                for (int j = 0; j < len; j++) o[j] = j >= lo && j < hi ? u[j] * beta : a[j];
                cpu_softmax_rows(o, 1, len);
            }
            i0 = i1;
        }
        g0 = g1;
    }
}
