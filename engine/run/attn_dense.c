/* attn_dense.c — the dense policy: exact causal softmax attention.
 *
 * Queries are taken in blocks of ATTN_QBLOCK rows: S = Q_blk K^T (BLAS) over
 * the keys the block can see, scaled, causally masked, soft-maxed row by
 * row, shown to the observer, then O_blk = P V (BLAS). Scratch: one
 * (ATTN_QBLOCK, n_kv) score block. Reads the full cache (c->k, c->v): the
 * plan never puts a dense head on a ring. On a sliding layer (c->window = W)
 * query p sees p-W+1 .. p only: each block's scores start at the first key
 * its first row sees (from 0 when an observer takes the rows, which cover
 * positions from 0).
 */
#include "run/attention.h"

#include <cblas.h>
#include <math.h>

#include "kernels/ops.h"

size_t attn_scratch_floats(int n_ctx)
{
    return (size_t)ATTN_QBLOCK * (size_t)n_ctx;
}

long long attn_visible_pairs(int pos0, int n, int window)
{
    long long all = (long long)n * pos0 + (long long)n * (n + 1) / 2;
    if (!window || pos0 + n <= window) return all;
    long long v = 0;
    for (int p = pos0; p < pos0 + n; p++) v += p + 1 < window ? p + 1 : window;
    return v;
}

static long long dense_run(const attn_policy *self, const attn_call *c, const attn_observer *obs, float *s)
{
    (void)self;
    const int W = c->window, show = obs && obs->on_rows;
    long long kept = 0;
    for (int q0 = 0; q0 < c->n_q; q0 += ATTN_QBLOCK) {
        int b = c->n_q - q0 < ATTN_QBLOCK ? c->n_q - q0 : ATTN_QBLOCK;
        int kv_end = c->q_pos0 + q0 + b;      /* keys visible to the block's last row */
        /* first key any row of a sliding block sees (0 when rows go to an observer) */
        int kv_lo = W && !show && c->q_pos0 + q0 - W + 1 > 0 ? c->q_pos0 + q0 - W + 1 : 0;
        int nk = kv_end - kv_lo;
        const float *qb = c->q + (long)q0 * c->ldq;
        const float *kb = c->k + (long)kv_lo * c->d, *vb = c->v + (long)kv_lo * c->d;
        /* S (b, nk) = scale * Q_blk K[kv_lo:kv_end]^T (one row, decode: a gemv) */
        if (b == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, nk, c->d, c->scale, kb, c->d, qb, 1, 0.0f, s, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, nk, c->d, c->scale, qb, c->ldq,
                        kb, c->d, 0.0f, s, nk);
        for (int i = 0; i < b; i++) {
            float *row = s + (long)i * nk;
            int p = c->q_pos0 + q0 + i;
            int lo = W && p - W + 1 > kv_lo ? p - W + 1 - kv_lo : 0;  /* the row's keys: [lo, hi) of S */
            int hi = p + 1 - kv_lo;
            cpu_softmax_rows(row + lo, 1, hi - lo);
            for (int j = 0; j < lo; j++) row[j] = 0.0f;
            for (int j = hi; j < nk; j++) row[j] = 0.0f;
            kept += hi - lo;
        }
        if (show) {
            attn_call sub = *c;
            sub.q_pos0 = c->q_pos0 + q0;
            sub.n_q = b;
            sub.n_kv = kv_end;
            sub.q = qb;
            if (c->q_pre) sub.q_pre = c->q_pre + (long)q0 * c->ldq_pre;
            sub.out = c->out + (long)q0 * c->ldo;
            obs->on_rows(obs->user, &sub, s, kv_end);
        }
        /* O_blk (b, d) = P V[kv_lo:kv_end] */
        if (b == 1)
            cblas_sgemv(CblasRowMajor, CblasTrans, nk, c->d, 1.0f, vb, c->d, s, 1, 0.0f,
                        c->out + (long)q0 * c->ldo, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, c->d, nk, 1.0f, s, nk, vb, c->d,
                        0.0f, c->out + (long)q0 * c->ldo, c->ldo);
    }
    /* every visible pair: sum over rows of the keys each saw */
    return kept;
}

const attn_policy attn_dense = {.name = "dense", .run = dense_run, .desc = {.kind = ATTN_DENSE}};
