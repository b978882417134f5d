/* attn_rtpurbo.c — the RTPurbo retrieval-head policy: a low-rank indexer
 * picks the blocks, exact attention runs on them (METHOD.md §2). The row
 * loop is the toolkit's select_attend; this file supplies the scorer.
 *
 * Per query head: W_Q, W_K of (r, d) from the plan, applied to PRE-RoPE q
 * and k. Index keys kx_j = W_K k_pre_j (r floats a position) are cached as
 * keys arrive (on_append). A query at position p scores every visible
 * position, s_j = scale · (W_Q q_pre)·kx_j (scale = 1/sqrt(d), the
 * teacher's; a trained indexer folds any temperature into W_Q), takes the
 * softmax of s over 0..p, pools it into blocks of g positions, keeps the
 * sink and local-window blocks, and adds blocks by top-p (HEAD_RTPURBO: the
 * smallest set by decreasing mass reaching p, and at least kmin blocks:
 * select_rtpurbo) or top-k (HEAD_RTPURBO_TOPK, k = ceil(budget / g)).
 * Exact attention then runs on the kept blocks with the original post-RoPE
 * q, k and v.
 *
 * Anchored top-p. The sink and local blocks are attended whatever the
 * indexer says, so for top-p their scores in s are the exact ones,
 * scale · q_rot·k_rot_j, and only the middle positions between them
 * (forced_middle) carry indexer scores. The indexer thus competes with the
 * head's true sink and recent-token mass instead of its own guess of it: an
 * indexer sees no positions and cannot know how much mass RoPE gives the
 * recent tokens, and its content score for the first token is a poor
 * stand-in for the attention sink (engine/convert/CONVERT.md, "Anchored top-p").
 * The converter trains the indexer on this same row (convert.h). Top-k
 * ignores the forced blocks' mass, so it needs no anchor. The kmin floor
 * covers what remains: an indexer whose ranking is right can still give the
 * needle of a retrieval prompt too little mass to reach p against the
 * exact sink.
 */
#include "policy/attn_sparse.h"

#include <cblas.h>
#include <string.h>

typedef struct {
    int kind;               /* HEAD_RTPURBO or HEAD_RTPURBO_TOPK */
    const float *idx_q, *idx_k; /* the plan's W_Q, W_K (n_layer * n_head, r, d) */
    plan_params prm;
    int r, d, n_head, n_heads, k_units;
    float **kx;             /* [n_layer * n_head] (n_ctx, r) index keys, NULL for other heads */
    float *qx;              /* (ATTN_QBLOCK, r) indexed queries */
    float *ex;              /* (ATTN_QBLOCK, n_ex) exact scores of the forced positions */
    int n_ex;               /* sink positions + local + block + ATTN_QBLOCK */
    sparse_work *w;
} rtp_state;

static void rtp_append(const attn_policy *self, int layer, int head, int kv_head, int pos0, int n,
                       const float *k_pre, const float *k, int ld)
{
    (void)kv_head;
    (void)k;
    rtp_state *st = self->state;
    int i = layer * st->n_head + head;
    if (!st->kx[i]) return;
    /* kx[pos0 .. pos0+n) (n, r) = k_pre (n, d) W_K^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, st->r, st->d, 1.0f, k_pre, ld,
                st->idx_k + (size_t)i * st->r * st->d, st->d, 0.0f, st->kx[i] + (size_t)pos0 * st->r, st->r);
}

/* Rows i0 .. i0+b-1 of the block's scores s (b, kv_end): the positions
 * outside each row's middle get the exact scores. Every row's sink part
 * lies in [0, a) with a the last row's middle start, every row's local part
 * in [h, kv_end) with h the first row's middle end (both ascend with the
 * row's position). */
static void anchor_rows(rtp_state *st, const attn_call *c, int i0, int b, float *s)
{
    const int kv_end = c->q_pos0 + i0 + b, d = c->d;
    int a, h, lo, hi;
    forced_middle(st->prm.block, kv_end - 1, &st->prm, &a, &hi);
    forced_middle(st->prm.block, c->q_pos0 + i0, &st->prm, &lo, &h);
    const int nl = kv_end - h;
    PB_CHECK(a + nl <= st->n_ex, "rtpurbo: %d forced positions for a buffer of %d", a + nl, st->n_ex);
    /* EX (b, a + nl) = scale * Q_blk [K[0:a]; K[h:kv_end]]^T, keys gathered into w->kg */
    float *kg = st->w->kg;
    gather_keys(c, 0, a, kg);
    gather_keys(c, h, kv_end, kg + (size_t)a * d);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, a + nl, d, c->scale, c->q + (long)i0 * c->ldq, c->ldq,
                kg, d, 0.0f, st->ex, a + nl);
    for (int i = 0; i < b; i++) {
        int p = c->q_pos0 + i0 + i;
        forced_middle(st->prm.block, p, &st->prm, &lo, &hi);
        float *row = s + (long)i * kv_end;
        const float *ex = st->ex + (long)i * (a + nl);
        memcpy(row, ex, (size_t)lo * sizeof(float));
        memcpy(row + hi, ex + a + (hi - h), (size_t)(p + 1 - hi) * sizeof(float));
    }
}

