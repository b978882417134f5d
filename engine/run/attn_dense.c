/* attn_dense.c — the dense policy: exact causal softmax attention.
 *
 * Queries are taken in blocks of ATTN_QBLOCK rows: S = Q_blk K^T (BLAS) over
 * the keys the block can see, scaled, causally masked, soft-maxed row by
 * row, shown to the observer, then O_blk = P V (BLAS). Scratch: one
 * (ATTN_QBLOCK, n_kv) score block. Reads the full cache (c->k, c->v): the
 * plan never puts a dense head on a ring.
 */
#include "run/attention.h"

#include <cblas.h>
#include <math.h>

#include "kernels/ops.h"

size_t attn_scratch_floats(int n_ctx)
{
    return (size_t)ATTN_QBLOCK * (size_t)n_ctx;
}

static long long dense_run(const attn_policy *self, const attn_call *c, const attn_observer *obs, float *s)
{
    (void)self;
    for (int q0 = 0; q0 < c->n_q; q0 += ATTN_QBLOCK) {
        int b = c->n_q - q0 < ATTN_QBLOCK ? c->n_q - q0 : ATTN_QBLOCK;
        int kv_end = c->q_pos0 + q0 + b;      /* keys visible to the block's last row */
        const float *qb = c->q + (long)q0 * c->ldq;
        /* S (b, kv_end) = scale * Q_blk K[0:kv_end]^T (one row, decode: a gemv) */
        if (b == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, kv_end, c->d, c->scale, c->k, c->d, qb, 1, 0.0f, s, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, kv_end, c->d, c->scale, qb, c->ldq,
                        c->k, c->d, 0.0f, s, kv_end);
        for (int i = 0; i < b; i++) {
            float *row = s + (long)i * kv_end;
            int len = c->q_pos0 + q0 + i + 1;
            cpu_softmax_rows(row, 1, len);
            for (int j = len; j < kv_end; j++) row[j] = 0.0f;
        }
        if (obs && obs->on_rows) {
            attn_call sub = *c;
            sub.q_pos0 = c->q_pos0 + q0;
            sub.n_q = b;
            sub.n_kv = kv_end;
            sub.q = qb;
            if (c->q_pre) sub.q_pre = c->q_pre + (long)q0 * c->ldq_pre;
            sub.out = c->out + (long)q0 * c->ldo;
            obs->on_rows(obs->user, &sub, s, kv_end);
        }
        /* O_blk (b, d) = P V[0:kv_end] */
        if (b == 1)
            cblas_sgemv(CblasRowMajor, CblasTrans, kv_end, c->d, 1.0f, c->v, c->d, s, 1, 0.0f,
                        c->out + (long)q0 * c->ldo, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, c->d, kv_end, 1.0f, s, kv_end, c->v, c->d,
                        0.0f, c->out + (long)q0 * c->ldo, c->ldo);
    }
    /* every causally visible pair: sum over i of (q_pos0 + i + 1) */
    return (long long)c->n_q * c->q_pos0 + (long long)c->n_q * (c->n_q + 1) / 2;
}

const attn_policy attn_dense = {.name = "dense", .run = dense_run};
