/* attn_oracle.c — the oracle selectors `topk-oracle` and `topp-oracle`: the
 * upper bound any indexer can reach, since they select with the exact
 * attention probabilities.
 *
 * For a query at position p: P = softmax(scale · q K[0..p]^T) (exact),
 * pooled into blocks of g positions (mass of block u = sum of P over it);
 * the sink and local-window blocks are always kept (keep_forced); top-p adds
 * the smallest set of blocks by decreasing mass whose mass reaches p, top-k
 * the k heaviest other blocks (k = ceil(budget / g)). Then exact attention
 * runs over the kept blocks only (sparse_attend), so the output is the
 * softmax restricted to them. Needs a full cache. The row loop is the
 * toolkit's select_attend; this file supplies the exact scorer.
 */
#include "policy/attn_sparse.h"

#include <cblas.h>

typedef struct {
    int kind;           /* HEAD_TOPK_ORACLE or HEAD_TOPP_ORACLE */
    plan_params prm;
    int k_units;        /* top-k blocks */
    sparse_work *w;
} oracle_state;

/* Exact scores S (b, kv_end) = scale * Q_blk K[0:kv_end]^T. */
static void oracle_score(void *user, const attn_call *c, int i0, int b, float *s)
{
    (void)user;
    int kv_end = c->q_pos0 + i0 + b;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, kv_end, c->d, c->scale, c->q + (long)i0 * c->ldq, c->ldq,
                c->k, c->d, 0.0f, s, kv_end);
}

static long long oracle_run(const attn_policy *self, const attn_call *c, const attn_observer *obs, float *s)
{
    oracle_state *st = self->state;
    PB_CHECK(c->k, "%s needs a full cache (layer %d head %d)", self->name, c->layer, c->head);
    return select_attend(c, st->w, &st->prm, st->kind == HEAD_TOPP_ORACLE ? SELECT_TOPP : SELECT_TOPK, st->k_units,
                         oracle_score, NULL, obs, s);
}

static void oracle_destroy(attn_policy *self)
{
    oracle_state *st = self->state;
    sparse_work_free(st->w);
    free(st);
    free(self);
}

attn_policy *attn_oracle_new(const plan *p, int kind, int n_ctx)
{
    PB_CHECK(kind == HEAD_TOPK_ORACLE || kind == HEAD_TOPP_ORACLE, "not an oracle kind: %d", kind);
    PB_CHECK(p->prm.block >= 1, "oracle block %d", p->prm.block);
    oracle_state *st = pb_calloc(1, sizeof *st);
    st->kind = kind;
    st->prm = p->prm;
    st->k_units = (p->prm.budget + p->prm.block - 1) / p->prm.block;
    st->w = sparse_work_new(n_ctx, p->head_dim);
    attn_policy *pol = pb_calloc(1, sizeof *pol);
    *pol = (attn_policy){.name = plan_kind_name(kind), .run = oracle_run, .destroy = oracle_destroy, .state = st};
    pol->desc = sparse_desc(&p->prm, kind == HEAD_TOPP_ORACLE ? ATTN_TOPP : ATTN_TOPK);
    return pol;
}