/* The indexer's scores of rows i0 .. i0+b-1 (select_attend's scorer), the
 * forced positions anchored with the exact ones for top-p:
 * qx (b, r) = q_pre_blk (b, d) W_Q^T; S (b, kv_end) = scale * qx kx[0:kv_end]^T. */
static void rtp_score(void *user, const attn_call *c, int i0, int b, float *s)
{
    rtp_state *st = user;
    const int r = st->r, hi = c->layer * st->n_head + c->head, kv_end = c->q_pos0 + i0 + b;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, r, c->d, 1.0f, c->q_pre + (long)i0 * c->ldq_pre,
                c->ldq_pre, st->idx_q + (size_t)hi * r * c->d, c->d, 0.0f, st->qx, r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, kv_end, r, c->scale, st->qx, r, st->kx[hi], r, 0.0f, s,
                kv_end);
    if (st->kind == HEAD_RTPURBO) anchor_rows(st, c, i0, b, s);
}

static long long rtp_run(const attn_policy *self, const attn_call *c, const attn_observer *obs, float *s)
{
    rtp_state *st = self->state;
    PB_CHECK(st->kx[c->layer * st->n_head + c->head], "rtpurbo: no indexer for layer %d head %d", c->layer, c->head);
    return select_attend(c, st->w, &st->prm, st->kind == HEAD_RTPURBO ? SELECT_RTPURBO : SELECT_TOPK, st->k_units,
                         rtp_score, st, obs, s);
}

static void rtp_destroy(attn_policy *self)
{
    rtp_state *st = self->state;
    for (int i = 0; i < st->n_heads; i++) free(st->kx[i]);
    free(st->kx);
    free(st->qx);
    free(st->ex);
    sparse_work_free(st->w);
    free(st);
    free(self);
}

attn_policy *attn_rtpurbo_new(const plan *p, int kind, int n_ctx)
{
    PB_CHECK(kind == HEAD_RTPURBO || kind == HEAD_RTPURBO_TOPK, "not an rtpurbo kind: %d", kind);
    PB_CHECK(p->idx_q && p->idx_k && p->rank >= 1, "rtpurbo: the plan has no indexers");
    PB_CHECK(p->prm.block >= 1, "rtpurbo block %d", p->prm.block);
    rtp_state *st = pb_calloc(1, sizeof *st);
    st->kind = kind;
    st->idx_q = p->idx_q;
    st->idx_k = p->idx_k;
    st->prm = p->prm;
    st->r = p->rank;
    st->d = p->head_dim;
    st->n_head = p->n_head;
    st->n_heads = p->n_layer * p->n_head;
    st->k_units = (p->prm.budget + p->prm.block - 1) / p->prm.block;
    st->kx = pb_calloc((size_t)st->n_heads, sizeof(float *));
    for (int i = 0; i < st->n_heads; i++)
        if (p->kind[i] == kind) st->kx[i] = pb_malloc((size_t)n_ctx * st->r * sizeof(float));
    st->qx = pb_malloc((size_t)ATTN_QBLOCK * st->r * sizeof(float));
    st->w = sparse_work_new(n_ctx, st->d);
    int g = p->prm.block;
    st->n_ex = (p->prm.sink + g - 1) / g * g + p->prm.local + g + ATTN_QBLOCK;
    st->ex = pb_malloc((size_t)ATTN_QBLOCK * st->n_ex * sizeof(float));
    attn_policy *pol = pb_calloc(1, sizeof *pol);
    *pol = (attn_policy){.name = plan_kind_name(kind), .run = rtp_run, .on_append = rtp_append,
                         .destroy = rtp_destroy, .state = st};
    pol->desc = sparse_desc(&p->prm, kind == HEAD_RTPURBO ? ATTN_RTPURBO : ATTN_RTPURBO_TOPK);
    pol->desc.rank = p->rank;
    pol->desc.idx_q = p->idx_q;
    pol->desc.idx_k = p->idx_k;
    return pol;
}
